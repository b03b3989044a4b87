"""Refusals over HTTP exactly as INTERFACES.md gives them — ``{"error", "message", "details"}``
with 401, 403, 404, 409 (``transition_not_allowed`` with the allowed triggers,
``version_conflict``), 413, 422 (``invalid_input`` naming each bad field) and 429 — and nothing
changes on a refused request. Sign-in: every attempt recorded, tokens stored only as hashes,
expiry and revocation, failures limited per user and per address (with ``Retry-After``).
"""

import hashlib
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import api_support
import httpx
import pytest
from api_support import (
    PASSWORD,
    ApiClient,
    ApiEnv,
    client_for,
    count,
    error_of,
    live_server,
    password_hash,
    sha256,
    sign_in,
    signin_rows,
    snapshot,
)
from helpers import (
    enterprise_fields,
    evidence_files,
    site_fields,
    standard_actors,
    tiny_png,
    walk_enterprise_to,
    walk_site_to,
)
from sqlalchemy import select

from caseflow.app import App
from cases.auth import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_USER
from cases.models import ApiToken, Case, CaseEvent, EvidenceFile, SignInAttempt
from workflow.clock import FixedClock

api_env = api_support.api_env
"""The module-scoped served app, once per database (``api_support``)."""
E, S = "enterprise_issue", "scattered_polluting"


@pytest.fixture(scope="module")
def office(api_env: ApiEnv) -> ApiClient:
    return api_env.client("err_office", "sti", ("dispatcher", "collector"))


@pytest.fixture(scope="module")
def power(api_env: ApiEnv) -> ApiClient:
    return api_env.client("err_power", "power", ("handler",))


@pytest.fixture
def assigned(api_env: ApiEnv) -> str:
    """A new enterprise problem assigned to 市供电公司 (made through the service)."""
    app = api_env.app
    number = app.cases.create(E, standard_actors(app).dispatcher, enterprise_fields())["number"]
    walk_enterprise_to(app, number, "assigned")
    return str(number)


@pytest.fixture
def clearing(api_env: ApiEnv) -> str:
    number = str(api_env.app.cases.create(S, standard_actors(api_env.app).dispatcher, site_fields())["number"])
    walk_site_to(api_env.app, number, "clearing")
    return number


@pytest.fixture
def moved_clock(api_env: ApiEnv) -> Iterator[FixedClock]:
    """The module's clock, put back where it was after the test."""
    at = api_env.clock.now()
    try:
        yield api_env.clock
    finally:
        api_env.clock.set(at)


def unchanged(api_env: ApiEnv, number: str) -> "Unchanged":
    return Unchanged(api_env.app, number)


class Unchanged:
    """``with unchanged(env, number): ...`` — the case, its version, its history and the counts
    of cases, events and evidence rows are the same after the block."""

    def __init__(self, app: App, number: str) -> None:
        self.app, self.number = app, number

    def _state(self) -> tuple[Any, ...]:
        return (
            snapshot(self.app, self.number),
            count(self.app, Case),
            count(self.app, CaseEvent),
            count(self.app, EvidenceFile),
        )

    def __enter__(self) -> None:
        self.before = self._state()

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            assert self._state() == self.before, "a refused request changed something"


# --- 401 -------------------------------------------------------------------------------------


def _operations(api_env: ApiEnv, number: str) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document with its path parameters filled in."""
    with api_env.anonymous() as anon:
        document = anon.get("/api/openapi.json").json()
    values = {"number": number, "trigger": "accept", "item": "cut_water", "sha256": "0" * 64, "year": "2026",
              "notification_id": "1", "case_type": E, "username": "office", "job_id": "a" * 16, "decision": "waive",
              "week": "2026-W49"}  # fmt: skip
    operations = []
    for path, methods in document["paths"].items():
        filled = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
        for method in methods:
            operations.append((method.upper(), filled))
    return operations


def test_every_operation_but_sign_in_needs_a_token(api_env: ApiEnv, assigned: str) -> None:
    operations = _operations(api_env, assigned)
    assert len(operations) >= 20
    open_ones = {("POST", "/api/auth/token"), ("GET", "/api/health")}
    with unchanged(api_env, assigned), api_env.anonymous() as anon:
        for method, path in operations:
            if (method, path) in open_ones:
                continue
            for headers in (
                {},
                {"Authorization": "Bearer " + secrets.token_urlsafe(32)},
                {"Authorization": "Basic b2ZmaWNlOng="},
            ):
                response = anon.request(method, path, headers=headers, json={} if method == "POST" else None)
                error_of(response, 401, "not_authenticated")
                assert response.headers.get("www-authenticate") == "Bearer", (method, path)


def test_expired_token_is_401_and_changes_nothing(api_env: ApiEnv, assigned: str, moved_clock: FixedClock) -> None:
    api_env.user("err_expiring", "power", ("handler",))
    response = sign_in(api_env.url, "err_expiring")
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "bearer"
    expires_at = token["expires_at"]
    client = ApiClient(base_url=api_env.url, headers={"Authorization": f"Bearer {token['access_token']}"}, verify=False)
    with client:
        assert client.get(f"/api/cases/{assigned}").status_code == 200
        from datetime import datetime

        moved_clock.set(datetime.fromisoformat(expires_at) - timedelta(seconds=1))
        assert client.get(f"/api/cases/{assigned}").status_code == 200, "valid until expires_at"
        moved_clock.set(datetime.fromisoformat(expires_at))
        with unchanged(api_env, assigned):
            body = error_of(client.act(assigned, "accept"), 401, "not_authenticated")
            assert "过期" in body["message"]
            error_of(client.get(f"/api/cases/{assigned}"), 401, "not_authenticated")


def test_revoked_token_is_401(api_env: ApiEnv, assigned: str) -> None:
    client = client_for(api_env.url, api_env.user("err_revoking", "power", ("handler",)))
    other = client_for(api_env.url, "err_revoking")  # a second sign-in: a second token
    with client, other:
        assert client.post("/api/auth/revoke").status_code == 204
        with unchanged(api_env, assigned):
            body = error_of(client.act(assigned, "accept"), 401, "not_authenticated")
            assert "注销" in body["message"]
        error_of(client.get("/api/me"), 401, "not_authenticated")
        # revoking one token leaves the user's other sign-ins alone
        assert other.get("/api/me").json()["username"] == "err_revoking"


def test_wrong_password_and_unknown_user_are_the_same_401(api_env: ApiEnv) -> None:
    api_env.user("err_victim", "power", ("handler",))
    wrong = sign_in(api_env.url, "err_victim", "Wrong-Password-1!")
    unknown = sign_in(api_env.url, "err_nobody", "Wrong-Password-1!")
    assert error_of(wrong, 401, "not_authenticated") == error_of(unknown, 401, "not_authenticated")
    bad = error_of(sign_in(api_env.url, "", ""), 422, "invalid_input")
    assert set(bad["details"]["fields"]) == {"username", "password"}


def test_a_deactivated_user_loses_its_tokens_and_is_told_why_it_cannot_sign_in(api_env: ApiEnv, assigned: str) -> None:
    client = client_for(api_env.url, api_env.user("err_leaving", "power", ("handler",)))
    with client:
        assert client.get(f"/api/cases/{assigned}").status_code == 200
        assert api_env.app.users.set_active("err_leaving", False)["revoked_tokens"] == 1
        with unchanged(api_env, assigned):
            error_of(client.act(assigned, "accept"), 401, "not_authenticated")
        body = error_of(sign_in(api_env.url, "err_leaving"), 401, "account_disabled")
        assert "账号已停用" in body["message"]
        # a wrong password does not reveal that the account exists and is deactivated
        wrong = error_of(sign_in(api_env.url, "err_leaving", "Wrong-Password-1!"), 401, "not_authenticated")
        assert "停用" not in wrong["message"]
        api_env.app.users.set_active("err_leaving", True)
        assert sign_in(api_env.url, "err_leaving").status_code == 200


# --- sign-in records, token storage ----------------------------------------------------------


def test_every_sign_in_is_recorded_and_tokens_are_stored_only_as_hashes(api_env: ApiEnv) -> None:
    app = api_env.app
    api_env.user("err_recorded", "water", ("handler",))
    before = signin_rows(app)
    ok = sign_in(api_env.url, "err_recorded")
    failed = sign_in(api_env.url, "err_recorded", "Not-The-Password-9")
    nobody = sign_in(api_env.url, "err_ghost", "Not-The-Password-9")
    assert (ok.status_code, failed.status_code, nobody.status_code) == (200, 401, 401)
    assert signin_rows(app)[len(before):] == [
        ("err_recorded", "127.0.0.1", True), ("err_recorded", "127.0.0.1", False), ("err_ghost", "127.0.0.1", False),
    ]  # fmt: skip

    token = ok.json()["access_token"]
    assert len(token) >= 32
    with app.db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(ApiToken.__table__))]
    mine = [r for r in rows if r["token_hash"] == hashlib.sha256(token.encode()).hexdigest()]
    assert len(mine) == 1 and mine[0]["username"] == "err_recorded" and mine[0]["revoked_at"] is None
    assert all(token not in str(value) for row in rows for value in row.values())
    if api_env.is_sqlite:
        app.db.dispose()  # flush the write-ahead log into the file
        path = Path(api_env.database_url.removeprefix("sqlite:///"))
        for file in (path, path.with_name(path.name + "-wal")):
            if file.exists():
                assert token.encode() not in file.read_bytes(), f"the raw token is in {file.name}"
    # the password is not stored either
    with app.db.read() as conn:
        for row in conn.execute(select(SignInAttempt.__table__)):
            assert PASSWORD not in str(tuple(row))


def test_a_user_added_with_a_password_signs_in_and_weak_passwords_are_refused(api_env: ApiEnv) -> None:
    """``users.add(password=...)`` — the product's own (slow) hashing — and the minimum strength."""
    app = api_env.app
    app.users.add("err_real_hash", "power", ["handler"], password="Str0ng-Enough-Pw")
    assert sign_in(api_env.url, "err_real_hash", "Str0ng-Enough-Pw").status_code == 200
    assert sign_in(api_env.url, "err_real_hash", "str0ng-enough-pw").status_code == 401
    admin = api_env.client("err_admin", "sti", ("admin",))
    users_before = len(admin.get("/api/users").json())
    for weak in ("short1A!", "alllowercaseletters", "NoDigitsOrSymbols"):
        response = admin.post(
            "/api/users", json={"username": "err_weak", "department": "power", "roles": ["handler"], "password": weak}
        )
        body = error_of(response, 422, "invalid_input")
        assert list(body["details"]["fields"]) == ["password"]
    assert len(admin.get("/api/users").json()) == users_before


# --- 403, 404 ---------------------------------------------------------------------------------


def test_403_says_why_and_changes_nothing(api_env: ApiEnv, assigned: str) -> None:
    head = api_env.client("err_power_head", "power", ("unit_head",))
    with unchanged(api_env, assigned):
        body = error_of(head.act(assigned, "accept"), 403, "permission_denied")
        assert "主办单位的经办人" in body["message"]
        assert body["details"] == {"trigger": "accept", "state": "assigned"}


def test_404_for_unknown_cases_files_and_paths(api_env: ApiEnv, office: ApiClient) -> None:
    for path in (
        "/api/cases/QY-2026-99999",
        "/api/cases/999999",
        "/api/cases/QY-2026-99999/history",
        f"/api/evidence/{'a' * 64}",
    ):
        error_of(office.get(path), 404, "not_found")
    error_of(office.act("QY-2026-99999", "assign", {"lead_unit": "power"}), 404, "not_found")
    error_of(office.get("/api/no-such-thing"), 404, "not_found")


# --- 409 --------------------------------------------------------------------------------------


def test_transition_not_allowed_lists_what_the_caller_may_do(api_env: ApiEnv, assigned: str, power: ApiClient) -> None:
    with unchanged(api_env, assigned):
        response = power.act(assigned, "answer", {"result": "resolved", "reply": "x", "signed_by": "y"})
        body = error_of(response, 409, "transition_not_allowed")
        assert body["details"] == {"trigger": "answer", "state": "assigned", "allowed": ["accept", "return"]}
        assert body["details"]["allowed"] == power.case(assigned)["allowed_triggers"]
        for name in ("answer", "accept", "return"):
            assert name in body["message"]


def test_transition_not_allowed_for_the_office_matches_its_allowed_triggers(
    api_env: ApiEnv, assigned: str, office: ApiClient
) -> None:
    shown = office.case(assigned)["allowed_triggers"]
    assert set(shown) == {"reassign", "supervise", "list"}
    body = error_of(office.act(assigned, "close", {"satisfaction": "满意"}), 409, "transition_not_allowed")
    assert body["details"]["allowed"] == shown


def test_stale_expected_version_is_a_version_conflict(
    api_env: ApiEnv, assigned: str, power: ApiClient, clearing: str
) -> None:
    version = power.case(assigned)["version"]
    with unchanged(api_env, assigned):
        body = error_of(power.act(assigned, "accept", expected_version=version - 1), 409, "version_conflict")
        assert body["details"] == {"case": assigned, "expected_version": version - 1, "actual_version": version}
    water = api_env.client("err_water", "water", ("handler",))
    current = water.case(clearing)["version"]
    with unchanged(api_env, clearing):
        response = water.item(
            clearing, "cut_water", files=[("p.png", tiny_png(5), "image/png")], expected_version=current + 1
        )
        assert error_of(response, 409, "version_conflict")["details"]["actual_version"] == current
    assert power.act(assigned, "accept", expected_version=version).status_code == 200


# --- 413 --------------------------------------------------------------------------------------


@pytest.fixture
def small_uploads(api_env: ApiEnv) -> Iterator[int]:
    limit = 2000
    saved = api_env.app.evidence.max_bytes
    api_env.app.evidence.max_bytes = limit
    try:
        yield limit
    finally:
        api_env.app.evidence.max_bytes = saved


def big_png(size: int) -> bytes:
    png = tiny_png(9)
    return png + b"\0" * (size - len(png))


def test_upload_over_the_limit_is_413_and_stores_nothing(api_env: ApiEnv, clearing: str, small_uploads: int) -> None:
    water = api_env.client("err_water", "water", ("handler",))
    files_before = evidence_files(api_env.data_dir)
    with unchanged(api_env, clearing):
        response = water.item(clearing, "cut_water", files=[("big.png", big_png(small_uploads + 1), "image/png")])
        body = error_of(response, 413, "payload_too_large")
        assert body["details"] == {"limit_bytes": small_uploads}
        # one file within the limit and one over it: still nothing
        response = water.item(
            clearing,
            "cut_water",
            files=[("ok.png", tiny_png(6), "image/png"), ("big.png", big_png(small_uploads * 3), "image/png")],
        )
        error_of(response, 413, "payload_too_large")
    assert evidence_files(api_env.data_dir) == files_before
    ok = water.item(clearing, "cut_water", files=[("ok.png", big_png(small_uploads), "image/png")])
    assert ok.status_code == 200, ok.text


def test_413_message_states_the_real_limit(api_env: ApiEnv, clearing: str, small_uploads: int) -> None:
    water = api_env.client("err_water", "water", ("handler",))
    body = error_of(
        water.item(clearing, "cut_water", files=[("big.png", big_png(small_uploads + 1), "image/png")]),
        413,
        "payload_too_large",
    )
    assert "0 MB" not in body["message"]


def test_a_declared_body_over_the_server_limit_is_refused_before_it_is_read(tmp_path: Path, database_url: str) -> None:
    """The server-wide body limit (ten files' worth plus framing), from ``Content-Length``."""
    from helpers import build_app

    app = build_app(database_url, tmp_path / "data")
    app.migrate()
    app.evidence.max_bytes = 1000
    app.users.add("big_sender", "water", ["handler"], password_hash=password_hash())
    try:
        with live_server(app) as url:
            client = client_for(url, "big_sender")
            with client:
                declared = 1000 * 10 + 1024 * 1024 + 1
                response = client.post(
                    "/api/cases/SLW-2026-00001/items/cut_water",
                    content=b"x" * declared,
                    headers={"Content-Type": "multipart/form-data; boundary=b"},
                )
                body = error_of(response, 413, "payload_too_large")
                assert body["details"]["limit_bytes"] == declared - 1
    finally:
        app.close()


# --- 422 --------------------------------------------------------------------------------------


def test_invalid_credit_codes_name_the_rule_and_store_nothing(api_env: ApiEnv, office: ApiClient) -> None:
    cases_before = count(api_env.app, Case)
    for code, rule in (
        ("914403001922038217", "校验位"),  # DOMAIN.md §7: wrong check character
        ("91340600MA2PBM9HXO", "第18位“O”不是允许的字符"),  # the letter O
        ("9134060", "应为18位"),
        ("Z13406001922038216", "第1位“Z”"),
    ):
        response = office.post("/api/cases", json={"type": E, "fields": enterprise_fields(uscc=code)})
        body = error_of(response, 422, "invalid_input")
        assert list(body["details"]["fields"]) == ["uscc"], body
        assert rule in body["details"]["fields"]["uscc"], body
    assert count(api_env.app, Case) == cases_before
    # valid codes, also lower-case with spaces
    for code in ("914403001922038216", "91340600ma2pbm9hxd ", " 9134 0600 MA2P BM9H XD"):
        response = office.post("/api/cases", json={"type": E, "fields": enterprise_fields(uscc=code)})
        assert response.status_code == 201, response.text
        assert response.json()["fields"]["uscc"] == code.replace(" ", "").upper()


def test_422_names_every_bad_field_at_once(api_env: ApiEnv, office: ApiClient) -> None:
    cases_before = count(api_env.app, Case)
    fields = enterprise_fields(
        uscc="914403001922038217", category="其它问题", town="power", bogus="x", title=["不是文本"]
    )
    del fields["description"]
    body = error_of(office.post("/api/cases", json={"type": E, "fields": fields}), 422, "invalid_input")
    named = body["details"]["fields"]
    assert set(named) == {"uscc", "category", "town", "bogus", "title", "description"}, named
    assert "缺少" in named["description"] and "不接受" in named["bogus"] and "文本" in named["title"]
    for name in named:
        assert name in body["message"]
    # missing everything: each required field named
    body = error_of(office.post("/api/cases", json={"type": E, "fields": {}}), 422, "invalid_input")
    assert set(body["details"]["fields"]) == {"title", "description", "category", "enterprise_name", "uscc", "town"}
    assert count(api_env.app, Case) == cases_before


def test_422_for_malformed_requests(api_env: ApiEnv, office: ApiClient, assigned: str) -> None:
    """Wrong JSON types, unknown keys and bad headers are named by field, with stable codes."""
    with unchanged(api_env, assigned):
        cases = [
            ({"type": E, "fields": "title=x"}, {"fields"}),
            ({"type": E, "fields": {}, "extra": 1}, {"extra"}),
            ({"fields": {}}, {"type"}),
            ({"type": ["x"], "fields": {}}, {"type"}),
        ]
        for body, names in cases:
            got = error_of(office.post("/api/cases", json=body), 422, "invalid_input")
            assert set(got["details"]["fields"]) == names, got
        got = error_of(
            office.post(f"/api/cases/{assigned}/actions/reassign", json={"fields": {}, "expected_version": "two"}),
            422,
            "invalid_input",
        )
        assert set(got["details"]["fields"]) == {"expected_version"}
        got = error_of(
            office.post(
                f"/api/cases/{assigned}/actions/reassign",
                content=b"{not json",
                headers={"Content-Type": "application/json"},
            ),
            422,
            "invalid_input",
        )
        got = error_of(
            office.act(assigned, "reassign", {"lead_unit": "nowhere", "reason": "x", "days": "many"}),
            422,
            "invalid_input",
        )
        assert set(got["details"]["fields"]) == {"lead_unit", "days"}
        got = error_of(office.act(assigned, "reassign", {}), 422, "invalid_input")
        assert set(got["details"]["fields"]) == {"lead_unit", "reason"}
        got = error_of(office.act(assigned, "no_such_trigger"), 422, "invalid_input")
        assert set(got["details"]["fields"]) == {"trigger"}
        got = error_of(
            office.get("/api/cases", params={"page": 0, "page_size": 100000, "state": "nowhere"}), 422, "invalid_input"
        )
        assert {"page", "page_size"} <= set(got["details"]["fields"])
        got = error_of(office.get("/api/cases", params={"state": "nowhere"}), 422, "invalid_input")
        assert set(got["details"]["fields"]) == {"state"}


def test_422_for_bad_item_requests_and_file_names_never_reach_the_file_system(api_env: ApiEnv, clearing: str) -> None:
    water = api_env.client("err_water", "water", ("handler",))
    power = api_env.client("err_power", "power", ("handler",))
    with unchanged(api_env, clearing):
        body = error_of(
            water.item(clearing, "cut_water", files=[("notes.txt", b"just text", "text/plain")]), 422, "invalid_input"
        )
        assert set(body["details"]["fields"]) == {"evidence"} and "类型不允许" in body["details"]["fields"]["evidence"]
        body = error_of(water.item(clearing, "cut_water"), 422, "invalid_input")  # evidence is required
        assert set(body["details"]["fields"]) == {"evidence"}
        response = water.post(f"/api/cases/{clearing}/items/cut_water", data={"fields": "{not json"},
                              files=[("evidence", ("p.png", tiny_png(7), "image/png"))])  # fmt: skip
        assert set(error_of(response, 422, "invalid_input")["details"]["fields"]) == {"fields"}
        body = error_of(
            power.item(clearing, "cut_power", {"meter_reading": "lots"}, files=[("p.png", tiny_png(8), "image/png")]),
            422,
            "invalid_input",
        )
        assert set(body["details"]["fields"]) == {"meter_reading"}
        body = error_of(
            power.item(clearing, "cut_power", {}, files=[("p.png", tiny_png(8), "image/png")]), 422, "invalid_input"
        )
        assert set(body["details"]["fields"]) == {"meter_reading"}
        body = error_of(
            water.item(clearing, "no_such_item", files=[("p.png", tiny_png(8), "image/png")]), 422, "invalid_input"
        )
        assert set(body["details"]["fields"]) == {"item"}
    hostile = "../../../../tmp/caseflow-escape.png"
    content = tiny_png(31337)
    response = water.item(clearing, "cut_water", files=[(hostile, content, "image/png")])
    assert response.status_code == 200, response.text
    stored = evidence_files(api_env.data_dir)
    digest = sha256(content)
    assert api_env.data_dir / "evidence" / digest[:2] / digest[2:] in stored
    assert all(re.fullmatch(r"[0-9a-f]{62}", p.name) and re.fullmatch(r"[0-9a-f]{2}", p.parent.name) for p in stored)
    assert not Path("/tmp/caseflow-escape.png").exists()
    download = water.get(f"/api/evidence/{digest}")
    assert download.headers["content-disposition"] == "inline; filename*=UTF-8''caseflow-escape.png"


def test_a_tampered_evidence_file_is_never_served(api_env: ApiEnv, clearing: str) -> None:
    """The API answers 500 ``evidence_corrupted`` in Chinese, the page an error page; neither
    sends the forged bytes."""
    app = api_env.app
    water = api_env.client("err_water", "water", ("handler",))
    content = tiny_png(4242)
    assert water.item(clearing, "cut_water", files=[("断水.png", content, "image/png")]).status_code == 200
    digest = sha256(content)
    assert water.get(f"/api/evidence/{digest}").content == content
    forged = content[:-4] + b"EVIL"
    (api_env.data_dir / "evidence" / digest[:2] / digest[2:]).write_bytes(forged)

    body = error_of(water.get(f"/api/evidence/{digest}"), 500, "evidence_corrupted")
    assert "损坏或被篡改" in body["message"]
    assert body["details"] == {"sha256": digest, "actual_sha256": sha256(forged)}
    session = app.auth.sign_in("err_water", PASSWORD, "127.0.0.1", "web").value
    with httpx.Client(base_url=api_env.url, cookies={"caseflow_session": session}, timeout=30) as browser:
        page = browser.get(f"/evidence/{digest}")
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "损坏或被篡改" in page.text and b"EVIL" not in page.content
    with api_env.anonymous() as anon:
        documented = anon.get("/api/openapi.json").json()["paths"]["/api/evidence/{sha256}"]["get"]["responses"]
    assert "500" in documented


# --- 429 --------------------------------------------------------------------------------------


@pytest.fixture
def proxied(app: App) -> Iterator[str]:
    """A server that takes the client address from X-Forwarded-For (as behind a proxy)."""
    for name in ("rl_alice", "rl_bob", *(f"rl_user{i}" for i in range(6))):
        app.users.add(name, "power", ["handler"], password_hash=password_hash())
    with live_server(app, proxy_headers=True) as url:
        yield url


def attempt(url: str, user: str, address: str, password: str = PASSWORD) -> httpx.Response:
    return sign_in(url, user, password, **{"X-Forwarded-For": address})


def test_too_many_failures_per_user_is_429_with_retry_after(app: App, clock: FixedClock, proxied: str) -> None:
    for _ in range(MAX_FAILURES_PER_USER):
        error_of(attempt(proxied, "rl_alice", "10.0.0.1", "Wrong-Password-1"), 401, "not_authenticated")
    rows = signin_rows(app)
    blocked = attempt(proxied, "rl_alice", "10.0.0.1")  # even the right password now
    body = error_of(blocked, 429, "too_many_attempts")
    retry = int(blocked.headers["retry-after"])
    assert 0 < retry <= 15 * 60 and body["details"]["retry_after"] == retry
    # per user: from another address too
    error_of(attempt(proxied, "rl_alice", "10.0.0.2"), 429, "too_many_attempts")
    # another user from the same address is not affected
    assert attempt(proxied, "rl_bob", "10.0.0.1").status_code == 200
    assert signin_rows(app)[: len(rows)] == rows
    assert rows == [("rl_alice", "10.0.0.1", False)] * MAX_FAILURES_PER_USER
    # once the window has passed (the clock moved by Retry-After), alice signs in again
    clock.advance(timedelta(seconds=retry))
    assert attempt(proxied, "rl_alice", "10.0.0.1").status_code == 200
    assert signin_rows(app)[-1] == ("rl_alice", "10.0.0.1", True)


def test_too_many_failures_per_address_is_429(app: App, clock: FixedClock, proxied: str) -> None:
    users = [f"rl_user{i}" for i in range(6)]
    failures = 0
    for user in users:  # fewer failures per user than the user limit, many from the address
        for _ in range(MAX_FAILURES_PER_USER - 1):
            if failures == MAX_FAILURES_PER_ADDRESS:
                break
            error_of(attempt(proxied, user, "10.9.9.9", "Wrong-Password-1"), 401, "not_authenticated")
            failures += 1
    assert failures == MAX_FAILURES_PER_ADDRESS
    blocked = attempt(proxied, "rl_bob", "10.9.9.9")
    error_of(blocked, 429, "too_many_attempts")
    assert int(blocked.headers["retry-after"]) > 0
    # the same user from another address is fine: the limit was the address's
    assert attempt(proxied, "rl_bob", "10.1.1.1").status_code == 200
    from_there = [r for r in limited_rows(app) if r[1] == "10.9.9.9"]
    assert sum(1 for r in from_there if not r[2] and not r[3]) == MAX_FAILURES_PER_ADDRESS
    assert [r for r in from_there if r[3]] == [("rl_bob", "10.9.9.9", False, True)]  # the 429, recorded


def limited_rows(app: App) -> list[tuple[str, str, bool, bool]]:
    with app.db.read() as conn:
        rows = conn.execute(
            select(
                SignInAttempt.username, SignInAttempt.address, SignInAttempt.success, SignInAttempt.rate_limited
            ).order_by(SignInAttempt.id)
        ).all()
    return [(r[0], r[1], bool(r[2]), bool(r[3])) for r in rows]


def test_attempts_refused_with_429_are_recorded_but_never_extend_the_limit(
    app: App, clock: FixedClock, proxied: str
) -> None:
    for _ in range(MAX_FAILURES_PER_USER):
        error_of(attempt(proxied, "rl_alice", "10.0.0.1", "Wrong-Password-1"), 401, "not_authenticated")
    first = attempt(proxied, "rl_alice", "10.0.0.1")
    retry = int(error_of(first, 429, "too_many_attempts")["details"]["retry_after"])
    before = limited_rows(app)
    assert before[-1] == ("rl_alice", "10.0.0.1", False, True)  # the refused attempt is in the log
    # hammering the blocked account later in the window, from many addresses: every attempt is
    # recorded (flagged), none counts as a failure of the user or of an address
    clock.advance(timedelta(seconds=retry - 60))
    addresses = [f"10.0.1.{i}" for i in range(MAX_FAILURES_PER_ADDRESS + 1)]
    for address in [*addresses, *["10.0.0.1"] * MAX_FAILURES_PER_ADDRESS]:
        error_of(attempt(proxied, "rl_alice", address), 429, "too_many_attempts")
    added = limited_rows(app)[len(before):]
    assert added == [("rl_alice", a, False, True) for a in [*addresses, *["10.0.0.1"] * MAX_FAILURES_PER_ADDRESS]]
    # the address that hammered is not blocked for another user (limited attempts do not count)
    assert attempt(proxied, "rl_bob", "10.0.0.1").status_code == 200
    # the block ends when the real failures leave the window, not later
    clock.advance(timedelta(seconds=59))
    error_of(attempt(proxied, "rl_alice", "10.0.0.1"), 429, "too_many_attempts")
    clock.advance(timedelta(seconds=1))
    assert attempt(proxied, "rl_alice", "10.0.0.1").status_code == 200
    assert limited_rows(app)[-1] == ("rl_alice", "10.0.0.1", True, False)


# --- found by the schema fuzzer (test_api_schema_fuzz.py) -----------------------------------


def test_a_body_that_is_not_utf8_or_not_json_is_422_naming_the_body(api_env: ApiEnv, office: ApiClient) -> None:
    before = count(api_env.app, Case)
    for raw in (b'{"type": "\xe9"}', b"{not json"):
        response = office.post("/api/cases", content=raw, headers={"Content-Type": "application/json"})
        body = error_of(response, 422, "invalid_input")
        assert list(body["details"]["fields"]) == ["body"], body
        assert any("\u4e00" <= ch <= "\u9fff" for ch in body["details"]["fields"]["body"]), body
    assert count(api_env.app, Case) == before


def test_openapi_documents_429_and_413(api_env: ApiEnv) -> None:
    with api_env.anonymous() as anon:
        paths = anon.get("/api/openapi.json").json()["paths"]
    assert "429" in paths["/api/auth/token"]["post"]["responses"]
    assert "413" in paths["/api/cases/{number}/items/{item}"]["post"]["responses"]


def test_evidence_that_is_not_a_file_is_named_in_chinese(api_env: ApiEnv, clearing: str) -> None:
    water = api_env.client("err_water", "water", ("handler",))
    with unchanged(api_env, clearing):
        response = water.post(f"/api/cases/{clearing}/items/cut_water", data={"evidence": "not a file"})
        body = error_of(response, 422, "invalid_input")
        reasons = body["details"]["fields"]
        assert reasons and all(any("\u4e00" <= ch <= "\u9fff" for ch in why) for why in reasons.values()), reasons
