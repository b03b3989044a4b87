"""Words people read (field values: ``workflow.values``, re-exported here): Chinese labels of field values, triggers, events and supervision levels,
times in Asia/Shanghai, and the remaining working days of a deadline."""

from datetime import date, datetime
from typing import Any

from cases.views import ENGINE_TRIGGER_LABELS
from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI
from workflow.ladder import LEVEL_COLOURS, LEVEL_LABELS
from workflow.org import Organisation
from workflow.spec import WorkflowSpec
from workflow.values import FLAG_LABELS, item_labels, value_labels, value_text

__all__ = ["FLAG_LABELS", "item_labels", "value_labels", "value_text"]  # re-exported for the pages

LEVEL_CSS = {"normal": "normal", "warned": "blue", "overdue": "yellow", "supervised": "orange", "listed": "red"}
SYSTEM_TRIGGERS = ENGINE_TRIGGER_LABELS
KIND_GROUPS = (("unit", "成员单位"), ("street", "街道"), ("town", "镇"), ("park", "园区"))
CHANNELS = {"inapp": "站内", "email": "邮件", "webhook": "群机器人", "sms": "短信"}
STATUSES = {"pending": "待发送", "sent": "已发送", "failed": "发送失败", "dead": "未送达"}


def level_label(level: str) -> str:
    colour = LEVEL_COLOURS.get(level, "")
    return f"{LEVEL_LABELS.get(level, level)}（{colour}）" if colour else LEVEL_LABELS.get(level, level)


def when(value: Any, with_time: bool = True) -> str:
    """``2026-09-30 10:00`` in Asia/Shanghai from an ISO string or a datetime."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        local = value.astimezone(SHANGHAI)
        return local.strftime("%Y-%m-%d %H:%M") if with_time else local.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def trigger_label(spec: WorkflowSpec | None, trigger: str) -> str:
    if trigger in SYSTEM_TRIGGERS:
        return SYSTEM_TRIGGERS[trigger]
    if spec is not None:
        labels = [t.label for t in spec.transitions if t.trigger == trigger]
        if len(labels) == 1:
            return labels[0]
        if labels:
            common = labels[0].split("（")[0]
            return common
    return trigger


def remaining(calendar: WorkingCalendar, today: date, due: str | None) -> dict[str, Any] | None:
    """The working days left to a due date, as a short phrase and a tone."""
    if not due:
        return None
    days = calendar.working_days_between(today, date.fromisoformat(due))
    if days > 0:
        return {"days": days, "text": f"剩余{days}个工作日", "tone": "soon" if days <= 1 else "ok"}
    if days == 0 and date.fromisoformat(due) >= today:
        return {"days": 0, "text": "今天到期", "tone": "soon"}
    return {"days": days, "text": f"已逾期{-days}个工作日" if days < 0 else "已到期", "tone": "late"}


def department_groups(org: Organisation, kinds: tuple[str, ...] = ()) -> list[tuple[str, list[tuple[str, str]]]]:
    """Departments grouped by kind for pickers: ``[(group label, [(code, name)])]``."""
    groups = []
    for kind, label in KIND_GROUPS:
        if kinds and kind not in kinds:
            continue
        members = [(d.code, d.name) for d in org.departments if d.kind == kind]
        if members:
            groups.append((label, members))
    return groups
