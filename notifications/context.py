"""Template contexts: plain data built from a case (row, draft, definition) and an event, in the
shape ``notifications.events`` documents. No database access: callers hand in what they have."""

from datetime import date, datetime
from typing import Any

from notifications.config import NotificationConfig
from notifications.plan import plan_of
from workflow.case import CaseDraft
from workflow.clock import SHANGHAI
from workflow.durations import parse_duration
from workflow.ladder import LEVEL_COLOURS, LEVEL_LABELS
from workflow.org import Organisation
from workflow.rulebook import Rulebook
from workflow.spec import WorkflowSpec


def minute(at: datetime | None) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if at is not None else ""


def _day(value: date | str | None) -> str:
    return value.isoformat() if isinstance(value, date) else (value or "")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return "" if value is None else str(value)


def case_context(
    row: dict[str, Any], draft: CaseDraft, rulebook: Rulebook, config: NotificationConfig
) -> dict[str, Any]:
    org = rulebook.org
    f = draft.fields
    clock = draft.flags.get("clock") or {}
    due_date = _day(row.get("due_date"))
    due_text = due_date
    if due_date and clock.get("duration"):
        due_text = f"{due_date}（{parse_duration(clock['duration']).label}）"
    if due_date and row.get("due_provisional"):
        due_text += "（暂定）"
    level = row.get("ladder_level") or "normal"
    spec = rulebook.spec
    subject = plan_of(spec).subject
    title_field = _title_field(spec)
    return {
        "number": row["number"],
        "type": draft.type,
        "type_label": rulebook.spec.name,
        "title": _text(f.get(title_field) if title_field else None),
        "title_label": spec.fields[title_field].label if title_field else "",
        "subject_label": subject.label,
        "subject_name": _text(f.get(subject.field)) if subject.field else "",
        "subject_kind": subject.kind,
        "summary": _text(f.get("description") or f.get("plan") or f.get("address")),
        "state": draft.state,
        "state_label": rulebook.spec.states[draft.state].label,
        "category": _text(f.get("category") or "、".join(f.get("violations") or [])),
        "enterprise_name": _text(f.get("enterprise_name")),
        "uscc": _text(f.get("uscc")),
        "site_name": _text(f.get("site_name")),
        "operator": _text(f.get("operator")),
        "address": _text(f.get("address")),
        "village": _text(f.get("village")),
        "town": _text(f.get("town")),
        "town_name": org.name(f["town"]) if f.get("town") else "",
        "lead_unit": _text(f.get("lead_unit")),
        "lead_unit_name": org.name(f["lead_unit"]) if f.get("lead_unit") else "",
        "co_unit_names": [org.name(c) for c in draft.co_units],
        "instructions": _text(f.get("instructions")),
        "due_date": due_date,
        "due_at": minute(row.get("due_at")),
        "due_text": due_text,
        "supervision": level,
        "supervision_label": LEVEL_LABELS.get(level, level),
        "supervision_colour": LEVEL_COLOURS.get(level, ""),
        "link": f"{config.base_url}/cases/{row['number']}",
        "fields": {name: _shown(spec, name, value) for name, value in f.items()},
    }


def _title_field(spec: WorkflowSpec) -> str | None:
    """The field a case is known by: the definition's ``title_field``; for definitions without
    one, a ``title`` field or else the field naming the subject of the notices."""
    named = getattr(spec, "title_field", None)
    if named and named in spec.fields:
        return str(named)
    return plan_of(spec).subject.field


def _shown(spec: WorkflowSpec, name: str, value: Any) -> str:
    """A field's value as people read it: choices by their labels."""
    labels = spec.fields[name].choice_labels if name in spec.fields else {}
    if isinstance(value, list):
        return "、".join(str(labels.get(v, v)) for v in value)
    return str(labels.get(value, value)) if isinstance(value, str) and labels else _text(value)


def action_context(spec: WorkflowSpec, payload: dict[str, Any]) -> dict[str, Any]:
    """What a template needs of the action's inputs beyond their text: ``values`` (each input as
    people read it, choices by their labels) and ``period`` ({label, duration}: when an input
    picks a state's handling time, e.g. 一般 → 10个工作日; empty otherwise)."""
    given = payload.get("fields") or {}
    period: dict[str, str] = {}
    for state in spec.states.values():
        clock = state.clock
        if clock is None or not clock.by_field or not isinstance(given.get(clock.by_field), str):
            continue
        value = given[clock.by_field]
        if value in clock.durations:
            labels = spec.fields[clock.by_field].choice_labels if clock.by_field in spec.fields else {}
            period = {"label": str(labels.get(value, value)), "duration": clock.durations[value].label}
            break
    return {"values": {k: _shown(spec, k, v) for k, v in given.items()}, "period": period}


def obligation_context(case: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """A step of one obligation's own ladder (断水 late, a co-unit's feedback late) speaks of that
    obligation's deadline and level, not of the case's clock."""
    if not payload.get("obligation_unit"):
        return case
    level = payload.get("level") or "normal"
    due_at = payload.get("due_at")
    return {
        **case,
        "due_date": payload.get("due_date") or "",
        "due_at": minute(datetime.fromisoformat(due_at)) if due_at else "",
        "due_text": f"{payload.get('due_date')}（{payload.get('obligation_label')}）",
        "supervision": level,
        "supervision_label": LEVEL_LABELS.get(level, level),
        "supervision_colour": LEVEL_COLOURS.get(level, ""),
    }


def event_context(
    name: str, label: str, at: datetime, actor: str, actor_name: str, actor_unit: str, note: str | None,
    payload: dict[str, Any], org: Organisation,
) -> dict[str, Any]:  # fmt: skip
    fields = {k: _text(v) for k, v in (payload.get("fields") or {}).items()}
    return {
        "name": name,
        "label": label,
        "at": minute(at),
        "actor": actor,
        "actor_name": actor_name,
        "actor_unit_name": org.name(actor_unit) if actor_unit else "",
        "comment": note or "",
        "reason": fields.get("reason", "") or _text(payload.get("reason")),
        "fields": fields,
    }


def recipient_context(username: str, display_name: str, department: str, org: Organisation) -> dict[str, Any]:
    return {
        "username": username,
        "display_name": display_name,
        "department_name": org.name(department) if department else "",
    }


def items_context(draft: CaseDraft, rulebook: Rulebook, unit: str | None) -> list[dict[str, Any]]:
    """Open items of the current stage, for one executor unit (or all when ``unit`` is None)."""
    result = []
    for key in rulebook.allowed_items(draft):
        executor = rulebook.executor(key, draft)
        if unit is None or executor == unit:
            item = draft.items[key]
            result.append(
                {"key": key, "label": item.label, "executor_name": rulebook.org.name(executor or ""), "done": item.done}
            )
    return result
