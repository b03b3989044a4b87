"""A whole enterprise problem through the CLI (DOMAIN.md §3): assignment with co-units, an
extension, a refused answer, send-back, reopen and close; then its history and the audit chain,
and a tampered copy of the database that ``audit verify`` must catch.

Right after the assignment, a batch of refused calls (wrong state, wrong unit, guard, stale
version, unknown case, bad evidence …) runs against the case: each must exit 2 with a one-line
reason and an error document, and none may change the case."""

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import pytest
from cli_support import (
    COLLECTOR,
    ENTERPRISE,
    ENTERPRISE_FIELDS,
    FAKE_NOW,
    FINANCE,
    GENESIS,
    OFFICE,
    POWER,
    RAISE_BY_HAND,
    RESOURCES,
    SHA256,
    WATER,
    Cli,
    EvidenceFiles,
    Result,
    assert_error_document,
    assert_ok,
    assert_refused,
    clone_database,
    field_args,
    sqlite_execute,
)


@dataclass(frozen=True)
class Step:
    label: str
    user: str
    trigger: str
    fields: dict[str, str] = field(default_factory=dict)
    comment: str | None = None
    state: str | None = None
    """The state after the step; None for a step that must be refused."""
    human: bool = False
    """Run without ``--json`` (the human output is checked instead)."""
    expected_version: int | None = None


STEPS = (
    Step(
        "assign",
        OFFICE,
        "assign",
        {
            "lead_unit": "市供电公司",
            "co_units": "市自然资源和规划局,市财政局",
            "class": "simple",
            "instructions": "请会同协办单位于期限内答复企业",
        },
        "请主办单位牵头办理",
        "assigned",
    ),
    Step("co_accept_resources", RESOURCES, "co_accept", state="assigned"),
    Step("accept", POWER, "accept", comment="已签收", state="in_progress", expected_version=3),
    Step("co_accept_finance", FINANCE, "co_accept", state="in_progress", human=True),
    Step("co_feedback_resources", RESOURCES, "co_feedback", {"reply": "用地手续已核实，无障碍"}, state="in_progress"),
    Step(
        "request_extension",
        POWER,
        "request_extension",
        {"reason": "需协调施工停电窗口", "days": "5"},
        state="extension_requested",
    ),
    Step("approve_extension", OFFICE, "approve_extension", {"days": "3"}, "同意延期3个工作日", "in_progress"),
    Step("answer_too_early", POWER, "answer", {"result": "resolved", "reply": "已增容", "signed_by": "供电公司负责人"}),
    Step("co_feedback_finance", FINANCE, "co_feedback", {"reply": "可申报技改补贴"}, state="in_progress"),
    Step(
        "answer",
        POWER,
        "answer",
        {"result": "resolved", "reply": "已完成线路改造，增容到位", "signed_by": "供电公司负责人"},
        state="answered",
    ),
    Step("send_back", OFFICE, "send_back", {"reason": "答复未说明接电时间"}, state="in_progress"),
    Step(
        "answer_again",
        POWER,
        "answer",
        {"result": "resolved", "reply": "已于9月30日接电", "signed_by": "供电公司负责人"},
        state="answered",
    ),
    Step("approve_answer", OFFICE, "approve_answer", state="follow_up"),
    Step("reopen", OFFICE, "reopen", {"satisfaction": "不满意", "reason": "企业反映仍有跳闸"}, state="in_progress"),
    Step(
        "answer_third",
        POWER,
        "answer",
        {"result": "partially_resolved", "reply": "已更换开关，持续观察", "signed_by": "供电公司负责人"},
        state="answered",
    ),
    Step("approve_answer_again", OFFICE, "approve_answer", state="follow_up"),
    Step("close", OFFICE, "close", {"satisfaction": "满意"}, "回访企业满意，予以销号", "closed"),
)
DONE = [s for s in STEPS if s.state is not None]

# Refused right after the assignment (the case is assigned to 市供电公司, version 2).
# key → (arguments after ``case advance NUMBER``, error code with --json, words of the reason)
REFUSALS: dict[str, tuple[list[str], str, tuple[str, ...]]] = {
    "wrong_state": (["answer", "--as", POWER, *field_args({"result": "resolved", "reply": "好", "signed_by": "甲"})],
                    "transition_not_allowed", ("answer", "accept", "return")),
    "wrong_state_for_office": (["close", "--as", OFFICE, "--field", "satisfaction=满意"], "transition_not_allowed", ("close", "reassign")),
    "wrong_unit": (["accept", "--as", RESOURCES], "permission_denied", ("无权", "主办单位")),  # a co-unit
    "unrelated_unit": (["accept", "--as", WATER], "not_found", ()),  # may not even know the case
    "guard_same_lead_unit": (["reassign", "--as", OFFICE, *field_args({"lead_unit": "市供电公司", "reason": "改派"})],
                             "guard_failed", ("不同的主办单位",)),
    "stale_version": (["accept", "--as", POWER, "--expected-version", "1"], "version_conflict", ("版本",)),
    "missing_reason": (["return", "--as", POWER], "invalid_input", ("reason",)),
    "unknown_trigger": (["fly_away", "--as", POWER], "invalid_input", ("fly_away",)),
    "unknown_user": (["accept", "--as", "nobody"], "not_found", ("nobody",)),
}  # fmt: skip


@dataclass
class Walk:
    cli: Cli
    created: dict[str, Any]
    results: dict[str, Result]
    docs: dict[str, dict[str, Any]]
    """The case after each successful ``--json`` step."""
    final: dict[str, Result]
    refused: dict[str, Result]
    after_refusals: dict[str, Any]
    """``case show --as office`` right after the refused calls."""

    @property
    def number(self) -> str:
        return str(self.created["number"])


def refusals(number: str, evidence: EvidenceFiles) -> dict[str, list[str]]:
    commands = {key: ["case", "advance", number, *args, "--json"] for key, (args, _, _) in REFUSALS.items()}
    accept = ["case", "advance", number, "accept", "--as", POWER]
    commands["unknown_case"] = ["case", "advance", "QY-2026-99999", "accept", "--as", POWER, "--json"]
    commands["evidence_not_taken"] = [*accept, "--evidence", str(evidence.png)]
    commands["evidence_of_wrong_type"] = [*accept, "--evidence", str(evidence.text)]
    commands["history_unknown_case"] = ["case", "history", "SLW-2026-99999"]
    return commands


@pytest.fixture(scope="module")
def walk(module_db: Cli, evidence: EvidenceFiles) -> Walk:
    created = module_db.json(
        "case", "new", ENTERPRISE, "--as", COLLECTOR, *field_args(ENTERPRISE_FIELDS), "--comment", "走访收集"
    )
    number = created["number"]
    results, docs, refused, after_refusals = {}, {}, {}, {}
    for step in STEPS:
        args = ["case", "advance", number, step.trigger, "--as", step.user, *field_args(step.fields)]
        if step.expected_version is not None:
            args += ["--expected-version", str(step.expected_version)]
        if step.comment:
            args += ["--comment", step.comment]
        result = module_db.run(*args) if step.human else module_db.run(*args, "--json")
        results[step.label] = result
        if step.state is None:
            continue
        assert_ok(result)
        if not step.human:
            docs[step.label] = result.json()
        if step.label == "assign":
            refused = module_db.run_all(refusals(number, evidence))
            after_refusals = module_db.json("case", "show", number, "--as", OFFICE)
    final = module_db.run_all(
        {
            "show_json": ["case", "show", number, "--as", POWER, "--json"],
            "show": ["case", "show", number],
            "history_json": ["case", "history", number, "--json"],
            "audit_json": ["audit", "verify", "--json"],
            "audit": ["audit", "verify"],
        }
    )
    return Walk(module_db, created, results, docs, final, refused, after_refusals)


def test_each_step_moves_the_case_to_the_expected_state(walk: Walk) -> None:
    for step in DONE:
        if step.label in walk.docs:
            assert walk.docs[step.label]["state"] == step.state, step.label
            assert walk.docs[step.label]["number"] == walk.number
    shown = assert_ok(walk.final["show_json"]).json()
    assert shown["state"] == "closed"
    assert shown["state_label"] == "已销号"
    assert shown["open"] is False
    assert shown["closed_at"] == FAKE_NOW


def test_versions_count_only_the_steps_that_were_done(walk: Walk) -> None:
    assert walk.created["version"] == 1
    expected = {step.label: index for index, step in enumerate(DONE, start=2)}
    for label, doc in walk.docs.items():
        assert doc["version"] == expected[label], label
    assert assert_ok(walk.final["show_json"]).json()["version"] == len(DONE) + 1


def test_assign_takes_chinese_unit_names_and_opens_co_assignments(walk: Walk) -> None:
    case = walk.docs["assign"]
    assert case["lead_unit"] == "power"
    assert case["lead_unit_name"] == "市供电公司"
    assert case["fields"]["co_units"] == ["natural_resources", "finance"]
    assert set(case["co_units"]) == {"natural_resources", "finance"}
    assert all(a["accepted_at"] is None and a["feedback_at"] is None for a in case["co_units"].values())
    assert case["fields"]["class"] == "simple"
    assert case["fields"]["instructions"] == "请会同协办单位于期限内答复企业"


def test_co_units_accept_and_feed_back_on_their_own(walk: Walk) -> None:
    after_accept = walk.docs["co_accept_resources"]["co_units"]
    assert after_accept["natural_resources"]["accepted_at"] == FAKE_NOW  # Asia/Shanghai, as every instant
    assert after_accept["finance"]["accepted_at"] is None
    # the co-unit's own handler does not get the lead unit's triggers
    assert not {"accept", "return"} & set(walk.docs["co_accept_resources"]["allowed_triggers"])
    feedback = walk.docs["co_feedback_finance"]["co_units"]
    assert feedback["finance"]["accepted_at"] is not None  # done by the human-output step
    assert feedback["finance"]["feedback"] == "可申报技改补贴"
    assert feedback["natural_resources"]["feedback"] == "用地手续已核实，无障碍"
    assert feedback["natural_resources"]["feedback_at"] is not None


def test_allowed_triggers_are_those_of_the_acting_user(walk: Walk) -> None:
    expected = {
        "assign": {"reassign"} | RAISE_BY_HAND,  # office, case assigned
        "accept": {"request_extension", "answer"},  # lead unit's handler, in progress
        "request_extension": set(),  # the handler waits for the office
        "approve_extension": {"reassign"} | RAISE_BY_HAND,
        "answer": set(),
        "approve_answer": {"close", "reopen"} | RAISE_BY_HAND,
        "close": set(),  # closed: nothing left, not even raising
    }
    for label, triggers in expected.items():
        assert set(walk.docs[label]["allowed_triggers"]) == triggers, label
    assert assert_ok(walk.final["show_json"]).json()["allowed_triggers"] == []


def test_handling_deadlines(walk: Walk) -> None:
    # class simple: 5wd counted from the assignment on 2026-09-30 (10-01..07 holiday, 10-10 worked)
    assert (walk.docs["accept"]["due_date"], walk.docs["accept"]["due_at"]) == (
        "2026-10-13",
        "2026-10-14T00:00:00+08:00",
    )
    # three working days granted move the handling deadline on
    assert walk.docs["approve_extension"]["due_date"] == "2026-10-16"
    assert walk.docs["close"]["due_date"] is None and walk.docs["close"]["due_at"] is None
    assert all(doc["due_provisional"] is False for doc in walk.docs.values())


def test_extension_send_back_and_reopen_are_counted(walk: Walk) -> None:
    counters = walk.docs["approve_extension"]["counters"]
    assert counters.get("extension_count") == 1
    assert counters.get("extension_days") == 3
    assert walk.docs["send_back"]["counters"].get("send_back_count") == 1
    reopened = walk.docs["reopen"]
    assert reopened["counters"].get("reopen_count") == 1
    assert reopened["fields"]["satisfaction"] == "不满意"
    closed = walk.docs["close"]
    assert closed["fields"]["satisfaction"] == "满意"
    assert closed["fields"]["result"] == "partially_resolved"
    assert closed["fields"]["signed_by"] == "供电公司负责人"


def test_answer_is_refused_until_every_co_unit_has_fed_back(walk: Walk) -> None:
    result = walk.results["answer_too_early"]
    assert_refused(result, "市财政局")
    document = assert_error_document(result, "guard_failed")
    assert document["details"].get("guard") == "all_co_units_fed_back"
    # nothing changed: the next step's version follows the previous step's directly
    assert walk.docs["co_feedback_finance"]["version"] == walk.docs["approve_extension"]["version"] + 1


def test_human_output_of_advance_is_chinese(walk: Walk) -> None:
    out = assert_ok(walk.results["co_accept_finance"]).stdout
    assert walk.number in out and "co_accept" in out and "办理中" in out and "版本" in out


def test_history_is_the_hash_chained_list_of_done_steps(walk: Walk) -> None:
    events = assert_ok(walk.final["history_json"]).json()
    assert [e["seq"] for e in events] == list(range(1, len(DONE) + 2))
    assert [e["trigger"] for e in events] == ["create", *(s.trigger for s in DONE)]
    assert [e["actor"] for e in events] == [COLLECTOR, *(s.user for s in DONE)]
    assert [e["comment"] for e in events] == ["走访收集", *(s.comment for s in DONE)]
    assert events[0]["from_state"] is None and events[0]["to_state"] == "registered"
    previous_state = "registered"
    for event, step in zip(events[1:], DONE, strict=True):
        assert (event["from_state"], event["to_state"]) == (previous_state, step.state), step.label
        previous_state = step.state
    assert all(e["at"] == FAKE_NOW for e in events)
    assert events[0]["prev_hash"] == GENESIS
    for before, event in zip(events, events[1:], strict=False):
        assert event["prev_hash"] == before["hash"], event["seq"]
    assert all(SHA256.match(e["hash"]) for e in events)
    assert len({e["hash"] for e in events}) == len(events)


def test_human_show_is_chinese(walk: Walk) -> None:
    show = assert_ok(walk.final["show"]).stdout
    assert walk.number in show and "已销号" in show and "状态" in show and "市供电公司" in show


def test_audit_verify_holds_after_the_walk(walk: Walk) -> None:
    report = assert_ok(walk.final["audit_json"]).json()
    assert report["ok"] is True and report["first_break"] is None
    assert report["cases"] >= 1 and report["events"] >= len(DONE) + 1
    assert "哈希链完好" in assert_ok(walk.final["audit"]).stdout


@pytest.mark.parametrize("key", list(REFUSALS))
def test_refused_advance(walk: Walk, key: str) -> None:
    _, code, needles = REFUSALS[key]
    result = walk.refused[key]
    assert_refused(result, *needles)
    document = assert_error_document(result, code)
    assert document["message"] in result.stderr


def test_wrong_state_lists_the_triggers_allowed_to_the_user(walk: Walk) -> None:
    document = walk.refused["wrong_state"].json()
    assert set(document) == {"error", "message", "details"}
    assert document["error"] == "transition_not_allowed"
    assert sorted(document["details"]["allowed"]) == ["accept", "return"]
    for trigger in ("accept", "return"):
        assert trigger in document["message"]
    office = walk.refused["wrong_state_for_office"].json()["details"]["allowed"]
    assert set(office) - RAISE_BY_HAND == {"reassign"}


def test_stale_version_reports_both_versions(walk: Walk) -> None:
    details = walk.refused["stale_version"].json()["details"]
    assert details.get("expected_version") == 1
    assert details.get("actual_version") == 2


def test_unknown_case_is_not_found(walk: Walk) -> None:
    result = walk.refused["unknown_case"]
    assert_refused(result, "QY-2026-99999")
    assert_error_document(result, "not_found")
    assert_refused(walk.refused["history_unknown_case"], "SLW-2026-99999")
    # a unit the case does not concern is told no more than about a case that does not exist
    assert_refused(walk.refused["unrelated_unit"], walk.number, "不存在")


def test_evidence_is_refused_where_not_taken_or_of_a_wrong_type(walk: Walk) -> None:
    assert_refused(walk.refused["evidence_not_taken"], "证明材料")
    assert_refused(walk.refused["evidence_of_wrong_type"], "notes.txt", "类型不允许")


def test_refusals_change_nothing(walk: Walk) -> None:
    # the case as the office saw it after assigning is the case after all the refusals
    assert walk.after_refusals == walk.docs["assign"]
    # and the step that followed made the next version
    assert walk.docs["co_accept_resources"]["version"] == walk.docs["assign"]["version"] + 1 == 3


def test_the_current_expected_version_is_accepted(walk: Walk) -> None:
    accept = next(s for s in STEPS if s.label == "accept")
    assert accept.expected_version == 3
    assert walk.docs["accept"]["version"] == 4


@pytest.fixture(scope="module")
def tampered(walk: Walk, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """A copy of the walked database with the comment of the walk case's event 3 rewritten
    behind the application's back; ``audit verify`` run on it, as text and as JSON."""
    copy = clone_database(walk.cli, tmp_path_factory.mktemp("tampered"))
    tamper = (
        'UPDATE case_event SET comment = ? WHERE seq = ? AND case_id = (SELECT id FROM "case" WHERE number = ?)',
        ("改过的备注", 3, walk.number),
    )
    # the database itself refuses to rewrite history ...
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        sqlite_execute(copy, tamper)
    # ... so a forger first drops the guards
    sqlite_execute(
        copy,
        ("DROP TRIGGER case_event_no_update", ()),
        ("DROP TRIGGER case_event_no_delete", ()),
        tamper,
    )
    with closing(sqlite3.connect(copy.database_file)) as conn:
        (comment,) = conn.execute(
            'SELECT comment FROM case_event JOIN "case" ON case_event.case_id = "case".id WHERE number = ? AND seq = 3',
            (walk.number,),
        ).fetchone()
    assert comment == "改过的备注"
    return copy.run_all({"text": ["audit", "verify"], "json": ["audit", "verify", "--json"]})


def test_audit_verify_names_the_tampered_case_and_event(walk: Walk, tampered: dict[str, Result]) -> None:
    reason = assert_refused(tampered["text"], walk.number)
    assert "第 3 条" in reason
    assert tampered["text"].stdout.strip() == ""
    assert tampered["json"].returncode == 2
    assert walk.number in tampered["json"].stdout


def test_audit_verify_json_reports_the_break_in_one_document(walk: Walk, tampered: dict[str, Result]) -> None:
    result = tampered["json"]
    assert result.returncode == 2
    assert_refused(result, walk.number)
    report = result.json()  # one JSON document, as INTERFACES.md promises for --json
    assert report["ok"] is False
    assert report["first_break"]["case"] == walk.number
    assert report["first_break"]["seq"] == 3
