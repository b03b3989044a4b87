"""The ledger's reading of a definition (``ledger.definition``, ``ledger.derive``): the shipped
sections are served; a type without a section gets a complete ledger from its fields, steps and
items; a broken section is refused by ``check_definition`` naming the file and the dotted key."""

import re
from pathlib import Path

import pytest

from ledger.definition import check_definition, ledger_of
from workflow.errors import DefinitionError
from workflow.loader import load_workflow_text
from workflow.org import load_organisation
from workflow.spec import WorkflowSpec

CONFIG = Path(__file__).resolve().parents[3] / "config"
ORG = load_organisation(CONFIG / "departments.yaml")
TYPES = ("enterprise_issue", "scattered_polluting")


def without_ledger(case_type: str) -> str:
    """The shipped definition's text without its ``ledger:`` section (the last top-level block)."""
    text = (CONFIG / "workflows" / f"{case_type}.yaml").read_text(encoding="utf-8")
    found = re.search(r"^ledger:\n", text, flags=re.MULTILINE)
    assert found is not None, case_type
    following = re.search(r"^\S", text[found.end() :], flags=re.MULTILINE)
    end = found.end() + following.start() if following else len(text)
    return text[: found.start()] + text[end:]


def spec_with(case_type: str, section: str = "") -> WorkflowSpec:
    text = without_ledger(case_type) + ("\n" + section if section else "")
    return load_workflow_text(text, f"config/workflows/{case_type}.yaml", ORG)


@pytest.mark.parametrize("case_type", TYPES)
def test_the_shipped_sections_are_served(case_type: str) -> None:
    text = (CONFIG / "workflows" / f"{case_type}.yaml").read_text(encoding="utf-8")
    spec = load_workflow_text(text, f"{case_type}.yaml", ORG)
    check_definition(spec, ORG)
    assert ledger_of(spec).columns[0].header == "序号"


@pytest.mark.parametrize("case_type", TYPES)
def test_without_a_section_the_ledger_is_derived(case_type: str) -> None:
    spec = spec_with(case_type)
    check_definition(spec, ORG)
    cols = ledger_of(spec).columns
    keys = [c.key for c in cols]
    assert keys[:2] == ["seq", "number"] and keys[-2:] == ["due_date", "ladder"]
    registration = [c.key for c in cols if c.role == "field"]
    assert registration == [f for f in spec.fields if f in {*spec.create.required, *spec.create.optional}]
    assert all(c.required == (c.key in spec.create.required) for c in cols if c.role == "field")
    assert all(c.header == spec.fields[c.key].label for c in cols if c.role == "field")
    items = [c.item for c in cols if c.role == "item"]
    assert items == [k for checklist in spec.checklists.values() for k in checklist.items]
    headers = [c.header for c in cols]
    assert len(headers) == len(set(headers))


def test_a_derived_site_ledger_has_a_day_per_step_and_per_item() -> None:
    cols = {c.key: c for c in ledger_of(spec_with("scattered_polluting")).columns}
    assert cols["date:start_verification"].header == "开始核查日期"
    assert cols["item:cut_water"].header == "断水日期" and cols["item:town_check"].header == "属地自查日期"
    assert cols["meter_reading"].role == "item_input" and cols["meter_reading"].item == "cut_power"
    assert cols["plan"].triggers == ("classify_ban", "classify_rectify")  # a stored input shared by two steps
    assert cols["dismiss.reason"].header == "认定不属于散乱污理由"
    assert "date:revisit" not in cols  # the system's step: nothing for a clerk to write


BROKEN = [
    ("enterprise_issue", "ledger:\n  colums: {}\n", "ledger.colums", "未知键"),
    ("enterprise_issue", "ledger:\n  columns:\n    mystery: {}\n", "ledger.columns.mystery", "未知列"),
    ("enterprise_issue", "ledger:\n  columns:\n    x: {input_of: [answer], field: nothing}\n", "ledger.columns.x.field",
     "未知字段"),
    ("enterprise_issue", "ledger:\n  columns:\n    x: {input_of: [accept], field: reply}\n", "ledger.columns.x.field",
     "没有输入字段"),
    ("enterprise_issue", "ledger:\n  columns:\n    x: {date_of: [fly], header: 起飞日期}\n", "ledger.columns.x.date_of",
     "未知步骤"),
    ("scattered_polluting", "ledger:\n  columns:\n    x: {all_items_of: paperwork}\n", "ledger.columns.x.all_items_of",
     "未知清单"),
    ("scattered_polluting", "ledger:\n  columns:\n    x: {all_items_of: signoffs}\n", "ledger.columns.x.all_items_of",
     "chosen_by"),
    ("scattered_polluting", "ledger:\n  columns:\n    x: {flag: category, header: 类别, values: {ban: {label: 取缔, via: [fly]}}}\n",
     "ledger.columns.x.values.ban.via", "未知步骤"),
    ("enterprise_issue", "ledger:\n  states: {limbo: [悬空]}\n", "ledger.states.limbo", "未知状态"),
    ("enterprise_issue", "ledger:\n  states: {registered: [待办], assigned: [待办]}\n", "ledger.states.assigned", "别称"),
    ("enterprise_issue", "ledger:\n  columns:\n    title: {header: 问题描述}\n", "ledger.columns.description", "重复"),
    ("enterprise_issue", "ledger:\n  columns:\n    title: {aliases: [企业名称]}\n", "ledger.columns.enterprise_name", "重复"),
    ("enterprise_issue", "ledger:\n  choices: {result: {maybe: 也许}}\n", "ledger.choices.result.maybe", "未知取值"),
    ("enterprise_issue", "ledger:\n  guards: {no_such_rule: title}\n", "ledger.guards.no_such_rule", "规则"),
    ("enterprise_issue", "ledger:\n  guards: {before_due: nowhere}\n", "ledger.guards.before_due", "未知列"),
    ("enterprise_issue", "ledger:\n  before: {answer: [fly]}\n", "ledger.before.answer.0.trigger", "未知步骤"),
    ("enterprise_issue", "ledger:\n  others: drop\n", "ledger.others", "append 或 omit"),
    ("enterprise_issue", "ledger:\n  columns:\n    title: {width: 500}\n", "ledger.columns.title.width", "2–100"),
    ("enterprise_issue", "ledger:\n  columns:\n    title: {kind: colour}\n", "ledger.columns.title.kind", "列类型"),
    ("enterprise_issue", "ledger:\n  duplicates: {fields: [industry]}\n", "ledger.duplicates.fields", "必填登记字段"),
]  # fmt: skip


@pytest.mark.parametrize(("case_type", "section", "key", "reason"), BROKEN, ids=[b[2] for b in BROKEN])
def test_a_broken_section_is_refused_with_file_and_key(case_type: str, section: str, key: str, reason: str) -> None:
    spec = spec_with(case_type, section)
    with pytest.raises(DefinitionError) as refused:
        check_definition(spec, ORG)
    assert refused.value.file == f"config/workflows/{case_type}.yaml"
    assert refused.value.key == key
    assert reason in refused.value.reason
