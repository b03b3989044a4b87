"""The ``notifications:`` section of a definition: the shipped types pass ``check_definition``,
broken sections are refused naming the file and the dotted key, and nothing under
``notifications/`` names a shipped type."""

import re
from pathlib import Path

import pytest

from config.settings import Settings
from notifications.plan import check_definition, plan_of
from notifications.render import TemplateStore
from notifications.samples import spec_samples
from workflow.errors import DefinitionError
from workflow.loader import load_workflow_files
from workflow.org import load_organisation

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = Settings(config_dir=None)
ORG = load_organisation(SETTINGS.departments_file())

BASE = """\
type: expert_visit
name: 专家访企
number_prefix: ZJ
initial: submitted
title_field: topic
create:
  actors: [{role: dispatcher}]
  required: [topic, town]
fields:
  topic: {label: 走访主题, type: text, max_length: 200}
  town: {label: 所属镇街, type: department, kinds: [street, town, park]}
states:
  submitted: {label: 待安排, clock: {duration: 2wd, responsible: town}}
  done: {label: 已办结, terminal: true}
transitions:
  - {trigger: finish, label: 办结, source: submitted, dest: done, actors: [{role: handler, unit: town}]}
"""


def _spec(tmp_path: Path, section: str):
    path = tmp_path / "expert_visit.yaml"
    path.write_text(BASE + section, encoding="utf-8")
    return load_workflow_files([path], ORG)["expert_visit"], str(path)


def test_the_shipped_types_pass_the_check() -> None:
    specs = load_workflow_files(SETTINGS.workflow_files(), ORG)
    for spec in specs.values():
        plan = check_definition(spec, ORG)
        assert plan.used_events()


def test_a_type_without_a_section_gets_the_engine_defaults(tmp_path) -> None:
    spec, _ = _spec(tmp_path, "")
    plan = check_definition(spec, ORG)
    assert [n.event for n in plan.notices("warn")] == ["warned"]
    assert [(n.event, n.closed) for n in plan.notices("finish")] == [("closed", True)]
    assert "returned" not in plan.used_events() and "assigned" not in plan.used_events()


BROKEN = [
    ("notifications:\n  triggers:\n    approve: [closed]\n", "notifications.triggers.approve", "没有触发动作"),
    ("notifications:\n  triggers:\n    finish: [nothing_like_it]\n", "notifications.triggers.finish[0]", "未知通知"),
    (
        "notifications:\n  events:\n    visit_done: {label: 走访办结通知}\n  triggers:\n    finish: [visit_done]\n"
        "  recipients:\n    visit_done: [{role: dispatcher}]\n",
        "notifications.triggers.finish[0]",
        "没有模板",
    ),
    (
        "notifications:\n  recipients:\n    closed: [{role: boss}]\n",
        "notifications.recipients.closed[0].role",
        "未知角色",
    ),
    (
        "notifications:\n  recipients:\n    closed: [{role: handler, unit: landlord}]\n",
        "notifications.recipients.closed[0].unit",
        "未知单位关系",
    ),
    (
        "notifications:\n  recipients:\n    closed: [{role: handler, department: nowhere}]\n",
        "notifications.recipients.closed[0].department",
        "未知部门",
    ),
    (
        "notifications:\n  triggers:\n    finish: [{event: closed, dest: archived}]\n",
        "notifications.triggers.finish[0].dest",
        "没有状态",
    ),
    ("notifications:\n  triggers:\n    finish: [returned]\n", "notifications.triggers.finish[0]", "没有收件人"),
    ("notifications:\n  subject: {label: 企业, field: enterprise_name}\n", "notifications.subject.field", "没有字段"),
    ("notifications:\n  whom: []\n", "notifications.whom", "不认识的键"),
    ("notifications:\n  events:\n    closed: {label: 销号}\n", "notifications.events.closed", "共用事件"),
]


@pytest.mark.parametrize(("section", "key", "reason"), BROKEN, ids=[k for _, k, _ in BROKEN])
def test_a_broken_section_is_refused_with_file_and_key(tmp_path, section: str, key: str, reason: str) -> None:
    spec, file = _spec(tmp_path, section)
    with pytest.raises(DefinitionError) as caught:
        check_definition(spec, ORG)
    assert caught.value.file == file and caught.value.key == key and reason in caught.value.reason


def test_a_types_own_notice_with_its_template_passes_and_renders(tmp_path) -> None:
    section = ("notifications:\n  events:\n    visit_done: {label: 走访办结通知}\n  triggers:\n    finish: [visit_done]\n"
               "  recipients:\n    visit_done: [{role: handler, unit: town}]\n")  # fmt: skip
    spec, _ = _spec(tmp_path, section)
    templates = tmp_path / "templates"
    (templates / "expert_visit").mkdir(parents=True)
    (templates / "expert_visit" / "visit_done.j2").write_text(
        "{% block subject %}【走访办结】{{ case.number }} {{ case.title }}{% endblock %}"
        "{% block text %}{{ case.fields.topic }}已办结。{% endblock %}{% block html %}<div>{{ event.label }}</div>{% endblock %}",
        encoding="utf-8",
    )
    plan = check_definition(spec, ORG, [templates])
    store = TemplateStore(override_dir=templates)
    label, context = spec_samples(spec, plan.events["visit_done"])[0]
    rendered = store.render("visit_done", context)
    assert rendered.subject == f"【走访办结】ZJ-2026-00001 {context['case']['title']}"
    assert rendered.text == f"{context['case']['fields']['topic']}已办结。"
    assert plan_of(spec).events["visit_done"].label == "走访办结通知"


SHIPPED = [p.stem for p in (ROOT / "config" / "workflows").glob("*.yaml")]


def test_nothing_under_notifications_names_a_shipped_type() -> None:
    assert SHIPPED
    pattern = re.compile("|".join(map(re.escape, SHIPPED)))
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "notifications").rglob("*"))
        if path.suffix in (".py", ".j2") and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
