"""What each case type contributes to the weekly 通报 beyond the per-unit table: its definition's
``bulletin:`` section, parsed and checked.

    bulletin:
      registered: {key: sites_found, label: 新发现“散乱污”场所（处）}   # its line in 一、总体情况
      towns:                                     # 三、分镇街 (a type whose cases are places)
        columns: {banned: [classify_ban, convert_to_ban], rectified: [classify_rectify], …}
        clearing: clearing                       # the checklist counted as 两断三清
      utilities: {water: [cut_water], power: [cut_power], gas: [cut_gas]}   # 四、供水供电供气
      co_feedback: [co_feedback]                 # 四、协办单位: obligations counted as 协办反馈

A type without the section adds nothing but its obligations to the per-unit figures. The
queries themselves are ``cases.bulletin_sections``'; ``check_definition`` refuses a section
naming an unknown trigger, checklist, item, obligation or department, with the file and key.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workflow.errors import DefinitionError
from workflow.org import Organisation
from workflow.spec import WorkflowSpec

TOWN_COLUMNS = ("banned", "rectified", "passed", "failed", "revisited", "relapsed")
"""The decision columns of section 三, in the document's order."""


@dataclass(frozen=True)
class BulletinPart:
    """One type's contribution."""

    type: str
    registered: tuple[str, str] | None = None
    """(key, label) of its line in 一、总体情况: the cases registered in the week and the year."""
    town_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Section 三: column → the triggers whose events it counts; empty: not a type of places."""
    clearing: tuple[str, ...] = ()
    """Section 三: the item keys counted as 两断三清."""
    utilities: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Section 四: department → the item keys it carries out."""
    co_feedback: tuple[str, ...] = ()
    """Section 四: the obligation keys counted as a co-unit's feedback."""


def _fail(spec: WorkflowSpec, key: str, reason: str) -> DefinitionError:
    return DefinitionError(spec.source_file, f"bulletin.{key}" if key else "bulletin", reason)


def _mapping(spec: WorkflowSpec, value: Any, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(spec, key, "应为映射（键: 值）")
    return value


def _names(spec: WorkflowSpec, value: Any, key: str, known: Iterable[str], what: str) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _fail(spec, key, f"应为{what}的名称或名称列表")
    pool = set(known)
    for name in names:
        if name not in pool:
            raise _fail(spec, key, f"本定义没有{what}“{name}”；可选：{'、'.join(sorted(pool))}")
    return tuple(names)


def part_of(spec: WorkflowSpec, org: Organisation | None = None) -> BulletinPart:
    """The type's part of the bulletin (raises ``DefinitionError`` on a malformed section)."""
    section = _mapping(spec, spec.sections.get("bulletin"), "")
    allowed = {"registered", "towns", "utilities", "co_feedback"}
    for name in section:
        if name not in allowed:
            raise _fail(spec, str(name), f"不认识的键；可用：{'、'.join(sorted(allowed))}")
    registered = None
    if "registered" in section:
        raw = _mapping(spec, section["registered"], "registered")
        key, label = raw.get("key"), raw.get("label")
        if not isinstance(key, str) or not key.isidentifier() or not isinstance(label, str) or not label.strip():
            raise _fail(spec, "registered", "写作 {key: 标识符, label: 中文名称（单位）}")
        registered = (key, label.strip())
    towns = _mapping(spec, section.get("towns"), "towns")
    columns: dict[str, tuple[str, ...]] = {}
    for column, triggers in _mapping(spec, towns.get("columns"), "towns.columns").items():
        if column not in TOWN_COLUMNS:
            raise _fail(spec, f"towns.columns.{column}", f"没有这一列；可选：{'、'.join(TOWN_COLUMNS)}")
        columns[column] = _names(spec, triggers, f"towns.columns.{column}", spec.triggers, "操作")
    clearing: tuple[str, ...] = ()
    if towns.get("clearing") is not None:
        (name,) = _names(spec, towns["clearing"], "towns.clearing", spec.checklists, "清单")
        clearing = tuple(spec.checklists[name].items)
    items = [k for c in spec.checklists.values() for k in c.items]
    utilities = {}
    for unit, keys in _mapping(spec, section.get("utilities"), "utilities").items():
        if org is not None and org.find(str(unit)) is None:
            raise _fail(spec, f"utilities.{unit}", f"未知单位“{unit}”")
        utilities[str(unit)] = _names(spec, keys, f"utilities.{unit}", items, "清单事项")
    co_feedback = _names(spec, section.get("co_feedback") or [], "co_feedback", spec.obligations, "责任事项")
    return BulletinPart(spec.type, registered, columns, clearing, utilities, co_feedback)


def parts_of(specs: Iterable[WorkflowSpec]) -> list[BulletinPart]:
    return [part_of(spec) for spec in specs]


def check_definition(spec: WorkflowSpec, org: Organisation) -> None:
    """Whether the 通报 can serve the type: its ``bulletin:`` section names what exists."""
    part_of(spec, org)
