"""Assigning to a unit without an active handler is refused on every interface: the command line
(exit 2, one Chinese line on stderr; ``--json`` the error document), the HTTP API (409
``guard_failed``, like every other guard) and the pages (the form answers 409 with the reason);
nothing changes. The service and the ledger import are in tests/contract/test_staffing.py.

Neither the CLI's template users (cli_support.USERS) nor the standard users (helpers) include a
handler of 市统计局 (statistics) or 市税务局 (tax).
"""

import re
from collections.abc import Iterator

import api_support
import httpx
import pytest
from api_support import PASSWORD, TIMEOUT, ApiClient, ApiEnv, error_of
from cli_support import ENTERPRISE, ENTERPRISE_FIELDS, OFFICE, Cli, assert_error_document, assert_refused, field_args
from helpers import enterprise_fields, standard_actors, walk_enterprise_to

api_env = api_support.api_env

FIX = "caseflow user add 用户名 --department statistics --role handler"


# --- the command line -----------------------------------------------------------------------------


def test_cli_assign_to_a_unit_without_a_handler_exits_2_and_changes_nothing(fresh_db: Cli) -> None:
    cli = fresh_db
    number = cli.json("case", "new", ENTERPRISE, "--as", OFFICE, *field_args(ENTERPRISE_FIELDS))["number"]
    assign = ["case", "advance", number, "assign", "--as", OFFICE]
    results = cli.run_all({
        "lead": [*assign, "--field", "lead_unit=市统计局"],
        "co": [*assign, *field_args({"lead_unit": "市供电公司", "co_units": "ecology,市税务局"})],
        "json": [*assign, "--field", "lead_unit=statistics", "--json"],
    })  # fmt: skip
    line = assert_refused(results["lead"], "市统计局没有在岗的经办人（handler），无法交办", FIX)
    assert results["lead"].stdout == ""
    assert line.count("市统计局") == 1 and "市税务局" not in line
    assert_refused(results["co"], "市税务局没有在岗的经办人（handler）", "--department tax --role handler")
    assert results["json"].returncode == 2
    document = assert_error_document(results["json"], "guard_failed")
    assert document["details"] == {"guard": "unit_staffed", "units": ["statistics"]}
    assert document["message"].startswith("市统计局没有在岗的经办人")
    case = cli.json("case", "show", number, "--as", OFFICE)
    assert (case["state"], case["version"], case["lead_unit"]) == ("registered", 1, None)
    assert len(cli.json("case", "history", number)) == 1

    # the fix the message names, then the same command passes
    cli.ok("user", "add", "stats_clerk", "--department", "statistics", "--role", "handler")
    case = cli.json(*assign, "--field", "lead_unit=市统计局")
    assert (case["state"], case["version"], case["lead_unit"]) == ("assigned", 2, "statistics")


# --- the HTTP API ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def office(api_env: ApiEnv) -> ApiClient:
    return api_env.client("staff_office", "sti", ("dispatcher", "collector"))


def new_case(api_env: ApiEnv, state: str = "registered") -> str:
    app = api_env.app
    number = str(app.cases.create(ENTERPRISE, standard_actors(app).dispatcher, enterprise_fields())["number"])
    walk_enterprise_to(app, number, state)
    return number


def unchanged(office: ApiClient, api_env: ApiEnv, number: str, before: dict) -> None:
    after = office.case(number)
    assert (after["state"], after["version"], after["lead_unit"]) == (
        before["state"], before["version"], before["lead_unit"]
    )  # fmt: skip
    assert len(api_env.app.cases.history(number)) == before["version"]


def test_api_assign_to_a_unit_without_a_handler_is_409_guard_failed(api_env: ApiEnv, office: ApiClient) -> None:
    number = new_case(api_env)
    before = office.case(number)
    body = error_of(office.act(number, "assign", {"lead_unit": "statistics"}), 409, "guard_failed")
    assert body["details"] == {"guard": "unit_staffed", "units": ["statistics"]}
    expected = f"市统计局没有在岗的经办人（handler），无法交办；请系统管理员先为该单位添加经办人账号（{FIX}）"
    assert body["message"] == expected
    body = error_of(office.act(number, "assign", {"lead_unit": "power", "co_units": ["tax"]}), 409, "guard_failed")
    assert body["details"]["units"] == ["tax"] and body["message"].startswith("市税务局没有在岗的经办人")
    unchanged(office, api_env, number, before)
    # a staffed unit passes
    response = office.act(number, "assign", {"lead_unit": "power", "co_units": ["ecology"]})
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "assigned"


def test_api_reassign_to_a_unit_without_a_handler_is_refused(api_env: ApiEnv, office: ApiClient) -> None:
    number = new_case(api_env, "in_progress")
    before = office.case(number)
    response = office.act(number, "reassign", {"lead_unit": "市统计局", "reason": "职责调整"})
    body = error_of(response, 409, "guard_failed")
    assert "无法改派" in body["message"] and body["details"]["guard"] == "unit_staffed"
    unchanged(office, api_env, number, before)


# --- the pages ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(api_env: ApiEnv, office: ApiClient) -> Iterator[httpx.Client]:
    client = httpx.Client(base_url=api_env.url, timeout=TIMEOUT, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    signed = client.post(
        "/login", data={"username": office.username, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"}
    )
    assert signed.status_code == 303, signed.text
    yield client
    client.close()


def test_page_assign_to_a_unit_without_a_handler_shows_the_reason(
    api_env: ApiEnv, office: ApiClient, browser: httpx.Client
) -> None:
    number = new_case(api_env)
    before = office.case(number)
    page = browser.get(f"/cases/{number}")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    response = browser.post(
        f"/cases/{number}/actions/assign", data={"csrf_token": csrf.group(1), "lead_unit": "statistics"}
    )
    assert response.status_code == 409, response.text[:500]
    assert "市统计局没有在岗的经办人（handler），无法交办" in response.text
    unchanged(office, api_env, number, before)
