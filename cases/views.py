"""Plain-data views of cases and events: the one shape shared by ``case show --json``, the API
and (later) templates. Times are shown in Asia/Shanghai with their offset."""

from datetime import date, datetime
from typing import Any

from workflow.case import CaseDraft
from workflow.clock import SHANGHAI
from workflow.org import Actor
from workflow.rulebook import Rulebook

CLOSED_STATES = ("closed",)
ENGINE_TRIGGER_LABELS = {
    "create": "登记",
    "import": "台账导入",
    "complete_item": "完成事项",
    "warn": "临期预警",
    "mark_overdue": "逾期催办",
    "record_overdue": "逾期（已督办）",
    "supervise": "督办",
    "list": "挂牌督办",
    "recompute_deadline": "重算期限",
    "backfill": "升级时补建责任清单",
}
"""Names of the triggers the engine fires itself (no definition has them) in the history."""


def local(at: datetime | None) -> str | None:
    return at.astimezone(SHANGHAI).isoformat() if at is not None else None


def local_text(text: Any) -> Any:
    """An ISO instant kept as text in a case's state (written in UTC) shown in Asia/Shanghai;
    anything else unchanged."""
    if not isinstance(text, str):
        return text
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return text
    return local(at) if at.tzinfo is not None else text


def _co_unit(assignment: dict[str, Any]) -> dict[str, Any]:
    return {k: local_text(v) if k.endswith("_at") else v for k, v in assignment.items()}


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def is_open(state: str, rulebook: Rulebook) -> bool:
    return not rulebook.spec.states[state].terminal and state not in CLOSED_STATES


def case_view(meta: Any, draft: CaseDraft, rulebook: Rulebook, actor: Actor | None) -> dict[str, Any]:
    """``meta`` is the case row (or a mapping with the same keys) as stored after the change."""
    spec, org = rulebook.spec, rulebook.org
    items = []
    for item in sorted(draft.items.values(), key=lambda i: (list(spec.checklists).index(i.checklist), i.position)):
        items.append(
            {
                "key": item.key,
                "checklist": item.checklist,
                "label": item.label,
                "executor": rulebook.executor(item.key, draft),
                "done": item.done,
                "done_by": item.done_by,
                "done_at": local(item.done_at),
                "evidence": list(item.evidence),
                "data": dict(item.data),
            }
        )
    lead = draft.fields.get("lead_unit")
    return {
        "id": meta["id"],
        "number": meta["number"],
        "type": draft.type,
        "type_label": spec.name,
        "title": meta["title"],
        "state": draft.state,
        "state_label": spec.states[draft.state].label,
        "open": is_open(draft.state, rulebook),
        "supervision": meta["supervision"],
        "clock_supervision": meta["ladder_level"],
        "due_date": _day(meta["due_date"]),
        "due_at": local(meta["due_at"]),
        "due_provisional": bool(meta["due_provisional"]),
        "lead_unit": lead,
        "lead_unit_name": org.name(lead) if lead else None,
        "town": draft.fields.get("town"),
        "version": meta["version"],
        "definition_version": meta["definition_version"],
        "allowed_triggers": rulebook.allowed_triggers(draft, actor),
        "allowed_items": rulebook.allowed_items(draft, actor),
        "fields": dict(draft.fields),
        "counters": dict(draft.counters),
        "co_units": {code: _co_unit(a) for code, a in draft.co_units.items()},
        "category": draft.flags.get("category"),
        "raised_to_convenors": local_text(draft.flags.get("raised_to_convenors")),
        "items": items,
        "created_by": meta["created_by"],
        "created_at": local(meta["created_at"]),
        "updated_at": local(meta["updated_at"]),
        "closed_at": local(meta["closed_at"]),
    }


def event_view(event: Any) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": local(event.at),
        "actor": event.actor,
        "trigger": event.trigger,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "comment": event.comment,
        "payload": event.payload,
        "hash": event.hash,
        "prev_hash": event.prev_hash,
    }
