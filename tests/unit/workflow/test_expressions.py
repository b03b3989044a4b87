"""Expressions in definitions (``workflow.expressions``, ``workflow.loader_rules``): CEL type-checked
at load, refused with the file and key; computed fields, computed clocks, expression guards and
conditions, general effects and limits as the rulebook applies them; a deadline field within its
clock's ``max``."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from workflow.case import CaseDraft
from workflow.deadlines import computed_duration
from workflow.errors import DefinitionError, GuardFailed
from workflow.expressions import ExpressionError, compile_expression, rounded
from workflow.loader import load_workflow_text
from workflow.org import Actor, Organisation
from workflow.rulebook import Rulebook

NOW = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
VARIABLES = {"amount": "double", "kind": "string", "done": "bool", "tags": "list", "count": "int"}

DEFINITION = """\
type: grant
name: 测试补助
number_prefix: TG
initial: applied
create:
  actors: [{role: dispatcher}]
  required: [title, amount, kind]
  guards: [{expr: "amount >= 10.0", message: 金额不足10万元}]
fields:
  title: {label: 标题, type: text}
  amount: {label: 金额, type: decimal}
  kind: {label: 类别, type: choice, choices: {a: 甲类, b: 乙类}}
  until: {label: 完成期限, type: date}
  note: {label: 说明, type: text}
  share: {label: 补助额, type: decimal, places: 2, compute: 'amount * (kind == "a" ? 0.05 : 0.02)'}
  big: {label: 大额, type: yes_no, compute: "amount >= 100.0"}
states:
  applied: {label: 已申请, clock: {duration: {expr: 'kind == "a" ? "2wd" : "5wd"'}}}
  working: {label: 办理中, clock: {field: until, default: 10d, max: 60d}}
  closed: {label: 已办结, terminal: true}
checklists:
  steps:
    label: 办理步骤
    state: working
    evidence: none
    items:
      first: {label: 第一步, actors: [{role: dispatcher}]}
transitions:
  - trigger: start
    label: 开始
    source: applied
    dest: working
    actors: [{role: dispatcher}]
    optional: [until]
    store: [until]
    effects: [{open_checklist: steps}]
  - trigger: finish
    label: 大额办结
    source: working
    dest: closed
    when: [{expr: "big"}]
    actors: [{role: dispatcher}]
    required: [note]
    guards: [checklist_complete, {expr: "size(note) >= 4", message: 大额办结须写明不少于4字的说明}]
  - trigger: finish
    label: 办结
    source: working
    dest: closed
    actors: [{role: dispatcher}]
    required: [note]
    guards: [checklist_complete]
"""


def spec_of(org: Organisation, text: str = DEFINITION):
    return load_workflow_text(text, "grant.yaml", org)


def test_types_are_inferred_and_wrong_ones_refused() -> None:
    assert compile_expression('amount * 0.05 > 1.0 && kind in ["a", "b"]', VARIABLES).result == "bool"
    assert compile_expression('{"a": 1.0, "b": 0.5}[kind] * amount', VARIABLES).result == "double"
    assert compile_expression("min(count, 3) + size(tags)", VARIABLES).result == "int"
    for source, words in [
        ("amount > 200", "整数与小数不能混用"),
        ('amount + "x"', "类型不同"),
        ("unknown > 1.0", "未知字段“unknown”"),
        ("amount >", "语法错误"),
        ("done ? 1 : 2.0", "类型不同"),
        ("amount.size()", "只能用于文本、列表或映射"),
        ("amount.x", "不支持"),
        ('__import__("os")', "不支持的函数"),
        ("!amount", "真假值"),
    ]:
        with pytest.raises(ExpressionError, match=words):
            compile_expression(source, VARIABLES)
    with pytest.raises(ExpressionError, match="此处需要真假值"):
        compile_expression("amount * 2.0", VARIABLES, "bool")


def test_values_are_rounded_half_up_after_dropping_binary_noise() -> None:
    share = compile_expression("amount * 0.05", VARIABLES)
    assert rounded(share.evaluate({"amount": Decimal("200.1")}), 2) == Decimal("10.01")  # 10.005, not 10.00
    assert rounded(share.evaluate({"amount": "499.99"}), 2) == Decimal("25.00")
    with pytest.raises(ExpressionError, match="无法求值"):
        compile_expression('{"a": 1.0}[kind]', VARIABLES).evaluate({"kind": "z"})


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        ('compute: \'amount * (kind == "a" ? 0.05 : 0.02)\'', "compute: 'amout * 0.05'", "fields.share.compute", "未知字段“amout”"),
        ('compute: "amount >= 100.0"', 'compute: "amount >= 100"', "fields.big.compute", "整数与小数不能混用"),
        ('{expr: "big"}', '{expr: "amount"}', "transitions[1].when[0].expr", "此处需要真假值"),
        ("message: 金额不足10万元", "message: ''", "create.guards[0].message", "须写明"),
        ("{open_checklist: steps}", "{open_checklist: stages}", "transitions[0].effects[0].open_checklist", "stages"),
        ("max: 60d", "max: 60wd", "states.working.clock.max", "以天计"),
        ("{expr: 'kind == \"a\" ? \"2wd\" : \"5wd\"'}", "{expr: 'amount'}", "states.applied.clock.duration.expr", "文本"),
    ],
)
def test_a_broken_rule_is_refused_with_file_and_key(org: Organisation, old: str, new: str, key: str, words: str) -> None:
    assert old in DEFINITION
    with pytest.raises(DefinitionError) as refused:
        spec_of(org, DEFINITION.replace(old, new))
    assert refused.value.file == "grant.yaml" and refused.value.key == key
    assert words in refused.value.reason


def test_computed_fields_clocks_guards_conditions_and_limits(org: Organisation) -> None:
    spec = spec_of(org)
    book = Rulebook(spec, org)
    office = Actor("office", org.office, frozenset({"dispatcher"}))
    small = CaseDraft("grant", "TG-1", "applied", {"title": "t", "amount": "9.5", "kind": "a"})
    with pytest.raises(GuardFailed, match="金额不足10万元"):
        book.register(small, small.fields)
    case = CaseDraft("grant", "TG-2", "applied", {"title": "t", "amount": "120", "kind": "a"})
    book.register(case, case.fields)
    assert case.fields["share"] == "6.00" and case.fields["big"] == "yes"
    assert str(computed_duration(spec.states["applied"].clock, case)) == "2wd"
    # the deadline field may lie at most 60 days after entering the state
    with pytest.raises(GuardFailed, match="最长60天"):
        book.decide(case, "start", office, {"until": "2026-11-30"}, NOW)
    assert case.state == "applied" and "until" not in case.fields
    book.decide(case, "start", office, {"until": "2026-11-28"}, NOW)
    assert case.items["first"].checklist == "steps" and case.flags["entered:working"] == date(2026, 9, 30).isoformat()
    book.complete_item(case, "first", office, {}, NOW, [])
    with pytest.raises(GuardFailed, match="不少于4字"):  # the big branch is chosen by its expression
        book.decide(case, "finish", office, {"note": "好"}, NOW)
    assert book.decide(case, "finish", office, {"note": "办结说明"}, NOW).transition.label == "大额办结"
