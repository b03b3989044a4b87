"""A fourth case type that exists only in the tests: 专家访企 (an expert visits an enterprise).

It uses every construct of the definition vocabulary — a checklist of another name, a
relation of its own, a fixed-department actor, expression guards (at registration and on a
transition), computed fields, a computed clock, a declared notification with its own template —
so that the engine, the ledger, the notices, the API, the CLI and the pages are shown to serve a
type no Python names. ``install(config_dir)`` writes it (and its template) into a
``CASEFLOW_CONFIG_DIR``.
"""

from pathlib import Path

TYPE = "expert_visit"
NAME = "专家访企"

DEFINITION = """\
type: expert_visit
name: 专家访企
number_prefix: ZJ
description: 专家走访企业：安排 → 走访 → 评分 → 办结
title_field: topic
duplicate_key: [uscc, topic]
vocabulary: 1
relations: {host_unit: host}
initial: scheduled
create:
  actors: [{role: dispatcher}]
  required: [enterprise_name, uscc, town, topic, host, urgency, hours]
  guards:
    - {expr: "hours <= 40", message: 单次走访不得超过40小时}

fields:
  enterprise_name: {label: 企业名称, type: text, max_length: 200}
  uscc: {label: 统一社会信用代码, type: uscc}
  town: {label: 所属镇街, type: department, kinds: [street, town, park]}
  topic: {label: 走访主题, type: text, max_length: 200}
  host: {label: 承办单位, type: department, kinds: [unit]}
  urgency: {label: 紧急程度, type: choice, choices: {normal: 一般, urgent: 紧急}}
  hours: {label: 预计时长（小时）, type: integer, min: 1, max: 100}
  score: {label: 评分, type: integer, min: 0, max: 100}
  notes: {label: 走访记录, type: text, max_length: 2000}
  reason: {label: 理由, type: text, max_length: 2000}
  fee: {label: 专家劳务费（元）, type: decimal, places: 2, compute: "double(hours) * 312.5"}
  grade: {label: 评价等级, type: text, compute: 'score >= 90 ? "优秀" : score >= 60 ? "合格" : "不合格"'}

states:
  scheduled:
    label: 待走访
    clock: {duration: {expr: 'urgency == "urgent" ? "2wd" : "5wd"'}, responsible: host_unit}
  visiting: {label: 走访中, clock: {duration: 5wd, responsible: host_unit}}
  scoring: {label: 待评分, clock: {duration: 3wd, responsible: office}}
  done: {label: 已办结, terminal: true}
  cancelled: {label: 已取消, terminal: true}

checklists:
  visit_records:
    label: 走访记录
    state: visiting
    evidence: optional
    items:
      site_visit: {label: 实地走访, actors: [{role: handler, unit: host_unit}]}
      service_note: {label: 服务中心登记, due: 2wd, actors: [{role: handler, department: enterprise_service}]}

obligations:
  start: {label: 开展走访, unit: host_unit, states: [scheduled], due: clock, measure: accept}
  report: {label: 提交走访报告, unit: host_unit, states: [visiting], after: visit_records, due: clock, measure: complete}
  rate: {label: 评分办结, unit: office, states: [scoring], due: clock}

transitions:
  - {trigger: start, label: 开始走访, source: scheduled, dest: visiting, actors: [{role: handler, unit: host_unit}], effects: [{open_checklist: visit_records}]}
  - trigger: report
    label: 提交走访报告
    source: visiting
    dest: scoring
    actors: [{role: handler, unit: host_unit}]
    required: [notes]
    store: [notes]
    guards: [checklist_complete]
  - trigger: rate
    label: 评分办结
    source: scoring
    dest: done
    actors: [{role: dispatcher}]
    required: [score]
    store: [score]
    guards: [{expr: "score >= 60 || size(notes) >= 20", message: 评分低于60分的，走访记录须不少于20字}]
  - {trigger: cancel, label: 取消走访, source: [scheduled, visiting], dest: cancelled, actors: [{role: dispatcher}], required: [reason]}

notifications:
  subject: {label: 企业, field: enterprise_name}
  events: {visit_scheduled: {label: 走访安排通知}}
  triggers: {create: [visit_scheduled]}
  recipients: {visit_scheduled: [{role: handler, unit: host_unit}]}

ladder:
  overdue: {at: due_at}
"""

TEMPLATE = """\
{% block subject %}【走访安排】{{ case.number }} {{ case.title }}{% endblock %}
{% block text %}{{ recipient.department_name }}：请于{{ case.due_date }}前走访{{ case.subject_name }}，主题“{{ case.title }}”。{% endblock %}
{% block html %}<p>{{ recipient.department_name }}：请于{{ case.due_date }}前走访{{ case.subject_name }}，主题“{{ case.title }}”。</p>{% endblock %}
"""


def install(config_dir: Path) -> Path:
    """Write the definition and its template under ``config_dir``; return the definition file."""
    (config_dir / "workflows").mkdir(parents=True, exist_ok=True)
    (config_dir / "templates" / TYPE).mkdir(parents=True, exist_ok=True)
    (config_dir / "templates" / TYPE / "visit_scheduled.j2").write_text(TEMPLATE, encoding="utf-8")
    path = config_dir / "workflows" / f"{TYPE}.yaml"
    path.write_text(DEFINITION, encoding="utf-8")
    return path
