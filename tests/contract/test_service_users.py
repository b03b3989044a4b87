"""Users: registration is validated (department, roles, name, password), passwords are stored
as Argon2id hashes, and only the right password signs a user in."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import count_rows

from cases.models import User
from workflow.errors import InvalidInput, NotFound

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
