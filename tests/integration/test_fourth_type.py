"""A fourth type that exists only in the tests (``tests/fourth_type.py``: every construct of the
definition vocabulary) served by every interface: the service with its notices, the HTTP API,
the case page, the CLI, the ledger; and adding it leaves the shipped types' ledgers unchanged."""

import io
import re
from contextlib import ExitStack
from datetime import date
from decimal import Decimal

import fourth_type
import httpx
import pytest
from api_support import PASSWORD, TIMEOUT, client_for, live_server, password_hash
from cli_support import Cli, assert_ok, assert_refused, base_env
from helpers import build_app, make_uscc
from openpyxl import load_workbook
from sqlalchemy import select

from cases.models import Notification
from workflow.errors import GuardFailed, NotFound

USCC = make_uscc("91340881MA2N0G8X6")
USERS = {"office": ("sti", ["dispatcher"]), "host": ("sti", ["handler"]), "service": ("enterprise_service", ["handler"]),
         "power": ("power", ["handler"])}  # fmt: skip


def visit(**overrides: str) -> dict[str, str]:
    return {"enterprise_name": "安徽某羽绒制品有限公司", "uscc": USCC, "town": "kongcheng", "topic": "数字化车间诊断",
            "host": "sti", "urgency": "normal", "hours": "3", **overrides}  # fmt: skip


@pytest.fixture()
def app(database_url, data_dir, clock, tmp_path):
    fourth_type.install(tmp_path / "config")
    application = build_app(database_url, data_dir, clock=clock, config_dir=tmp_path / "config")
    try:
        application.migrate()
        for name, (department, roles) in USERS.items():
            application.users.add(name, department, roles, password_hash=password_hash())
        yield application
    finally:
        application.close()


def test_every_construct_works_through_the_service(app) -> None:
    office, host, service, power = (app.users.actor(n) for n in ("office", "host", "service", "power"))
    with pytest.raises(GuardFailed, match="不得超过40小时"):
        app.cases.create(fourth_type.TYPE, office, visit(hours="41"))
    normal = app.cases.create(fourth_type.TYPE, office, visit())
    urgent = app.cases.create(fourth_type.TYPE, office, visit(urgency="urgent", topic="紧急诊断"))
    assert normal["number"].startswith("ZJ-") and normal["fields"]["fee"] == "937.50"
    # the computed clock: 2 working days when urgent, 5 otherwise
    assert date.fromisoformat(urgent["due_date"]) < date.fromisoformat(normal["due_date"])
    with app.db.read() as conn:
        sent = conn.execute(select(Notification.event, Notification.recipient, Notification.body_text)
                            .where(Notification.case_number == normal["number"])).all()  # fmt: skip
    assert {(e, r) for e, r, _ in sent} >= {("visit_scheduled", "host")}
    assert any("数字化车间诊断" in body and normal["due_date"] in body for _, _, body in sent)
    number = normal["number"]
    with pytest.raises(NotFound):  # a unit the case does not concern does not even see it
        app.cases.advance(number, "start", power)
    app.cases.advance(number, "start", host)
    # a fixed department named by an item's actor sees the case and completes its item
    assert app.cases.show(number, service)["state"] == "visiting"
    with pytest.raises(GuardFailed, match="走访记录尚未全部完成"):
        app.cases.advance(number, "report", host, {"notes": "已走访"})
    app.cases.complete_item(number, "site_visit", host)
    app.cases.complete_item(number, "service_note", service)
    app.cases.advance(number, "report", host, {"notes": "已走访"})
    with pytest.raises(GuardFailed, match="不少于20字"):
        app.cases.advance(number, "rate", office, {"score": "50"})
    done = app.cases.advance(number, "rate", office, {"score": "95"})
    assert done["state"] == "done" and done["fields"]["grade"] == "优秀"


def test_the_api_the_case_page_and_the_cli_serve_it(app, tmp_path) -> None:
    with live_server(app) as url, ExitStack() as clients:
        office, host, service = (clients.enter_context(client_for(url, n)) for n in ("office", "host", "service"))
        created = office.post("/api/cases", json={"type": fourth_type.TYPE, "fields": visit()})
        assert created.status_code == 201, created.text
        number = created.json()["number"]
        assert Decimal(created.json()["fields"]["fee"]) == Decimal("937.50")
        refused = office.post("/api/cases", json={"type": fourth_type.TYPE, "fields": visit(hours="41")})
        assert refused.status_code == 409 and "40小时" in refused.text  # refused by a rule, as every guard
        assert host.act(number, "start").status_code == 200
        assert service.case(number)["state"] == "visiting"
        # the case page, as a browser sees it
        with httpx.Client(base_url=url, timeout=TIMEOUT, follow_redirects=False) as browser:
            login = browser.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
            signed = browser.post("/login", data={"username": "office", "password": PASSWORD, "csrf_token": token,
                                                  "next": f"/cases/{number}"})  # fmt: skip
            assert signed.status_code == 303
            page = browser.get(f"/cases/{number}")
            assert page.status_code == 200
            for words in ("专家访企", "专家劳务费（元）", "937.50", "紧急程度", "一般", "走访中", "实地走访", "服务中心登记"):
                assert words in page.text, words
            choice = browser.get("/register")
            assert "专家走访企业：安排 → 走访 → 评分 → 办结" in choice.text
        ledger = office.get("/api/ledger/export", params={"type": fourth_type.TYPE})
        assert ledger.status_code == 200, ledger.text
        sheet = load_workbook(io.BytesIO(ledger.content))[fourth_type.NAME]
        header = [c.value for c in sheet[1]]
        assert "走访主题" in header and "开始走访日期" in header and "实地走访日期" in header
        assert [r[1] for r in sheet.iter_rows(min_row=2, values_only=True)] == [number]
    (tmp_path / "cli").mkdir()
    env = base_env(tmp_path / "cli", app.settings.database_url)
    cli = Cli(tmp_path / "cli", {**env, "CASEFLOW_DATA_DIR": str(app.settings.data_dir),
                                 "CASEFLOW_CONFIG_DIR": str(tmp_path / "config")})  # fmt: skip
    assert "expert_visit（专家访企）" in assert_ok(cli.run("workflow", "check")).stdout
    shown = cli.json("case", "show", number, "--as", "office")
    assert shown["fields"]["fee"] == "937.50"
    assert_refused(cli.run("case", "advance", number, "report", "--as", "host", "--field", "notes=已走访"), "走访记录尚未全部完成")
