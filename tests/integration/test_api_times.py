"""Every instant the API shows is an ISO 8601 string in Asia/Shanghai (+08:00), never UTC: the
token's ``expires_at``, users' ``created_at``, calendar changes, co-unit sign-offs."""

import re
from datetime import timedelta

import api_support
import pytest
from api_support import PASSWORD, ApiClient, ApiEnv, sign_in
from helpers import enterprise_fields, standard_actors

from cases.views import local

api_env = api_support.api_env
"""The module-scoped served app, once per database (``api_support``)."""
INSTANT = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z))"')


def instants(text: str) -> list[str]:
    return INSTANT.findall(text)


def assert_all_local(text: str) -> None:
    found = instants(text)
    assert found, text
    assert all(at.endswith("+08:00") for at in found), found


@pytest.fixture(scope="module")
def admin(api_env: ApiEnv) -> ApiClient:
    return api_env.client("time_admin", "sti", ("admin", "dispatcher", "supervisor"))


def test_token_expiry_is_shown_in_shanghai(api_env: ApiEnv) -> None:
    api_env.user("time_user", "power", ("handler",))
    response = sign_in(api_env.url, "time_user", PASSWORD)
    assert response.status_code == 200, response.text
    expected = local(api_env.clock.now() + timedelta(hours=8))
    assert response.json()["expires_at"] == expected == "2026-09-30T18:00:00+08:00"


def test_users_are_shown_with_created_at_in_shanghai(api_env: ApiEnv, admin: ApiClient) -> None:
    me = admin.get("/api/me")
    assert me.status_code == 200 and me.json()["created_at"] == "2026-09-30T10:00:00+08:00"
    users = admin.get("/api/users")
    assert users.status_code == 200
    assert_all_local(users.text)


def test_calendar_changes_are_shown_in_shanghai(api_env: ApiEnv, admin: ApiClient) -> None:
    added = admin.post("/api/calendar", json={"date": "2027-01-01", "kind": "holiday", "name": "元旦"})
    assert added.status_code == 200, added.text
    assert added.json()["at"] == "2026-09-30T10:00:00+08:00"
    shown = admin.get("/api/calendar/2027")
    assert shown.status_code == 200
    assert_all_local(shown.text)
    assert [c["at"] for c in shown.json()["changes"]] == ["2026-09-30T10:00:00+08:00"]


def test_co_unit_sign_offs_are_shown_in_shanghai(api_env: ApiEnv) -> None:
    app = api_env.app
    a = standard_actors(app)
    number = app.cases.create("enterprise_issue", a.dispatcher, enterprise_fields())["number"]
    app.cases.advance(number, "assign", a.dispatcher, {"lead_unit": "power", "co_units": ["water"]})
    water = api_env.client("time_water", "water", ("handler",))
    response = water.act(number, "co_accept")
    assert response.status_code == 200, response.text
    assert response.json()["co_units"]["water"]["accepted_at"] == "2026-09-30T10:00:00+08:00"
    assert_all_local(response.text)
    assert_all_local(water.get(f"/api/cases/{number}").text)
