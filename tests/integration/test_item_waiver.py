"""不适用 (not applicable) for checklist items (issue 11): the executor declares an item 不适用 with a
reason, the office approves or rejects; on SQLite and PostgreSQL (the ``app`` fixture), and once
through the ``caseflow`` command line as a user types it.
"""

import pytest
from cli_support import OFFICE, SITE, SITE_FIELDS, TOWN, WATER, assert_ok, assert_refused, field_args
from helpers import complete_open_items, new_site_case, photo, walk_site_to

from cases import audit
from workflow.errors import GuardFailed, InvalidInput, PermissionDenied


def open_obligations(app, number):
    return sorted((o["key"], o["unit"], o["due_date"]) for o in app.cases.show(number)["obligations"] if o["open"])


def item(view, key):
    return next(i for i in view["items"] if i["key"] == key)


def events(app, number):
    return [(e["trigger"], e["payload"].get("item")) for e in app.cases.history(number)]


@pytest.fixture
def clearing(app, actors):
    number = new_site_case(app, actors.kongcheng)["number"]
    walk_site_to(app, number, "clearing", "ban")
    return number


def test_the_water_company_declares_the_cut_not_applicable_and_the_office_approves(app, actors, clearing):
    a, number = actors, clearing
    assert ("cut_water", "water", "2026-10-10") in open_obligations(app, number)
    view = app.cases.decide_item(
        number, "cut_water", "waive", a.water, "该场所使用自备井，无市政供水", evidence=[photo(7)]
    )
    cut = item(view, "cut_water")
    assert (cut["status"], cut["done"], cut["status_label"]) == ("waiver_pending", False, "不适用申请待审批")
    assert cut["waiver"]["reason"] == "该场所使用自备井，无市政供水" and cut["waiver"]["by"] == "water"
    assert len(cut["evidence"]) == 1
    assert "cut_water" not in view["allowed_items"]
    # the water company's obligation is replaced by the office's ruling, due in 1wd
    owed = open_obligations(app, number)
    assert ("waiver:cut_water", "sti", "2026-10-08") in owed
    assert not [o for o in owed if o[0] == "cut_water"]
    assert {"item": "cut_water", "decision": "approve_waiver"} in app.cases.show(number, a.dispatcher)["item_decisions"]
    assert ("waiver:cut_water") in {e["key"] for e in app.cases.todo(a.dispatcher)["items"]}

    view = app.cases.decide_item(number, "cut_water", "approve_waiver", a.dispatcher)
    cut = item(view, "cut_water")
    assert (cut["status"], cut["done"], cut["done_by"]) == ("waived", True, "dispatcher")
    assert cut["status_label"].startswith("不适用（该场所使用自备井，无市政供水，批准人：dispatcher，2026-09-30 10:00")
    assert not [o for o in open_obligations(app, number) if "cut_water" in o[0]]
    closed = {o["key"]: o for o in app.cases.show(number)["obligations"] if not o["open"]}
    assert closed["waiver:cut_water"]["outcome"] == "done" and closed["cut_water"]["outcome"] == "done"

    # an approved 不适用 counts as complete for 两断三清: the town may submit for acceptance
    complete_open_items(app, number, "clearing")
    assert app.cases.advance(number, "submit_clearance", a.kongcheng)["state"] == "acceptance"
    done = events(app, number)
    start = done.index(("waive_item", "cut_water"))
    assert done[start + 1] == ("approve_waiver", "cut_water")
    with app.db.read() as conn:  # the chain holds over the new events
        assert audit.verify(conn).ok


def test_a_rejected_declaration_opens_the_item_again_for_its_executor(app, actors, clearing):
    a, number = actors, clearing
    app.cases.decide_item(number, "cut_water", "waive", a.water, "自备井")
    with pytest.raises(InvalidInput, match="驳回不适用申请须填写理由"):
        app.cases.decide_item(number, "cut_water", "reject_waiver", a.dispatcher, "  ")
    view = app.cases.decide_item(number, "cut_water", "reject_waiver", a.dispatcher, "现场核实有市政供水管道")
    cut = item(view, "cut_water")
    assert (cut["status"], cut["done"], cut["evidence"]) == ("open", False, [])
    assert cut["waiver"]["status"] == "rejected" and cut["waiver"]["decision_reason"] == "现场核实有市政供水管道"
    assert ("cut_water", "water", "2026-10-10") in open_obligations(app, number)  # owed again, from the ruling
    assert "cut_water" in app.cases.show(number, a.water)["allowed_items"]
    history = app.cases.history(number)
    assert history[-1]["trigger"] == "reject_waiver" and history[-1]["payload"]["reason"] == "现场核实有市政供水管道"
    view = app.cases.complete_item(number, "cut_water", a.water, {}, evidence=[photo(1)])
    assert item(view, "cut_water")["status"] == "done"


@pytest.mark.parametrize(
    ("who", "key", "decision", "reason", "error", "words"),
    [
        ("kongcheng", "cut_water", "waive", "自备井", PermissionDenied, "只能由市供水集团公司的经办人/联络员提出"),
        ("water", "cut_water", "waive", "", InvalidInput, "申请不适用须填写理由"),
        ("water", "cut_water", "approve_waiver", None, PermissionDenied, "只能由联席办调度员审批"),
        ("dispatcher", "cut_water", "approve_waiver", None, GuardFailed, "没有待审批的不适用申请"),
        ("dispatcher", "cut_water", "reject_waiver", "不同意", GuardFailed, "没有待审批的不适用申请"),
        ("water", "cut_water", "confirm", None, GuardFailed, "不需要确认"),
        ("water", "cut_water", "bless", None, InvalidInput, "未知决定"),
        ("water", "no_such", "waive", "x", InvalidInput, "未知事项"),
    ],
)
def test_bad_decisions_are_refused_in_chinese_and_change_nothing(
    app, actors, clearing, who, key, decision, reason, error, words
):
    before = app.cases.show(clearing)
    with pytest.raises(error, match=words):
        app.cases.decide_item(clearing, key, decision, getattr(actors, who), reason)
    after = app.cases.show(clearing)
    assert (after["version"], after["items"]) == (before["version"], before["items"])


def test_items_that_are_not_waivable_and_items_out_of_their_stage_are_refused(app, actors):
    a = actors
    number = new_site_case(app, a.kongcheng)["number"]
    walk_site_to(app, number, "rectifying", "rectify")
    with pytest.raises(GuardFailed, match="“污染治理设施”不能申请不适用"):
        app.cases.decide_item(number, "pollution_control", "waive", a.kongcheng, "已有治污设施")
    other = new_site_case(app, a.kongcheng)["number"]
    walk_site_to(app, other, "clearing", "ban")
    app.cases.decide_item(other, "cut_water", "waive", a.water, "自备井")
    with pytest.raises(GuardFailed, match="已申请不适用，正待审批"):
        app.cases.complete_item(other, "cut_water", a.water, {}, evidence=[photo()])
    with pytest.raises(GuardFailed, match="已申请不适用，正待审批"):
        app.cases.decide_item(other, "cut_water", "waive", a.water, "再次申请")
    with pytest.raises(GuardFailed, match="两断三清尚未全部完成：断水"):
        complete_open_items(app, other, "clearing")
        app.cases.advance(other, "submit_clearance", a.kongcheng)
    app.cases.decide_item(other, "cut_water", "approve_waiver", a.dispatcher)
    walk_site_to(app, other, "acceptance")
    with pytest.raises(GuardFailed, match="只能在“取缔关闭·两断三清实施中”阶段办理"):
        app.cases.decide_item(other, "cut_power", "waive", a.power, "已断电")
    with pytest.raises(GuardFailed, match="“属地自查”不能申请不适用"):
        app.cases.decide_item(other, "town_check", "waive", a.kongcheng, "无需自查")


def test_the_command_line_declares_and_rules_on_a_waiver(cli, evidence):
    number = cli.json("case", "new", SITE, "--as", TOWN, *field_args(SITE_FIELDS), "--json")["number"]
    cli.ok("case", "advance", number, "start_verification", "--as", OFFICE)
    cli.ok("case", "advance", number, "classify_ban", "--as", OFFICE, "--field", "plan=依法取缔")
    refused = assert_refused(cli.run("case", "waive-item", number, "cut_water", "--as", WATER))
    assert "申请不适用须填写理由" in refused
    out = assert_ok(
        cli.run("case", "waive-item", number, "cut_water", "--as", WATER, "--reason", "自备井", "--evidence",
                str(evidence.png))
    ).stdout  # fmt: skip
    assert "“断水”已申请不适用，待审批" in out
    assert "不适用申请待审批" in cli.ok("case", "show", number, "--as", OFFICE).stdout
    assert "approve-waiver" in cli.ok("case", "show", number, "--as", OFFICE).stdout
    view = cli.json("case", "approve-waiver", number, "cut_water", "--as", OFFICE, "--json")
    cut = next(i for i in view["items"] if i["key"] == "cut_water")
    assert (cut["status"], cut["done"]) == ("waived", True)
    history = cli.json("case", "history", number, "--json")
    assert [e["trigger"] for e in history[-2:]] == ["waive_item", "approve_waiver"]
