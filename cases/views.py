"""Plain-data views of cases and events: the one shape shared by ``case show --json``, the API
and (later) templates. Times are shown in Asia/Shanghai with their offset."""

from datetime import date, datetime
from typing import Any

from workflow.case import CONFIRMATION, ITEM_STATUSES, WAIVER, CaseDraft, ItemState
from workflow.clock import SHANGHAI
from workflow.org import Actor
from workflow.rulebook import Rulebook

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
    "waive_item": "申请事项不适用",
    "approve_waiver": "批准不适用申请",
    "reject_waiver": "驳回不适用申请",
    "confirm_item": "确认事项办结",
    "reject_item": "退回事项重办",
    "migrate_definition": "迁移流程版本",
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
    return not rulebook.spec.states[state].is_closed


def _decision(record: dict[str, Any] | None, org: Any) -> dict[str, Any] | None:
    """A 不适用 declaration or a report awaiting confirmation, times in Asia/Shanghai, units named."""
    if not record:
        return None
    shown = {k: local_text(v) if k.endswith("_at") or k == "at" else v for k, v in record.items()}
    for name in ("unit", "department", "reported_unit", "decided_unit"):
        if record.get(name):
            shown[f"{name}_name"] = org.name(record[name])
    return shown


def _status_text(item: ItemState, rulebook: Rulebook, draft: CaseDraft) -> str:
    """What the pages say of an item: 待确认（市市场监管局）, 不适用（理由…，批准人，时间）…"""
    status, org = item.status, rulebook.org
    if status == "awaiting_confirmation":
        return f"待确认（{org.name(rulebook.confirmer(item.key, draft) or '')}）"
    if status == "waived":
        waiver = item.data.get(WAIVER) or {}
        at = local_text(waiver.get("decided_at")) or ""
        return (
            f"不适用（{waiver.get('reason', '')}，批准人：{waiver.get('decided_by', '')}，{at[:16].replace('T', ' ')}）"
        )
    return ITEM_STATUSES[status]


def opinions_view(draft: CaseDraft, rulebook: Rulebook) -> list[dict[str, Any]]:
    """The views the classification rests on (属地核查意见, 生态环境分局意见): text, who, when."""
    result = []
    for key, label in rulebook.spec.opinions.items():
        given = draft.flags.get(key) or {}
        unit = given.get("unit")
        result.append({
            "key": key, "label": label, "given": bool(given), "text": given.get("text"), "by": given.get("by"),
            "unit": unit, "unit_name": rulebook.org.name(unit) if unit else None, "at": local_text(given.get("at")),
            "evidence": list(given.get("evidence") or []),
        })  # fmt: skip
    return result


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
                "status": item.status,
                "status_label": _status_text(item, rulebook, draft),
                "confirmer": rulebook.confirmer(item.key, draft),
                "waiver": _decision(item.data.get(WAIVER), org),
                "confirmation": _decision(item.data.get(CONFIRMATION), org),
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
        "item_decisions": [{"item": k, "decision": d} for k, d in rulebook.item_decisions(draft, actor)],
        "opinions": opinions_view(draft, rulebook),
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
