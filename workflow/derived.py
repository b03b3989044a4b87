"""Values a definition derives rather than asks for: computed fields, registration's expression
guards, and deadlines held in date fields kept within their clock's ``max``.

Pure functions of a ``WorkflowSpec`` and a ``CaseDraft``; ``workflow.rulebook`` calls them as it
decides. Evaluating an expression is ``workflow.expressions``'.
"""

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from workflow import rules
from workflow.case import CaseDraft
from workflow.errors import GuardFailed
from workflow.expressions import ExpressionError, rounded
from workflow.spec import TransitionSpec, WorkflowSpec


def deadlines_within_max(
    spec: WorkflowSpec, case: CaseDraft, transition: TransitionSpec, inputs: Mapping[str, Any], today: date
) -> dict[str, str]:
    """A deadline the action stores (a date field a state's clock keeps) may lie at most the
    clock's ``max`` after the case first entered that state (today, when it enters now);
    refuse with ``GuardFailed`` otherwise. Return the entry days to remember."""
    remember: dict[str, str] = {}
    for name in transition.store:
        given = inputs.get(name)
        for state, clock in rules.deadline_clocks(spec, name):
            if clock.max is None or given is None:
                continue
            flag = f"entered:{state}"
            entering = case.state != state and transition.dest == state
            if not entering and case.state != state:
                continue
            start = today if entering else date.fromisoformat(case.flags.get(flag) or today.isoformat())
            latest = start + timedelta(days=clock.max.amount)
            if date.fromisoformat(str(given)) > latest:
                label, where = spec.fields[name].label, spec.states[state].label
                raise GuardFailed(
                    "clock_max",
                    f"{label}不得晚于{latest}：自进入“{where}”之日（{start}）起最长{clock.max.label}",
                )
            if entering:
                remember[flag] = today.isoformat()
    return remember


def register(spec: WorkflowSpec, case: CaseDraft, inputs: Mapping[str, Any]) -> None:
    """Check registration's expression guards on ``inputs`` (raise ``GuardFailed`` with the
    definition's reason) and compute the computed fields of the new case."""
    values = {**case.fields, **inputs}
    for check in spec.create.checks:
        try:
            ok = check.expression.evaluate(values)
        except ExpressionError as exc:
            raise GuardFailed("check", str(exc)) from exc
        if not ok:
            raise GuardFailed("check", check.message)
    compute(spec, case)


def compute(spec: WorkflowSpec, case: CaseDraft) -> None:
    """Set every computed field from the case's values, in definition order; a field whose
    expression cannot be evaluated yet (a value it needs is missing) is left out."""
    for name in spec.computed_order:
        field_spec = spec.fields[name]
        assert field_spec.compute is not None
        try:
            value = field_spec.compute.evaluate({**case.fields, **case.counters})
        except ExpressionError:
            case.fields.pop(name, None)
            continue
        if value is None:  # not known yet (一事一议 before the convenors decide)
            case.fields.pop(name, None)
            continue
        if field_spec.type == "yes_no":
            value = "yes" if value else "no"
        elif field_spec.type == "decimal" and value is not None:
            value = str(rounded(value, field_spec.places if field_spec.places is not None else 2))
        case.fields[name] = value
