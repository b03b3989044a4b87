"""Template contexts: plain data built from a case (row, draft, definition) and an event, in the
shape ``notifications.events`` documents. No database access: callers hand in what they have."""

from datetime import date, datetime
from typing import Any

from notifications.config import NotificationConfig
from workflow.case import CaseDraft
from workflow.clock import SHANGHAI
from workflow.durations import parse_duration
from workflow.ladder import LEVEL_COLOURS, LEVEL_LABELS
from workflow.org import Organisation
from workflow.rulebook import Rulebook


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
    return {
        "number": row["number"],
        "type": draft.type,
        "type_label": rulebook.spec.name,
        "title": _text(f.get("title") or f.get("site_name")),
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
    }


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
