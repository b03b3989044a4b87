"""Notification settings from ``notifications.yaml``: office contact, link base, working hours,
delivery limits, the digest and bulletin schedule, the bulletin's document number (文号) pattern,
group robots and the SMS gateway."""

import string
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from notifications.events import EVENTS
from workflow.errors import DefinitionError
from workflow.org import Organisation
from workflow.yamlfile import load_file

WEBHOOK_KINDS = ("wecom", "dingtalk", "json")
BULLETIN_DOC_NUMBER = "桐联办通〔{year}〕{issue}号"
"""The default 文号 pattern of the weekly bulletin (DOMAIN.md §13): 机关代字〔年份〕序号号."""
DOC_NUMBER_FIELDS = ("year", "issue")


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
    bulletin_doc_number: str = BULLETIN_DOC_NUMBER
    """The bulletin's 文号 pattern, with the placeholders ``{year}`` and ``{issue}`` (期号)."""

    def bulletin_number(self, year: int, issue: int) -> str:
        """The 文号 of the bulletin of ``year`` with 期号 ``issue``: 桐联办通〔2026〕3号."""
        return self.bulletin_doc_number.format(year=year, issue=issue)

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


def doc_number_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot serve as the bulletin's 文号 pattern (in Chinese), or None."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(pattern) if name is not None]
    except ValueError:
        return f"文号格式“{pattern}”中的花括号不成对；只能使用占位符 {{year}}（年份）和 {{issue}}（期号），如“桐联办通〔{{year}}〕{{issue}}号”"
    unknown = sorted({name or "（空）" for name, _, _ in fields if name not in DOC_NUMBER_FIELDS})
    if unknown:
        return f"文号格式“{pattern}”含有不认识的占位符 {'、'.join('{' + n + '}' for n in unknown)}；只能使用 {{year}}（年份）和 {{issue}}（期号）"
    if any(spec or conv for _, spec, conv in fields):
        return (
            f"文号格式“{pattern}”的占位符不能带格式或转换（如 {{issue:03d}}、{{year!r}}）；只写 {{year}} 和 {{issue}}"
        )
    missing = [name for name in DOC_NUMBER_FIELDS if name not in {n for n, _, _ in fields}]
    if missing:
        names = "、".join("{" + n + "}" for n in missing)
        return f"文号格式“{pattern}”缺少占位符 {names}；文号应为 机关代字〔{{year}}〕{{issue}}号"
    return None


def _doc_number(data: dict[str, Any], file: str) -> str:
    value = data.get("bulletin_doc_number", BULLETIN_DOC_NUMBER)
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(
            file, "bulletin_doc_number", f"应为文号格式字符串，如“{BULLETIN_DOC_NUMBER}”，而不是 {value!r}"
        )
    problem = doc_number_problem(value.strip())
    if problem:
        raise DefinitionError(file, "bulletin_doc_number", problem)
    return value.strip()


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
        bulletin_doc_number=_doc_number(data, file),
    )
