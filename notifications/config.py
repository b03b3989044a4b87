"""Notification settings from ``notifications.yaml``: office contact, link base, working hours,
delivery limits, the digest and bulletin schedule, group robots and the SMS gateway."""

from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from notifications.events import EVENTS
from workflow.errors import DefinitionError
from workflow.org import Organisation
from workflow.yamlfile import load_file

WEBHOOK_KINDS = ("wecom", "dingtalk", "json")


@dataclass(frozen=True)
class Webhook:
    department: str
    kind: str
    url: str
    secret: str | None = None
    events: tuple[str, ...] = ()
    """Events sent to this robot; empty means every event."""


@dataclass(frozen=True)
class NotificationConfig:
    office: dict[str, str]
    base_url: str
    work_start: time
    work_end: time
    max_attempts: int = 6
    backoff_seconds: int = 60
    lease_seconds: int = 120
    timeout_seconds: float = 10.0
    digest: dict[str, Any] = field(default_factory=lambda: {"hour": 8, "minute": 30})
    bulletin: dict[str, Any] = field(default_factory=lambda: {"day_of_week": "mon", "hour": 9, "minute": 0})
    webhooks: tuple[Webhook, ...] = ()
    sms_url: str | None = None
    sms_token: str | None = None

    def webhooks_for(self, department: str, event: str) -> list[Webhook]:
        return [w for w in self.webhooks if w.department == department and (not w.events or event in w.events)]


def _time(value: Any, file: str, key: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise DefinitionError(file, key, f"expected HH:MM, got {value!r}") from None


def _positive(data: dict[str, Any], name: str, default: float, file: str) -> Any:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise DefinitionError(file, f"delivery.{name}", f"expected a positive number, got {value!r}")
    return value


def load_notification_config(path: Path, org: Organisation) -> NotificationConfig:
    file = str(path)
    data = load_file(path) or {}
    if not isinstance(data, dict):
        raise DefinitionError(file, "(document)", "expected a mapping")
    hours = data.get("working_hours") or {}
    delivery = data.get("delivery") or {}
    webhooks = []
    for i, raw in enumerate(data.get("webhooks") or []):
        key = f"webhooks[{i}]"
        if not isinstance(raw, dict):
            raise DefinitionError(file, key, "expected a mapping with department, kind, url")
        dept = org.find(str(raw.get("department", "")))
        if dept is None:
            raise DefinitionError(file, f"{key}.department", f"unknown department {raw.get('department')!r}")
        if raw.get("kind") not in WEBHOOK_KINDS:
            raise DefinitionError(file, f"{key}.kind", f"expected one of {', '.join(WEBHOOK_KINDS)}")
        url = str(raw.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise DefinitionError(file, f"{key}.url", "expected an http(s) URL")
        events = tuple(raw.get("events") or ())
        unknown = [e for e in events if e not in EVENTS]
        if unknown:
            raise DefinitionError(file, f"{key}.events", f"unknown event {unknown[0]!r}")
        webhooks.append(Webhook(dept.code, raw["kind"], url, raw.get("secret"), events))
    sms = data.get("sms") or {}
    office = {k: str(v) for k, v in (data.get("office") or {}).items()}
    return NotificationConfig(
        office={
            "name": office.get("name", "联席办"),
            "host": office.get("host", ""),
            "contact": office.get("contact", ""),
        },
        base_url=str(data.get("base_url") or "http://127.0.0.1:8000").rstrip("/"),
        work_start=_time(hours.get("start", "08:30"), file, "working_hours.start"),
        work_end=_time(hours.get("end", "17:30"), file, "working_hours.end"),
        max_attempts=int(_positive(delivery, "max_attempts", 6, file)),
        backoff_seconds=int(_positive(delivery, "backoff_seconds", 60, file)),
        lease_seconds=int(_positive(delivery, "lease_seconds", 120, file)),
        timeout_seconds=float(_positive(delivery, "timeout_seconds", 10, file)),
        digest=dict((data.get("schedule") or {}).get("digest") or {"hour": 8, "minute": 30}),
        bulletin=dict((data.get("schedule") or {}).get("bulletin") or {"day_of_week": "mon", "hour": 9, "minute": 0}),
        webhooks=tuple(webhooks),
        sms_url=sms.get("url"),
        sms_token=sms.get("token"),
    )
