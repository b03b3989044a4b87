"""The rulebook: one ``transitions`` machine per workflow definition, and the pure decisions.

``Rulebook(spec, org)`` builds the machine once (``model=None``, ``auto_transitions=False``,
``send_event=True``); every decision fires an event on a throw-away ``_Holder``, never on a
database row. ``decide`` checks the actor, the inputs and the guards, fires, and applies stores,
counters and effects to the ``CaseDraft``; ``complete_item`` does the same for checklist items.
Persisting the result, locking and versions are ``cases.service``'s job.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from transitions import EventData, Machine

from workflow import derived, rules
from workflow.case import CONFIRMATION, WAIVER, CaseDraft, ItemState
from workflow.errors import GuardFailed, InvalidInput, PermissionDenied, TransitionNotAllowed
from workflow.expressions import Expression, ExpressionError
from workflow.fields import check_inputs, is_blank
from workflow.org import SYSTEM_ROLE, Actor, Organisation
from workflow.rules import RuleContext
from workflow.spec import ActorRule, Check, ChecklistSpec, ItemSpec, TransitionSpec, WorkflowSpec

_CTX = "ctx"
MAX_REASON = 2000
ITEM_DECISIONS = ("waive", "approve_waiver", "reject_waiver", "confirm", "reject")
"""What may be decided about an item besides completing it: declare it 不适用, approve or reject
that declaration, confirm or reject a report of a permit's department."""


class _Holder:
    """The plain object a machine moves; carries only ``state``."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


@dataclass(frozen=True)
class Decision:
    """What one trigger did to a case (the draft itself is changed in place)."""

    trigger: str
    from_state: str
    to_state: str
    transition: TransitionSpec
    inputs: dict[str, Any]
    """The validated, normalised inputs."""


def _condition(words: rules.Vocabulary, name: str) -> Any:
    predicate = words.conditions[name]
    return lambda event: predicate(event.kwargs[_CTX])


def _guard(words: rules.Vocabulary, name: str) -> Any:
    guard = words.guards[name]

    def check(event: EventData) -> bool:
        guard(event.kwargs[_CTX])
        return True

    return check


def _expr_condition(expression: Expression) -> Any:
    return lambda event: bool(_evaluate(expression, event.kwargs[_CTX], "when"))


def _expr_guard(check_: Check) -> Any:
    def check(event: EventData) -> bool:
        if not _evaluate(check_.expression, event.kwargs[_CTX], "check"):
            raise GuardFailed("check", check_.message)
        return True

    return check


def _evaluate(expression: Expression, ctx: RuleContext, name: str) -> Any:
    """An expression on the case's fields and counters, this action's inputs taking precedence."""
    try:
        return expression.evaluate({**ctx.case.fields, **ctx.case.counters, **ctx.inputs})
    except ExpressionError as exc:
        raise GuardFailed(name, str(exc)) from exc


def _chosen(index: int) -> Any:
    def mark(event: EventData) -> bool:
        event.kwargs["chosen"].append(index)
        return True

    return mark


def _may(rulebook: "Rulebook", rules_: Iterable[ActorRule], actor: Actor | None, case: CaseDraft) -> bool:
    """Whether ``actor`` (anyone, when None) may act under ``rules_``."""
    rules_ = tuple(rules_)
    return bool(rules_) and (actor is None or rulebook.permitted(rules_, actor, case))


class Rulebook:
    """The rules of one definition version; thread-safe (no per-case state is kept)."""

    def __init__(self, spec: WorkflowSpec, org: Organisation) -> None:
        self.spec = spec
        self.org = org
        self.words = rules.VOCABULARIES[spec.vocabulary]
        actors = [*spec.create.actors, *(r for t in spec.transitions for r in t.actors)]
        self.named_departments = frozenset(r.department for r in actors if r.department is not None)
        """Departments a transition's actor rule names: whoever may act on a case may see it (the
        executors of checklist items see the cases whose items they owe, ``executor``)."""
        self.machine = Machine(
            model=None,
            states=list(spec.states),
            initial=spec.initial,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        for index, t in enumerate(spec.transitions):
            conditions = [
                *(_condition(self.words, n) for n in t.when), *(_expr_condition(e) for e in t.when_expr),
                *(_guard(self.words, n) for n in t.guards), *(_expr_guard(c) for c in t.checks), _chosen(index),
            ]  # fmt: skip
            self.machine.add_transition(t.trigger, list(t.sources), t.dest, conditions=conditions)

    # --- who may do what -------------------------------------------------------------------

    def units(self, case: CaseDraft, relation: str) -> set[str]:
        if relation in self.spec.relations:
            return rules.field_units(case, self.spec.relations[relation])
        return self.words.relations[relation](case, self.spec)

    def matches(self, rule: ActorRule, actor: Actor, case: CaseDraft) -> bool:
        if not actor.has(rule.role):
            return False
        if rule.department is not None and actor.department != rule.department:
            return False
        return rule.unit is None or actor.department in self.units(case, rule.unit)

    def permitted(self, rules_: Iterable[ActorRule], actor: Actor, case: CaseDraft) -> bool:
        return any(self.matches(rule, actor, case) for rule in rules_)

    def describe(self, rules_: Iterable[ActorRule]) -> str:
        """Who the rules allow, in Chinese: ``联席办调度员、本案属地镇街的经办人/联络员``."""
        relation_words = {
            "lead_unit": "主办单位",
            "co_unit": "协办单位",
            "town": "属地镇街",
            "review_department": "复核部门",
        }
        words = []
        for rule in rules_:
            role = self.org.role_names.get(rule.role, "系统" if rule.role == SYSTEM_ROLE else rule.role)
            if rule.unit:
                relation = relation_words.get(rule.unit)
                if relation is None:  # the definition's own relation: the field's label names it
                    relation = self.spec.fields[self.spec.relations[rule.unit]].label
                words.append(f"{relation}的{role}")
            elif rule.department:
                words.append(f"{self.org.name(rule.department)}的{role}")
            else:
                words.append(role)
        return "、".join(words)

    def executor(self, key: str, case: CaseDraft) -> str | None:
        """The department that completes an item: a fixed department, the unit in a relation, or
        the office for items of the dispatcher."""
        found = self.spec.item(key)
        return self._unit_of(found[1].actors, case) if found is not None else None

    def _unit_of(self, rules_: Iterable[ActorRule], case: CaseDraft) -> str | None:
        for rule in rules_:
            if rule.department is not None:
                return rule.department
            if rule.unit is not None:
                units = sorted(self.units(case, rule.unit))
                return units[0] if units else None
            if rule.role == "dispatcher":
                return self.org.office
        return None

    def confirmer(self, key: str, case: CaseDraft) -> str | None:
        """The department that confirms an item its executor reports done (None: none does)."""
        found = self.spec.item(key)
        return self._unit_of(found[1].confirmed_by, case) if found is not None else None

    def waiver_approver(self, key: str, case: CaseDraft) -> str | None:
        """The unit that approves a 不适用 declaration of the item (the office), if it is waivable."""
        found = self.spec.item(key)
        if found is None or not found[1].waivable:
            return None
        return self._unit_of(found[0].waiver_approvers, case)

    def allowed_triggers(self, case: CaseDraft, actor: Actor | None = None) -> list[str]:
        """Triggers out of the case's state, limited to what ``actor`` may fire when given.

        Guards are not evaluated: a trigger listed here may still be refused with a reason.
        """
        result = []
        for trigger in self.spec.triggers_from(case.state):
            branches = self.spec.branches(trigger, case.state)
            if actor is None or any(self.permitted(b.actors, actor, case) for b in branches):
                if actor is None and all(r.role == SYSTEM_ROLE for b in branches for r in b.actors):
                    continue
                result.append(trigger)
        return result

    def related_units(self, case: CaseDraft) -> set[str]:
        """Every unit the case concerns: its relations' units and its items' executors."""
        units: set[str] = set()
        for relation in (*self.words.relations, *self.spec.relations):
            units |= self.units(case, relation)
        for key in case.items:
            for unit in (self.executor(key, case), self.confirmer(key, case)):
                if unit:
                    units.add(unit)
        units |= {o.unit for o in self.spec.obligations.values() if o.unit in self.org.codes()}
        return units | self.named_departments

    def allowed_items(self, case: CaseDraft, actor: Actor | None = None) -> list[str]:
        """Open items of the case's current stage that ``actor`` (or anyone) may complete now."""
        result = []
        for checklist in self.spec.checklists.values():
            if checklist.state != case.state:
                continue
            for item in case.items_of(checklist.name):
                if item.status != "open":
                    continue
                rules_ = checklist.items[item.key].actors
                if actor is None or self.permitted(rules_, actor, case):
                    result.append(item.key)
                if checklist.ordered:
                    break
        return result

    # --- firing ------------------------------------------------------------------------------

    def decide(
        self,
        case: CaseDraft,
        trigger: str,
        actor: Actor,
        given: Mapping[str, Any],
        now: datetime,
        evidence: list[str] | None = None,
    ) -> Decision:
        """Check and fire ``trigger``; change ``case`` in place; raise a ``CaseflowError`` (and
        leave ``case`` unchanged) when anything refuses."""
        branches = self.spec.branches(trigger, case.state)
        if not branches:
            if trigger not in self.spec.triggers:
                known = "、".join(self.spec.triggers)
                raise InvalidInput("trigger", f"未知操作“{trigger}”；{self.spec.name}的操作有：{known}")
            raise TransitionNotAllowed(trigger, case.state, self.allowed_triggers(case, actor))
        permitted = [b for b in branches if self.permitted(b.actors, actor, case)]
        if not permitted:
            raise PermissionDenied(
                f"“{branches[0].label}”只能由{self.describe(branches[0].actors)}执行",
                {"trigger": trigger, "state": case.state},
            )
        first = permitted[0]
        inputs = check_inputs(
            self.spec.fields, given, first.required, first.optional, self.org,
            allowed_values=first.allowed_values, what=f"“{first.label}”",
        )  # fmt: skip
        files = list(evidence or [])
        if first.evidence == "required" and not files:
            raise InvalidInput("evidence", f"“{first.label}”须上传至少一份证明材料（照片或文件）")
        if first.evidence == "none" and files:
            raise InvalidInput("evidence", f"“{first.label}”不接受证明材料")
        ctx = RuleContext(self.spec, self.org, case, actor, trigger, inputs, now, files)
        holder, chosen = _Holder(case.state), list[int]()
        fired = self.machine.events[trigger].trigger(holder, ctx=ctx, chosen=chosen)
        if not fired or not chosen:
            raise GuardFailed("when", f"“{first.label}”在当前情况下不适用")
        transition = self.spec.transitions[chosen[-1]]
        if transition not in permitted:
            raise PermissionDenied(f"“{transition.label}”只能由{self.describe(transition.actors)}执行")
        entered = derived.deadlines_within_max(self.spec, case, transition, inputs, ctx.today)
        from_state = case.state
        case.signals.clear()
        case.state = holder.state
        for flag, day in entered.items():
            case.flags.setdefault(flag, day)
        explicit = {k for k, v in given.items() if not is_blank(v)}
        for name in transition.store:
            # a default never overwrites what the case already holds (e.g. its class)
            if name in inputs and (name in explicit or name not in case.fields):
                case.fields[name] = inputs[name]
        for counter in transition.increment:
            case.bump(counter)
        for effect in transition.effects:
            self.words.apply(effect, ctx)
        self.compute(case)
        return Decision(trigger, from_state, case.state, transition, inputs)

    def register(self, case: CaseDraft, inputs: Mapping[str, Any]) -> None:
        """Check registration's expression guards and compute the new case's computed fields."""
        derived.register(self.spec, case, inputs)

    def compute(self, case: CaseDraft) -> None:
        derived.compute(self.spec, case)

    def complete_item(
        self,
        case: CaseDraft,
        key: str,
        actor: Actor,
        given: Mapping[str, Any],
        now: datetime,
        evidence: list[str],
    ) -> dict[str, Any]:
        """Complete one checklist item, rectification item or sign-off (report it, for an item its
        department confirms); return the inputs."""
        checklist, item_spec, item = self._item_in_stage(case, key)
        if not self.permitted(item_spec.actors, actor, case):
            raise PermissionDenied(f"“{item_spec.label}”只能由{self.describe(item_spec.actors)}办理")
        self._require_open(item, item_spec)
        if checklist.ordered:
            earlier = [i.label for i in case.items_of(checklist.name) if i.position < item.position and not i.done]
            if earlier:
                raise GuardFailed("item_order", f"须先完成：{'、'.join(earlier)}")
        optional = tuple(n for n in ("notes",) if n in self.spec.fields and n not in item_spec.required)
        inputs = check_inputs(
            self.spec.fields, given, item_spec.required, optional, self.org, what=f"“{item_spec.label}”"
        )
        if checklist.evidence == "required" and not evidence:
            raise InvalidInput("evidence", f"“{item_spec.label}”须上传至少一份证明材料（照片或文件）")
        item.evidence = list(dict.fromkeys(evidence))
        item.data = dict(inputs)
        if item_spec.confirmed_by:  # a permit: done once its department confirms it
            item.data[CONFIRMATION] = {
                "status": "pending", "department": self.confirmer(key, case), "reported_by": actor.username,
                "reported_unit": actor.department, "reported_at": now.isoformat(),
            }  # fmt: skip
            return inputs
        item.done, item.done_by, item.done_at = True, actor.username, now
        return inputs

    # --- 不适用 and confirmation --------------------------------------------------------------

    def _require_open(self, item: ItemState, spec: ItemSpec) -> None:
        status = item.status
        if status == "open":
            return
        if status == "waiver_pending":
            raise GuardFailed("item_open", f"“{spec.label}”已申请不适用，正待审批")
        if status == "awaiting_confirmation":
            department = self.org.name((item.data.get(CONFIRMATION) or {}).get("department") or "")
            raise GuardFailed("item_open", f"“{spec.label}”已上报办结，正待{department}确认")
        if status == "waived":
            raise GuardFailed("item_open", f"“{spec.label}”已批准为不适用")
        raise GuardFailed("item_open", f"“{spec.label}”已于{item.done_at}由{item.done_by}完成")

    def _item_in_stage(self, case: CaseDraft, key: str) -> tuple[ChecklistSpec, ItemSpec, ItemState]:
        found = self.spec.item(key)
        if found is None:
            known = [k for c in self.spec.checklists.values() for k in c.items]
            raise InvalidInput("item", f"未知事项“{key}”；可选：{'、'.join(known) or '无'}")
        checklist, item_spec = found
        item = case.items.get(key)
        if item is None:
            raise InvalidInput("item", f"本案没有“{item_spec.label}”这一事项")
        if case.state != checklist.state:
            label = self.spec.states[checklist.state].label
            raise GuardFailed("item_state", f"“{item_spec.label}”只能在“{label}”阶段办理")
        return checklist, item_spec, item

    def item_decisions(self, case: CaseDraft, actor: Actor | None = None) -> list[tuple[str, str]]:
        """(item, decision) pairs that ``actor`` (or anyone) may make now (``ITEM_DECISIONS``)."""
        result = []
        for checklist in self.spec.checklists.values():
            if checklist.state != case.state:
                continue
            for item in case.items_of(checklist.name):
                spec, status = checklist.items[item.key], item.status
                if status == "open" and spec.waivable and _may(self, spec.actors, actor, case):
                    result.append((item.key, "waive"))
                elif status == "waiver_pending" and _may(self, checklist.waiver_approvers, actor, case):
                    result += [(item.key, "approve_waiver"), (item.key, "reject_waiver")]
                elif status == "awaiting_confirmation" and _may(self, spec.confirmed_by, actor, case):
                    result += [(item.key, "confirm"), (item.key, "reject")]
        return result

    def decide_item(
        self,
        case: CaseDraft,
        key: str,
        decision: str,
        actor: Actor,
        reason: str | None,
        now: datetime,
        evidence: list[str],
    ) -> dict[str, Any]:
        """Declare an item 不适用, approve or reject the declaration, confirm or reject a report;
        change ``case`` in place and return what the event records (or raise, changing nothing)."""
        if decision not in ITEM_DECISIONS:
            raise InvalidInput("decision", f"未知决定“{decision}”；可选：{'、'.join(ITEM_DECISIONS)}")
        checklist, spec, item = self._item_in_stage(case, key)
        text = (reason or "").strip()
        if len(text) > MAX_REASON:
            raise InvalidInput("reason", f"理由最多{MAX_REASON}个字，实际{len(text)}个字")
        needs_reason = decision in ("waive", "reject_waiver", "reject")
        if needs_reason and not text:
            words = {"waive": "申请不适用", "reject_waiver": "驳回不适用申请", "reject": "退回"}[decision]
            raise InvalidInput("reason", f"{words}须填写理由")
        if evidence and decision != "waive":
            raise InvalidInput("evidence", "只有申请不适用时可以上传证明材料")
        stamp = {"by": actor.username, "unit": actor.department, "at": now.isoformat()}
        if decision == "waive":
            if not spec.waivable:
                raise GuardFailed("item_waivable", f"“{spec.label}”不能申请不适用，须按要求办理")
            if not self.permitted(spec.actors, actor, case):
                raise PermissionDenied(f"“{spec.label}”的不适用申请只能由{self.describe(spec.actors)}提出")
            self._require_open(item, spec)
            item.data = {WAIVER: {"status": "pending", "reason": text, "evidence": list(dict.fromkeys(evidence)),
                                  **stamp}}  # fmt: skip
            item.evidence = list(dict.fromkeys(evidence))
            return {"reason": text, "approver": self.waiver_approver(key, case)}
        if decision in ("approve_waiver", "reject_waiver"):
            if not spec.waivable:
                raise GuardFailed("item_waivable", f"“{spec.label}”不能申请不适用")
            if not self.permitted(checklist.waiver_approvers, actor, case):
                who = self.describe(checklist.waiver_approvers)
                raise PermissionDenied(f"“{spec.label}”的不适用申请只能由{who}审批")
            waiver = dict(item.data.get(WAIVER) or {})
            if item.status != "waiver_pending":
                raise GuardFailed("waiver_pending", f"“{spec.label}”没有待审批的不适用申请")
            approved = decision == "approve_waiver"
            waiver.update(status="approved" if approved else "rejected", decided_by=actor.username,
                          decided_unit=actor.department, decided_at=now.isoformat(), decision_reason=text or None)  # fmt: skip
            if approved:
                item.done, item.done_by, item.done_at = True, actor.username, now
                item.data = {WAIVER: waiver}
            else:
                item.evidence, item.data = [], {WAIVER: waiver}
            return {"reason": text or None, "declared_by": waiver.get("by"), "declared_reason": waiver.get("reason")}
        if not spec.confirmed_by:
            raise GuardFailed("item_confirmed", f"“{spec.label}”不需要确认")
        if not self.permitted(spec.confirmed_by, actor, case):
            raise PermissionDenied(f"“{spec.label}”只能由{self.describe(spec.confirmed_by)}确认")
        report = dict(item.data.get(CONFIRMATION) or {})
        if item.status != "awaiting_confirmation":
            raise GuardFailed("confirmation_pending", f"“{spec.label}”没有待确认的办结上报")
        report.update(status="confirmed" if decision == "confirm" else "rejected", decided_by=actor.username,
                      decided_unit=actor.department, decided_at=now.isoformat(), decision_reason=text or None)  # fmt: skip
        if decision == "confirm":
            item.done, item.done_by = True, report.get("reported_by")
            item.done_at = datetime.fromisoformat(report["reported_at"]) if report.get("reported_at") else now
            item.data = {**item.data, CONFIRMATION: report}
        else:
            item.evidence, item.data = [], {CONFIRMATION: report}
        return {"reason": text or None, "reported_by": report.get("reported_by")}
