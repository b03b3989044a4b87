"""A case type that exists only in the tests, ``ledger_probe`` (测试许可), WITHOUT a ``ledger:``
section: its ledger is derived from the definition alone. ``probe_config(root)`` writes a
configuration directory holding copies of the shipped definitions next to it (for
``CASEFLOW_CONFIG_DIR`` or ``build_app(config_dir=...)``)."""

import shutil
from pathlib import Path

from config.settings import DEFAULTS

PROBE = "ledger_probe"
PROBE_NAME = "测试许可"
PROBE_YAML = """\
# A type that exists only in the tests: no ledger section, so its ledger is derived.
type: ledger_probe
name: 测试许可
number_prefix: TP
initial: applied
title_field: applicant
create:
  actors: [{role: collector}, {role: dispatcher}]
  required: [applicant, town, amount]
  optional: [kind, note]
fields:
  applicant: {label: 申请人, type: text, max_length: 100}
  town: {label: 所属镇街, type: department, kinds: [street, town, park]}
  amount: {label: 申请金额, type: integer, min: 1, max: 1000}
  kind: {label: 申请类别, type: choice, choices: {small: 小额, large: 大额}, default: small}
  note: {label: 备注, type: text, max_length: 200}
  reviewer: {label: 审核单位, type: department}
  opinion: {label: 审核意见, type: text, max_length: 500}
  reason: {label: 理由, type: text, max_length: 500}
states:
  applied: {label: 已申请, clock: {duration: 2wd, responsible: office}}
  reviewing: {label: 审核中, clock: {duration: 3wd, responsible: office}}
  approved: {label: 已批准, terminal: true}
  refused: {label: 不予批准, terminal: true}
obligations:
  start_review: {label: 受理, unit: office, states: [applied], due: clock}
  decide: {label: 审批, unit: office, states: [reviewing], due: clock}
transitions:
  - trigger: start_review
    label: 受理
    source: applied
    dest: reviewing
    actors: [{role: dispatcher}]
    required: [reviewer]
    store: [reviewer]
  - trigger: approve
    label: 批准
    source: reviewing
    dest: approved
    actors: [{role: dispatcher}]
    required: [opinion]
    store: [opinion]
  - trigger: refuse
    label: 驳回
    source: [applied, reviewing]
    dest: refused
    actors: [{role: dispatcher}]
    required: [reason]
ladder:
  warned: {at: due_day_start}
  overdue: {at: due_at}
  supervised: {after_due: 3wd}
  listed: {after_due: 5wd}
"""

PROBE_COLUMNS = [
    "序号", "编号", "申请人", "所属镇街", "申请金额", "申请类别", "备注", "当前状态", "登记日期", "受理日期", "审核单位",
    "批准日期", "审核意见", "驳回日期", "驳回理由",
]  # fmt: skip
"""The derived template: registration fields, state, registration day, each step's day and
inputs (a stored input under its field's label, another as step label + field label)."""


def probe_config(root: Path) -> Path:
    """A configuration directory: copies of the shipped definitions and the probe type."""
    workflows = root / "workflows"
    workflows.mkdir(parents=True, exist_ok=True)
    for path in sorted((DEFAULTS / "workflows").glob("*.yaml")):
        shutil.copyfile(path, workflows / path.name)
    (workflows / f"{PROBE}.yaml").write_text(PROBE_YAML, encoding="utf-8")
    return root
