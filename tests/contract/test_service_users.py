"""Users: registration is validated (department, roles, name, password), passwords are stored
as Argon2id hashes, and only the right password signs a user in."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import count_rows, new_enterprise_case
from sqlalchemy import select, update

from cases.models import Notification, SignInAttempt, User
from workflow.errors import AccountDisabled, InvalidInput, NotAuthenticated, NotFound, PermissionDenied

GOOD_PASSWORD = "Tongcheng#2026"


def test_add_and_actor(app):
    view = app.users.add(
        "li.ming",
        "市供电公司",
        ["handler", "unit_head"],
        email="li@example.cn",
        phone="+8613800000000",
    )
    assert view["department"] == "power" and view["department_name"] == "市供电公司"
    assert view["roles"] == ["handler", "unit_head"] and view["can_sign_in"] is False
    actor = app.users.actor("li.ming")
    assert (actor.username, actor.department, actor.roles) == (
        "li.ming",
        "power",
        frozenset({"handler", "unit_head"}),
    )
    assert app.users.exists("li.ming") and not app.users.exists("wang")
    with pytest.raises(NotFound):
        app.users.actor("wang")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"department": "火星局"}, "department", id="unknown-department"),
        pytest.param({"roles": ["wizard"]}, "role", id="unknown-role"),
        pytest.param({"roles": []}, "role", id="no-role"),
        pytest.param({"roles": ["handler", "system"]}, "role", id="system-is-no-users-role"),
        pytest.param({"username": "x"}, "username", id="name-too-short"),
        pytest.param({"username": "李明"}, "username", id="name-not-ascii"),
        pytest.param({"username": "../admin"}, "username", id="name-path"),
        pytest.param({"password": "short1A!"}, "password", id="password-too-short"),
        pytest.param({"password": "alllowercaseletters"}, "password", id="password-one-class"),
        pytest.param({"password": "lowercase123456"}, "password", id="password-two-classes"),
        pytest.param({"email": "not-an-address"}, "email", id="bad-email"),
        pytest.param({"phone": "call me"}, "phone", id="bad-phone"),
    ],
)
def test_invalid_registration_is_refused_and_nothing_stored(app, kwargs, field):
    args = {"username": "zhang.wei", "department": "water", "roles": ["handler"], **kwargs}
    with pytest.raises(InvalidInput) as refused:
        app.users.add(args.pop("username"), args.pop("department"), args.pop("roles"), **args)
    assert refused.value.field == field
    assert count_rows(app, User) == 0


def test_duplicate_name_is_refused(app):
    app.users.add("zhang.wei", "water", ["handler"])
    with pytest.raises(InvalidInput) as refused:
        app.users.add("zhang.wei", "gas", ["dispatcher"], password=GOOD_PASSWORD)
    assert refused.value.field == "username"
    assert count_rows(app, User) == 1
    assert app.users.actor("zhang.wei").department == "water"
    assert app.users.authenticate("zhang.wei", GOOD_PASSWORD) is None


def test_password_is_hashed_with_argon2id_and_authenticates(app):
    view = app.users.add("zhao.lei", "sti", ["dispatcher"], password=GOOD_PASSWORD)
    assert view["can_sign_in"] is True and "password" not in view and "password_hash" not in view
    with app.db.read() as conn:
        stored = conn.execute(User.__table__.select()).one().password_hash
    assert stored.startswith("$argon2id$") and GOOD_PASSWORD not in stored
    actor = app.users.authenticate("zhao.lei", GOOD_PASSWORD)
    assert actor is not None and (actor.username, actor.department) == ("zhao.lei", "sti")
    assert app.users.authenticate("zhao.lei", GOOD_PASSWORD.lower()) is None
    assert app.users.authenticate("zhao.lei", "") is None
    assert app.users.authenticate("nobody", GOOD_PASSWORD) is None


def test_same_password_gets_a_different_salt(app):
    app.users.add("user.a", "sti", ["supervisor"], password=GOOD_PASSWORD)
    app.users.add("user.b", "sti", ["supervisor"], password=GOOD_PASSWORD)
    with app.db.read() as conn:
        hashes = [r.password_hash for r in conn.execute(User.__table__.select())]
    assert len(set(hashes)) == 2


def test_user_without_password_cannot_sign_in(app, actors):
    assert app.users.authenticate("dispatcher", "") is None
    assert app.users.authenticate("dispatcher", GOOD_PASSWORD) is None
    assert {u["username"] for u in app.users.all()} >= {
        "dispatcher",
        "power",
        "kongcheng",
        "supervisor",
    }


def test_concurrent_registrations_of_one_name(app, request):
    """Eight sign-ups of the same name at once: one wins, the others are told the name is taken."""
    start = threading.Barrier(8, timeout=60)

    def add(_: int) -> str:
        start.wait()
        try:
            app.users.add("same.name", "water", ["handler"])
        except InvalidInput as refused:
            return f"InvalidInput:{refused.field}"
        except Exception as other:  # what leaks out is the finding
            return type(other).__name__
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        outcomes = Counter(pool.map(add, range(8)))
    assert count_rows(app, User) == 1
    assert outcomes == Counter({"ok": 1, "InvalidInput:username": 7})


# --- deactivation -----------------------------------------------------------------------------


def cheap_hash(password: str) -> str:
    """An Argon2id hash with a low cost: sign-in verifies it with the product's own code."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)


def test_deactivation_revokes_tokens_and_stops_sign_in_and_acting(app):
    app.users.add("leaving", "power", ["handler"], password_hash=cheap_hash(GOOD_PASSWORD))
    api = app.auth.sign_in("leaving", GOOD_PASSWORD, "10.0.0.1", "api")
    web = app.auth.sign_in("leaving", GOOD_PASSWORD, "10.0.0.1", "web")
    assert app.auth.resolve(api.value).username == "leaving"

    view = app.users.set_active("leaving", False)
    assert (view["active"], view["changed"], view["revoked_tokens"]) == (False, True, 2)
    for token in (api, web):
        with pytest.raises(NotAuthenticated):
            app.auth.resolve(token.value)
    with pytest.raises(PermissionDenied, match="已停用"):
        app.users.actor("leaving")
    # the right password: a clear reason; a wrong one: the usual answer (status not revealed)
    with pytest.raises(AccountDisabled, match="账号已停用"):
        app.auth.sign_in("leaving", GOOD_PASSWORD, "10.0.0.1")
    with pytest.raises(NotAuthenticated) as wrong:
        app.auth.sign_in("leaving", "Not-The-Password-1", "10.0.0.1")
    assert type(wrong.value) is NotAuthenticated and "已停用" not in wrong.value.message
    with app.db.read() as conn:
        attempts = conn.execute(
            select(SignInAttempt.success).where(SignInAttempt.username == "leaving").order_by(SignInAttempt.id)
        ).all()
    assert [r[0] for r in attempts] == [True, True, False, False]  # refused sign-ins are recorded

    again = app.users.set_active("leaving", False)
    assert (again["active"], again["changed"], again["revoked_tokens"]) == (False, False, 0)
    back = app.users.set_active("leaving", True)
    assert (back["active"], back["changed"], back["revoked_tokens"]) == (True, True, 0)
    assert app.users.actor("leaving").username == "leaving"
    with pytest.raises(NotAuthenticated):  # revoked tokens stay revoked
        app.auth.resolve(api.value)
    assert app.auth.resolve(app.auth.sign_in("leaving", GOOD_PASSWORD, "10.0.0.1").value).username == "leaving"
    with pytest.raises(NotFound):
        app.users.set_active("nobody_here", False)


def test_a_token_of_a_user_deactivated_afterwards_is_refused_as_disabled(app):
    """Even a token that escaped revocation (issued by a sign-in racing the deactivation)."""
    app.users.add("racing", "power", ["handler"], password_hash=cheap_hash(GOOD_PASSWORD))
    token = app.auth.sign_in("racing", GOOD_PASSWORD, "10.0.0.1")
    with app.db.write() as conn:
        conn.execute(update(User.__table__).where(User.__table__.c.username == "racing").values(active=False))
    with pytest.raises(AccountDisabled):
        app.auth.resolve(token.value)


def test_a_deactivated_user_is_not_chosen_as_a_recipient(app, actors):
    app.users.add("power_leaver", "power", ["handler"])

    def told_of_assignment() -> set[str]:
        number = new_enterprise_case(app)["number"]
        app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "power"})
        with app.db.read() as conn:
            rows = conn.execute(
                select(Notification.recipient).where(
                    Notification.case_number == number, Notification.event == "assigned"
                )
            )
            return {r[0] for r in rows}

    assert {"power", "power_leaver"} <= told_of_assignment()
    app.users.set_active("power_leaver", False)
    told = told_of_assignment()
    assert "power" in told and "power_leaver" not in told  # the active handler of 市供电公司 only
    app.users.set_active("power_leaver", True)
    assert {"power", "power_leaver"} <= told_of_assignment()
