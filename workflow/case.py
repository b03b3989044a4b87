"""The plain, in-memory view of one case that the pure rules read and change.

``cases/`` loads a ``CaseDraft`` from the database, hands it to ``workflow.rulebook`` and writes
back what changed. A draft is never a database row (see PITFALLS.md on transitions models).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ITEM_STATUSES = {
    "open": "待办理",
    "waiver_pending": "不适用申请待审批",
    "awaiting_confirmation": "待确认",
    "waived": "不适用（已批准）",
    "done": "已完成",
}
"""What an item's ``status`` may be, with the words the pages show."""
WAIVER = "waiver"
"""Key in ``ItemState.data`` of the 不适用 declaration: reason, by, unit, at, evidence, status
(``pending``, ``approved``, ``rejected``) and the decision (decided_by, decided_at, decision_reason)."""
CONFIRMATION = "confirmation"
"""Key in ``ItemState.data`` of a report awaiting its department's confirmation: department,
reported_by, reported_at, status (``pending``, ``confirmed``, ``rejected``) and the decision."""


@dataclass
class ItemState:
    """One checklist item, rectification item or acceptance sign-off of a case."""

    checklist: str
    key: str
    label: str
    position: int
    done: bool = False
    done_by: str | None = None
    done_at: datetime | None = None
    evidence: list[str] = field(default_factory=list)
    """SHA-256 of each file attached."""
    data: dict[str, Any] = field(default_factory=dict)
    """Fields given on completion (``meter_reading``, ``notes``)."""

    def reset(self) -> None:
        self.done, self.done_by, self.done_at = False, None, None
        self.evidence, self.data = [], {}

    @property
    def status(self) -> str:
        """``open``, ``waiver_pending``, ``awaiting_confirmation``, ``waived`` or ``done``
        (``ITEM_STATUSES``); only ``waived`` and ``done`` count as complete (``done`` is True)."""
        waiver = self.data.get(WAIVER) or {}
        if self.done:
            return "waived" if waiver.get("status") == "approved" else "done"
        if waiver.get("status") == "pending":
            return "waiver_pending"
        if (self.data.get(CONFIRMATION) or {}).get("status") == "pending":
            return "awaiting_confirmation"
        return "open"


@dataclass
class CaseDraft:
    type: str
    number: str
    state: str
    fields: dict[str, Any] = field(default_factory=dict)
    """Registration fields and fields stored by actions (``lead_unit``, ``result`` …)."""
    counters: dict[str, int] = field(default_factory=dict)
    co_units: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Co-unit code → ``accepted_at``, ``feedback_at`` (ISO instants or None), ``feedback``."""
    items: dict[str, ItemState] = field(default_factory=dict)
    flags: dict[str, Any] = field(default_factory=dict)
    """Workflow bookkeeping: ``category`` (ban/rectify), ``classified_on``, ``pending_extension``,
    ``raised_to_convenors`` …"""
    due_at: datetime | None = None
    signals: list[str] = field(default_factory=list)
    """What the last decision asks of the deadline and notification rules, e.g.
    ``clock:restart:5wd``; not stored."""

    def count(self, name: str) -> int:
        return self.counters.get(name, 0)

    def bump(self, name: str) -> None:
        self.counters[name] = self.count(name) + 1

    def items_of(self, checklist: str) -> list[ItemState]:
        return sorted((i for i in self.items.values() if i.checklist == checklist), key=lambda i: i.position)
