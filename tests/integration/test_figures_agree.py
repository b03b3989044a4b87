"""Issue 11: one source for every figure. After a week of real work over HTTP — a late 签收, a
late 断电, a review the office left lying, a return, a send-back — the same figure is the same
number in the weekly bulletin, the assessment, the API, the command line and the pages, and each
figure's list of obligations has as many entries as the figure says. On SQLite and PostgreSQL."""

import json
import re
from datetime import datetime, timedelta
from typing import Any

import api_support
import httpx
import pytest
from api_support import ApiClient, ApiEnv

from cases.dashboard import Dashboard
from workflow.clock import SHANGHAI

api_env = api_support.api_env
WEEK = "2026-W42"  # Monday 10-12 … Sunday 10-18
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
COUNTED = ("assigned", "accepted", "returned", "done", "completed", "reworks", "overdue_open", "went_overdue",
           "warned", "overdue", "supervised", "listed")  # fmt: skip


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def new_problem(office: ApiClient, title: str) -> str:
    fields = {"title": title, "description": "描述", "category": "生产要素", "enterprise_name": "示例企业",
              "uscc": "91340600MA2PBM9HXD", "town": "kongcheng"}  # fmt: skip
    response = office.post("/api/cases", json={"type": "enterprise_issue", "fields": fields})
    assert response.status_code == 201, response.text
    return str(response.json()["number"])


@pytest.fixture(scope="module")
def worked(api_env: ApiEnv) -> dict[str, ApiClient]:
    spec = {"office": ("sti", ("dispatcher", "collector")), "power": ("power", ("handler",)),
            "water": ("water", ("handler",)), "kongcheng": ("kongcheng", ("handler",)),
            "supervisor": ("gov_office", ("supervisor",))}  # fmt: skip
    for name, (dept, roles) in spec.items():
        api_env.user(f"agree_{name}", dept, roles)
    clock, sweeper = api_env.clock, api_env.app.sweeper

    def signed_in_at(when: str) -> dict[str, ApiClient]:
        """Move the clock, then sign everyone in again (a token lasts hours, the week days); the
        clients are the environment's, closed with it."""
        clock.set(at(when))
        for name in spec:
            old = api_env.clients.pop(f"agree_{name}", None)
            if old is not None:
                old.close()
        return {name: api_env.client(f"agree_{name}") for name in spec}

    people = signed_in_at("2026-10-12T09:00")
    office, power, water, town = people["office"], people["power"], people["water"], people["kongcheng"]
    a, b, c = (new_problem(office, t) for t in ("用电增容", "专变报装", "用水指标"))
    for number, unit in ((a, "power"), (b, "power"), (c, "water")):
        ok(office.act(number, "assign", {"lead_unit": unit, "class": "simple"}))  # 签收 due 10-13
    ok(power.act(a, "accept"))  # on time
    ok(water.act(c, "return", {"reason": "不属于本单位职责"}))
    site = office.post("/api/cases", json={"type": "scattered_polluting", "fields": {
        "site_name": "露天喷漆点", "address": "示例村", "town": "kongcheng", "violations": ["环境违法"]}}).json()["number"]  # fmt: skip
    ok(office.act(site, "start_verification"))
    ok(town.act(site, "submit_findings", {"notes": "无证喷漆"}))
    ok(office.act(site, "classify_ban", {"plan": "依法取缔"}))  # 断电 due in 3wd: 10-15
    people = signed_in_at("2026-10-14T10:00")
    office, power = people["office"], people["power"]
    ok(power.act(b, "accept"))  # late
    ok(power.act(a, "answer", {"result": "resolved", "reply": "已办结", "signed_by": "王经理"}))  # due 10-19
    people = signed_in_at("2026-10-16T10:00")
    office, power = people["office"], people["power"]
    sweeper.sweep()  # 断电 went overdue on 10-16 00:00
    ok(office.act(a, "send_back", {"reason": "答复不完整"}))  # the review was due 10-16: in time
    ok(power.item(site, "cut_power", {"meter_reading": "8"}, files=[("p.png", PNG, "image/png")]))  # late
    people = signed_in_at("2026-10-19T10:00")
    sweeper.sweep()
    return people


def ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


def as_figures(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {u: {k: f[k] for k in (*COUNTED, "on_time_rate", "on_time_accept_rate", "done_on_time")} for u, f in rows.items()}


def test_every_interface_gives_the_same_figures(api_env: ApiEnv, worked: dict[str, ApiClient]) -> None:
    office, supervisor, power = worked["office"], worked["supervisor"], worked["power"]
    service = api_env.app.scoreboard.figures(WEEK)["units"]
    assert service["power"]["accepted"] == 2 and service["power"]["accepted_on_time"] == 1  # B signed late
    assert service["power"]["done"] == 4 and service["power"]["done_on_time"] == 2  # + 断电 late
    assert service["water"]["returned"] == 1 and service["sti"]["done"] >= 4

    api = supervisor.get("/api/reports/figures", params={"period": WEEK})
    assert api.status_code == 200, api.text
    assert as_figures(api.json()["units"]) == as_figures(service)

    score = supervisor.get("/api/reports/score", params={"period": WEEK}).json()
    assert as_figures({r["unit"]: r["figures"] for r in score["rows"]}) == as_figures(service)
    assert score == api_env.app.scoreboard.score(WEEK)

    bulletin = office.get("/api/bulletin", params={"week": WEEK}).json()
    for row in bulletin["rows"]:
        f = service[row["unit"]]
        assert (row["assigned"], row["returned"], row["completed"], row["current_overdue"], row["reworks"]) == (
            f["assigned"], f["returned"], f["completed"], f["overdue_open"], f["reworks"]
        ), row["unit"]  # fmt: skip
        assert row["on_time_rate"] == ("—" if f["on_time_rate"] is None else f"{f['on_time_rate'] * 100:.1f}%")
        assert row["score"] == next(r["score"] for r in score["rows"] if r["unit"] == row["unit"]) or row["score"] == "—"
    assert {r["unit"] for r in bulletin["rows"]} == set(service)

    # each figure lists exactly as many obligations as it counts
    for unit, f in service.items():
        for figure in ("assigned", "returned", "done", "completed", "reworks", "overdue_open", "went_overdue"):
            listed = supervisor.get("/api/reports/obligations", params={"period": WEEK, "unit": unit, "figure": figure})
            assert listed.status_code == 200, listed.text
            assert listed.json()["total"] == f[figure], (unit, figure)
    # a member unit sees its own line only
    own = power.get("/api/reports/score", params={"period": WEEK}).json()
    assert [r["unit"] for r in own["rows"]] == ["power"]
    assert power.get("/api/reports/obligations", params={"period": WEEK, "unit": "water", "figure": "done"}).status_code == 403


def test_the_command_line_and_the_pages_say_the_same(api_env: ApiEnv, worked: dict[str, ApiClient]) -> None:
    from click.testing import CliRunner

    from caseflow.cli import cli

    env = {"CASEFLOW_DATABASE_URL": api_env.database_url, "CASEFLOW_DATA_DIR": str(api_env.data_dir),
           "CASEFLOW_FAKE_NOW": api_env.clock.now().isoformat()}  # fmt: skip
    result = CliRunner().invoke(cli, ["report", "score", "--period", WEEK, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == api_env.app.scoreboard.score(WEEK)

    weeks = Dashboard(api_env.app.db, api_env.app.definitions, api_env.app.clock, api_env.app.calendar.calendar).weeks()
    with httpx.Client(base_url=api_env.url, timeout=30, follow_redirects=False) as browser:
        token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
        assert token
        signed = browser.post("/login", data={"username": "agree_office", "password": api_support.PASSWORD,
                                              "csrf_token": token.group(1), "next": "/dashboard"})  # fmt: skip
        assert signed.status_code == 303, signed.text
        page = browser.get("/dashboard")
        assert page.status_code == 200
        tile = re.search(r'tile-n">([^<]+)</span><span class="tile-l">近12周按期办结率', page.text)
        board = api_env.app.scoreboard.figures(f"{weeks[0][0].isoformat()}~{(weeks[-1][1] - timedelta(days=1)).isoformat()}")
        assert tile and tile.group(1) == f"{board['total']['on_time_rate'] * 100:.1f}%"
        scores = browser.get("/score", params={"period": WEEK}).text
        for row in api_env.app.scoreboard.score(WEEK)["rows"]:
            if row["score"] is not None:
                assert f"<strong>{row['score']}</strong>" in scores, row["unit"]
        listed = browser.get("/obligations", params={"period": WEEK, "unit": "power", "figure": "done"}).text
        done = api_env.app.scoreboard.figures(WEEK)["units"]["power"]["done"]
        assert f"（2026年第42周，{done} 项）" in listed
