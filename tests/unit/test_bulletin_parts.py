"""Each type's part of the weekly 通报 comes from its definition's ``bulletin:`` section
(``cases.bulletin_parts``); a section naming what does not exist is refused with file and key."""

from pathlib import Path

import pytest

from cases.bulletin_parts import check_definition, part_of
from workflow.errors import DefinitionError
from workflow.loader import load_workflow_text, load_workflows
from workflow.org import load_organisation

CONFIG = Path(__file__).resolve().parents[2] / "config"
ORG = load_organisation(CONFIG / "departments.yaml")
SPECS = load_workflows(CONFIG / "workflows", ORG)


def test_the_shipped_types_declare_their_parts() -> None:
    parts = {t: part_of(spec, ORG) for t, spec in SPECS.items()}
    assert [p.registered for p in parts.values()] == [
        ("registered", "新登记企业问题（件）"), ("sites_found", "新发现“散乱污”场所（处）"), ("subsidies", "新受理技改设备补助申请（件）"),
    ]  # fmt: skip
    site = next(p for p in parts.values() if p.town_columns)
    assert site.town_columns["banned"] == ("classify_ban", "convert_to_ban")
    assert set(site.clearing) == {"cut_water", "cut_power", "cut_gas", "clear_materials", "clear_products", "clear_equipment"}
    assert site.utilities == {"water": ("cut_water",), "power": ("cut_power",), "gas": ("cut_gas",)}
    assert [p.co_feedback for p in parts.values() if p.co_feedback] == [("co_feedback",)]


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        ("bulletin: {registered: {key: subsidies}}", "bulletin.registered", "写作"),
        ("bulletin: {towns: {columns: {banned: [pay_twice]}}}", "bulletin.towns.columns.banned", "pay_twice"),
        ("bulletin: {towns: {columns: {paid: [pay]}}}", "bulletin.towns.columns.paid", "没有这一列"),
        ("bulletin: {towns: {clearing: steps}}", "bulletin.towns.clearing", "清单“steps”"),
        ("bulletin: {utilities: {nowhere: [sti_review]}}", "bulletin.utilities.nowhere", "未知单位"),
        ("bulletin: {co_feedback: [helping]}", "bulletin.co_feedback", "helping"),
        ("bulletin: {weekly: true}", "bulletin.weekly", "不认识的键"),
    ],
)
def test_a_broken_section_is_refused_with_file_and_key(section: str, key: str, words: str) -> None:
    text = SPECS["tech_subsidy"].source_text.split("\nbulletin:")[0] + "\n" + section + "\n"
    spec = load_workflow_text(text, "subsidy.yaml", ORG)
    with pytest.raises(DefinitionError) as refused:
        check_definition(spec, ORG)
    assert (refused.value.file, refused.value.key) == ("subsidy.yaml", key)
    assert words in refused.value.reason
