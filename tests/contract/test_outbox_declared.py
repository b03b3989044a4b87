"""Notices are declared per type: a type that exists only in this test (专家访企, in a temporary
``CASEFLOW_CONFIG_DIR``) with its own notice and template, walked through the service on a real
database, and the same type without a ``notifications:`` section, which gets the engine's generic
notices only (its ``return`` tells the office nothing about 重新交办或改派)."""

from datetime import timedelta
from pathlib import Path

import pytest
from helpers import build_app, standard_actors
from sqlalchemy import select

from cases.models import Notification

VISIT = """\
type: expert_visit
name: 专家访企
number_prefix: ZJ
initial: submitted
title_field: topic
create:
  actors: [{role: dispatcher}]
  required: [topic, enterprise_name, town]
fields:
  topic: {label: 走访主题, type: text, max_length: 200}
  enterprise_name: {label: 企业名称, type: text, max_length: 200}
  town: {label: 所属镇街, type: department, kinds: [street, town, park]}
  experts: {label: 专家人数, type: integer, min: 1, max: 9}
  reason: {label: 理由, type: text, max_length: 2000}
states:
  submitted: {label: 待安排, clock: {duration: 2wd, responsible: town}}
  visiting: {label: 走访中, clock: {duration: 5wd, responsible: town}}
  done: {label: 已办结, terminal: true}
transitions:
  - {trigger: schedule, label: 安排走访, source: submitted, dest: visiting,
     actors: [{role: handler, unit: town}], required: [experts], store: [experts]}
  - {trigger: return, label: 退回, source: visiting, dest: submitted,
     actors: [{role: handler, unit: town}], required: [reason]}
  - {trigger: finish, label: 办结, source: visiting, dest: done, actors: [{role: handler, unit: town}]}
ladder:
  warned: {at: due_day_start}
  overdue: {at: due_at}
"""

SECTION = """
notifications:
  subject: {label: 企业, field: enterprise_name}
  events:
    visit_scheduled: {label: 走访安排通知, urgent: true}
  triggers:
    schedule: [visit_scheduled]
  recipients:
    visit_scheduled: [{role: dispatcher}, {role: handler, unit: town}]
"""

TEMPLATE = """\
{% block subject %}【走访安排】{{ case.number }} {{ case.title }}{% endblock %}
{% block text %}{{ recipient.department_name }}：{{ case.subject_label }}{{ case.subject_name }}的“{{ case.title }}”已安排{{ case.fields.experts }}名专家走访，期限{{ case.due_text }}。{% endblock %}
{% block html %}<div>{{ case.title }}：{{ event.label }}</div>{% endblock %}
"""


def _config(tmp_path: Path, section: str, template: bool) -> Path:
    config = tmp_path / "config"
    (config / "workflows").mkdir(parents=True)
    (config / "workflows" / "expert_visit.yaml").write_text(VISIT + section, encoding="utf-8")
    if template:
        (config / "templates" / "expert_visit").mkdir(parents=True)
        (config / "templates" / "expert_visit" / "visit_scheduled.j2").write_text(TEMPLATE, encoding="utf-8")
    return config


def _rows(app, number: str) -> list[Notification]:
    with app.db.read() as conn:
        rows = conn.execute(select(Notification.__table__).where(Notification.__table__.c.case_number == number)
                            .order_by(Notification.__table__.c.id)).all()  # fmt: skip
    return list(rows)


@pytest.fixture
def visit_app(tmp_path, data_dir, clock, request):
    section, template = request.param
    app = build_app(f"sqlite:///{tmp_path / 'caseflow.db'}", data_dir, clock=clock,
                    config_dir=_config(tmp_path, section, template))  # fmt: skip
    try:
        app.migrate()
        yield app
    finally:
        app.close()


@pytest.mark.parametrize("visit_app", [(SECTION, True)], indirect=True)
def test_a_declared_notice_goes_to_its_recipients_with_the_types_own_template(visit_app) -> None:
    app = visit_app
    a = standard_actors(app)
    case = app.cases.create("expert_visit", a.dispatcher, {"topic": "数字化改造诊断", "enterprise_name": "桐城市示例机械有限公司", "town": "kongcheng"})  # fmt: skip
    assert _rows(app, case["number"]) == []
    app.cases.advance(case["number"], "schedule", a.kongcheng, {"experts": 3})
    rows = _rows(app, case["number"])
    assert {(r.recipient, r.event) for r in rows} == {
        ("dispatcher", "visit_scheduled"),
        ("kongcheng", "visit_scheduled"),
    }
    assert all(r.urgent and r.channel == "inapp" for r in rows)
    assert rows[0].idempotency_key == f"{case['number']}:2:visit_scheduled:{rows[0].recipient}:inapp"
    town = next(r for r in rows if r.recipient == "kongcheng")
    assert town.subject == f"【走访安排】{case['number']} 数字化改造诊断"
    assert town.body_text.startswith("孔城镇：企业桐城市示例机械有限公司的“数字化改造诊断”已安排3名专家走访，期限")
    # ``return`` is not declared: nothing is sent, least of all an enterprise problem's text
    app.cases.advance(case["number"], "return", a.kongcheng, {"reason": "企业要求改期"})
    assert len(_rows(app, case["number"])) == len(rows)


@pytest.mark.parametrize("visit_app", [("", False)], indirect=True)
def test_a_type_without_a_section_gets_only_the_generic_notices(visit_app) -> None:
    app = visit_app
    a = standard_actors(app)
    case = app.cases.create("expert_visit", a.dispatcher, {"topic": "数字化改造诊断", "enterprise_name": "桐城市示例机械有限公司", "town": "kongcheng"})  # fmt: skip
    number = case["number"]
    app.cases.advance(number, "schedule", a.kongcheng, {"experts": 2})
    app.cases.advance(number, "return", a.kongcheng, {"reason": "企业要求改期"})
    assert _rows(app, number) == []  # neither 交办 nor 退回: the type did not declare them
    app.cases.advance(number, "schedule", a.kongcheng, {"experts": 2})
    app.cases.advance(number, "finish", a.kongcheng)
    rows = _rows(app, number)
    assert {r.event for r in rows} == {"closed"}  # arriving in a closed state: the generic 销号通知
    assert {r.recipient for r in rows} == {"kongcheng", "dispatcher"}  # the town involved, the creator
    for r in rows:
        assert "重新交办或改派" not in r.body_text and "散乱污" not in r.body_text and "回访企业" not in r.body_text
        assert r.subject == f"【销号通知】{number} 数字化改造诊断"
        assert "已办结" in r.body_text


@pytest.mark.parametrize("visit_app", [("", False)], indirect=True)
def test_ladder_steps_of_a_type_without_a_section_go_to_the_responsible_unit(visit_app, clock) -> None:
    app = visit_app
    a = standard_actors(app)
    case = app.cases.create("expert_visit", a.dispatcher, {"topic": "数字化改造诊断", "enterprise_name": "桐城市示例机械有限公司", "town": "kongcheng"})  # fmt: skip
    clock.advance(timedelta(days=10))  # 待安排 has 2 working days
    app.sweeper.sweep()
    rows = _rows(app, case["number"])
    events = [r.event for r in rows]
    assert "warned" in events and "overdue" in events
    assert {r.recipient for r in rows if r.event == "warned"} == {"kongcheng"}
    assert {r.recipient for r in rows if r.event == "overdue"} >= {"kongcheng"}
