"""The technical-upgrade subsidy through the HTTP API and the command line (the service walk is
tests/contract/test_tech_subsidy.py): tier boundaries and classes, refusal at registration,
一事一议, and the case read back with its computed amount. And a type added only in the
configuration leaves the shipped types' figures and pages as they were."""

from contextlib import ExitStack
from decimal import Decimal

import pytest
from api_support import client_for, live_server, password_hash
from cli_support import Cli, assert_ok, assert_refused, base_env

import fourth_type
from helpers import build_app, enterprise_fields, standard_actors

TYPE = "tech_subsidy"
USERS = {"office": ("sti", ["dispatcher", "collector"]), "kongcheng": ("kongcheng", ["handler"]),
         "sti": ("sti", ["handler"]), "statistics": ("statistics", ["handler"]), "finance": ("finance", ["handler"]),
         "mayor": ("gov_office", ["convenor"])}  # fmt: skip


def application(investment: str, mu_class: str = "A") -> dict[str, str]:
    return {"enterprise_name": "安徽某健康防护用品有限公司", "uscc": "91340881MA2N0G8X6M", "town": "kongcheng",
            "project_name": "口罩生产线自动化改造", "investment": investment, "in_statistics": "yes", "mu_class": mu_class}  # fmt: skip


@pytest.fixture()
def served(app):
    for name, (department, roles) in USERS.items():
        app.users.add(name, department, roles, password_hash=password_hash())
    with live_server(app) as url, ExitStack() as stack:
        yield {n: stack.enter_context(client_for(url, n)) for n in USERS}


@pytest.mark.parametrize(
    ("investment", "mu_class", "amount"),
    [("200", "B", "7.00"), ("499.99", "C", "10.00"), ("500", "A", "30.00"), ("999.99", "D", "0.00"),
     ("1000", "B", "49.00"), ("1999.99", "A", "80.00")],
)  # fmt: skip
def test_the_api_computes_each_tier_and_class(served, investment, mu_class, amount) -> None:
    made = served["office"].post("/api/cases", json={"type": TYPE, "fields": application(investment, mu_class)})
    assert made.status_code == 201, made.text
    assert Decimal(made.json()["fields"]["amount"]) == Decimal(amount)


def test_the_api_walks_a_subsidy_and_refuses_what_the_measure_does_not_pay(served) -> None:
    office = served["office"]
    refused = office.post("/api/cases", json={"type": TYPE, "fields": application("199.99")})
    assert refused.status_code == 409 and "不足200万元" in refused.json()["message"]
    number = office.post("/api/cases", json={"type": TYPE, "fields": application("2000")}).json()["number"]
    assert served["kongcheng"].act(number, "pass_town_review").status_code == 200
    for unit, item in (("sti", "sti_review"), ("statistics", "statistics_check")):
        assert served[unit].item(number, item).status_code == 200
    assert office.act(number, "forward_to_finance").json()["state"] == "deliberation"
    decided = served["mayor"].act(number, "decide_amount", {"decided_amount": "150", "notes": "联席会议会商核定"})
    assert decided.status_code == 200 and Decimal(decided.json()["fields"]["amount"]) == Decimal("150.00")
    assert served["finance"].act(number, "approve_subsidy").json()["state"] == "publicity"


def test_the_command_line_registers_and_refuses(app, tmp_path) -> None:
    standard_actors(app)
    (tmp_path / "cli").mkdir()
    cli = Cli(tmp_path / "cli", {**base_env(tmp_path / "cli", app.settings.database_url),
                                 "CASEFLOW_DATA_DIR": str(app.settings.data_dir)})  # fmt: skip
    args = ["case", "new", TYPE, "--as", "collector"]
    fields = [a for k, v in application("1000", "B").items() for a in ("--field", f"{k}={v}")]
    made = cli.json(*args, *fields)
    assert made["number"].startswith("JG-") and made["fields"]["amount"] == "49.00"
    low = [a for k, v in application("199.99").items() for a in ("--field", f"{k}={v}")]
    assert_refused(cli.run(*args, *low), "不足200万元")
    shown = assert_ok(cli.run("case", "show", made["number"], "--as", "dispatcher")).stdout
    assert "补助金额（万元）" in shown and "49.00" in shown and "B类" in shown


def test_a_type_added_in_the_configuration_leaves_the_shipped_figures_and_pages(app, database_url, data_dir, clock, tmp_path) -> None:
    actors = standard_actors(app)
    number = app.cases.create("enterprise_issue", actors.collector, enterprise_fields())["number"]
    app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "power"})
    app.cases.advance(number, "accept", actors.power, {})
    before = (app.scoreboard.figures("2026-W40"), app.scoreboard.score("2026-W40"), app.cases.show(number, actors.dispatcher))
    fourth_type.install(tmp_path / "config")
    wider = build_app(database_url, data_dir, clock=clock, config_dir=tmp_path / "config")
    try:
        after = (wider.scoreboard.figures("2026-W40"), wider.scoreboard.score("2026-W40"), wider.cases.show(number, actors.dispatcher))
        assert fourth_type.TYPE in wider.definitions.types
    finally:
        wider.close()
    assert after == before
