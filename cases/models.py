"""SQLModel tables. Table models do not validate input (validation is ``workflow.fields``'s job);
states are stored as strings, instants as timezone-aware UTC, JSON columns are replaced whole
(never mutated in place). The schema is created by Alembic migrations, not by ``create_all``.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, false
from sqlmodel import Field, SQLModel


def _json(default: Any) -> Any:
    return Field(default_factory=lambda: type(default)(), sa_column=Column(JSON, nullable=False))


class Case(SQLModel, table=True):
    __tablename__ = "case"
    __table_args__ = (
        Index("ix_case_type_state", "type", "state"),
        Index("ix_case_next_check_at", "next_check_at"),
        Index("ix_case_supervision", "supervision"),
        Index("ix_case_board_supervision", "state", "type", "supervision", "town"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    type: str = Field(max_length=64)
    definition_version: str = Field(max_length=64)
    state: str = Field(max_length=64)
    version: int = 1
    title: str = Field(max_length=300, description="title or site name, for lists and search")
    lead_unit: str | None = Field(default=None, max_length=64, index=True)
    town: str | None = Field(default=None, max_length=64, index=True)
    uscc: str | None = Field(default=None, max_length=18, index=True)
    fields: dict[str, Any] = _json({})
    counters: dict[str, Any] = _json({})
    co_units: dict[str, Any] = _json({})
    flags: dict[str, Any] = _json({})
    due_at: datetime | None = None
    due_date: date | None = None
    due_provisional: bool = False
    ladder_level: str = Field(default="normal", max_length=16)
    """The level of the case's own clock (its running deadline's ladder)."""
    supervision: str = Field(default="normal", max_length=16, sa_column_kwargs={"server_default": "normal"})
    """What the case shows and lists filter by: the highest level of its clock and its open
    obligations (a late 断水 makes the site's case 挂牌督办 while its own clock is in time)."""
    deadline_seq: int = 0
    next_check_at: datetime | None = None
    created_by: str = Field(max_length=64)
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    event_seq: int = 0
    head_hash: str = Field(max_length=64)


class CaseItem(SQLModel, table=True):
    __tablename__ = "case_item"
    __table_args__ = (
        UniqueConstraint("case_id", "key", name="uq_case_item_key"),
        Index("ix_case_item_executor_open", "executor", "done"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    checklist: str = Field(max_length=32)
    key: str = Field(max_length=64)
    label: str = Field(max_length=100)
    position: int
    executor: str | None = Field(default=None, max_length=64, description="department code, if one")
    done: bool = False
    done_by: str | None = Field(default=None, max_length=64)
    done_at: datetime | None = None
    evidence: list[str] = _json([])
    data: dict[str, Any] = _json({})


class CaseEvent(SQLModel, table=True):
    """One append-only, hash-chained entry of a case's history."""

    __tablename__ = "case_event"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_case_event_seq"),
        Index("ix_case_event_trigger_at", "trigger", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id")
    seq: int
    at: datetime
    actor: str = Field(max_length=64)
    trigger: str = Field(max_length=64)
    from_state: str | None = Field(default=None, max_length=64)
    to_state: str = Field(max_length=64)
    comment: str | None = None
    payload: dict[str, Any] = _json({})
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=64)
    department: str = Field(max_length=64, index=True)
    roles: list[str] = _json([])
    password_hash: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=32)
    channels: list[str] = Field(
        default_factory=lambda: ["inapp", "email"],
        sa_column=Column(JSON, nullable=False, server_default='["inapp", "email"]'),
    )
    """Channels the user wants messages on (in-app is always on)."""
    active: bool = True
    created_at: datetime


class EvidenceFile(SQLModel, table=True):
    __tablename__ = "evidence_file"

    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    media_type: str = Field(max_length=100)
    original_name: str = Field(max_length=255)
    created_by: str = Field(max_length=64)
    created_at: datetime


class CaseCounter(SQLModel, table=True):
    """The last number given per workflow type and year (``QY-2026-00001``)."""

    __tablename__ = "case_counter"

    type: str = Field(primary_key=True, max_length=64)
    year: int = Field(primary_key=True)
    last: int = 0


class WorkflowDefinition(SQLModel, table=True):
    """Every definition version a case was started on, so that old cases keep their rules."""

    __tablename__ = "workflow_definition"

    version: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=64)
    source_file: str = Field(max_length=500)
    source_text: str
    loaded_at: datetime


class CalendarDay(SQLModel, table=True):
    """A day an admin entered in the working-day calendar (``caseflow calendar add``). It wins
    over the package and ``config/calendar`` data for that day; its year becomes known.
    ``created_by``/``created_at`` are the latest change; ``calendar_change`` keeps every one."""

    __tablename__ = "calendar_day"

    day: date = Field(primary_key=True)
    kind: str = Field(max_length=16, description="'holiday' (放假) or 'workday' (调休上班)")
    name: str = Field(max_length=50)
    created_by: str = Field(max_length=64)
    created_at: datetime


class CalendarChange(SQLModel, table=True):
    """Append-only history of admin changes to the calendar (one row per ``calendar add``)."""

    __tablename__ = "calendar_change"

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(index=True)
    kind: str = Field(max_length=16)
    name: str = Field(max_length=50)
    previous_kind: str | None = Field(default=None, max_length=16, description="kind before, if any")
    previous_name: str | None = Field(default=None, max_length=50)
    actor: str = Field(max_length=64)
    at: datetime


class LadderStep(SQLModel, table=True):
    """One row per supervision step of one deadline: the unique key makes every escalation
    happen at most once, however many sweepers run."""

    __tablename__ = "ladder_step"
    __table_args__ = (UniqueConstraint("case_id", "deadline_seq", "level", name="uq_ladder_step"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id")
    deadline_seq: int
    level: str = Field(max_length=16)
    at: datetime
    actor: str = Field(max_length=64)


class SchedulerLease(SQLModel, table=True):
    """Which scheduler process ticks: the holder renews the lease every tick; another process
    takes over once it has expired."""

    __tablename__ = "scheduler_lease"

    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=128)
    expires_at: datetime
    renewed_at: datetime


class Notification(SQLModel, table=True):
    """The outbox and the in-app inbox: one row per (event, recipient, channel), written in the
    transaction of the case change that caused it, delivered later by the dispatcher."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_due", "status", "next_attempt_at"),
        Index("ix_notification_recipient", "recipient", "channel", "read_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    case_number: str | None = Field(default=None, max_length=32)
    event: str = Field(max_length=32)
    recipient: str = Field(max_length=64, description="user name, or dept:<code> for a group robot")
    channel: str = Field(max_length=16)
    urgent: bool = False
    subject: str = Field(max_length=300)
    body_text: str
    body_html: str | None = None
    status: str = Field(default="pending", max_length=16, description="pending|sent|failed|dead")
    attempts: int = 0
    next_attempt_at: datetime
    lease_holder: str | None = Field(default=None, max_length=128)
    lease_until: datetime | None = None
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None
    read_at: datetime | None = None


class CaseUnit(SQLModel, table=True):
    """Which units a case concerns (lead, co-units, town, review department, item executors):
    what a handler of that unit may see, and the index behind unit-scoped lists."""

    __tablename__ = "case_unit"

    case_id: int = Field(foreign_key="case.id", primary_key=True)
    unit: str = Field(max_length=64, primary_key=True, index=True)
    waiting: bool = False
    """The case waits on this unit now (its clock is on the unit, or it has an open item)."""


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    username: str = Field(max_length=64, index=True)
    kind: str = Field(default="api", max_length=16, description="api (bearer) or web (session cookie)")
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    address: str | None = Field(default=None, max_length=64)


class SignInAttempt(SQLModel, table=True):
    __tablename__ = "signin_attempt"
    __table_args__ = (Index("ix_signin_user_at", "username", "at"), Index("ix_signin_address_at", "address", "at"))

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    address: str = Field(max_length=64)
    at: datetime
    success: bool
    rate_limited: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    """Refused with 429 before the password was checked; never counted against the limit."""


class IdempotentRequest(SQLModel, table=True):
    """The first response to a POST with an ``Idempotency-Key``, returned again on a retry."""

    __tablename__ = "idempotent_request"

    key: str = Field(primary_key=True, max_length=200)
    username: str = Field(primary_key=True, max_length=64)
    method: str = Field(max_length=8)
    path: str = Field(max_length=500)
    status_code: int
    """0 while the first request is in progress (a reservation)."""
    body: str
    created_at: datetime
    """When the key was reserved (a reservation older than the web layer's limit is abandoned)."""
    fingerprint: str | None = Field(default=None, max_length=64)
    """SHA-256 of the first request's method, path and parsed body: a reuse with another body is refused."""


class Obligation(SQLModel, table=True):
    """One thing one unit owes on one case (责任事项): opened and closed by the decisions that
    change the case, in their transaction (``cases.obligations``). Open rows are the units' 待办;
    closed rows say by whom and whether on time — every report counts these."""

    __tablename__ = "obligation"
    __table_args__ = (
        Index("ix_obligation_unit_open", "unit", "closed_at", "due_at"),
        Index("ix_obligation_case", "case_id", "closed_at"),
        Index("ix_obligation_next_check_at", "next_check_at"),
        Index("ix_obligation_closed_at", "closed_at"),
        Index("ix_obligation_lead_open", "lead", "closed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id")
    key: str = Field(max_length=64)
    """The definition's obligation key (``accept``) or a checklist item's key (``cut_water``)."""
    kind: str = Field(max_length=16, description="state (of the definition) or item (a checklist item)")
    measure: str | None = Field(default=None, max_length=16, description="accept (签收) or complete (办结)")
    label: str = Field(max_length=100)
    unit: str = Field(max_length=64)
    lead: str | None = Field(default=None, max_length=64)
    """The case's lead unit (else its town) while the obligation is open: what the cases a unit
    leads wait on from others is read by it."""
    roles: list[str] = _json([])
    ready: bool = True
    """The unit can act on it now (False while it waits on another unit: an extension ruling)."""
    follows_clock: bool = False
    """Its deadline is the case's running deadline (and its level the case's ladder level)."""
    opened_at: datetime
    opened_trigger: str = Field(max_length=64)
    """The decision that opened it (``assign``, ``send_back`` for a 重办 …, ``import``, ``backfill``)."""
    due_at: datetime | None = None
    due_date: date | None = None
    due_provisional: bool = False
    level: str = Field(default="normal", max_length=16)
    """Its supervision level (正常 … 挂牌督办)."""
    ever_overdue: bool = False
    next_check_at: datetime | None = None
    """When its own ladder climbs next (obligations with their own deadline only)."""
    closed_at: datetime | None = None
    closed_by: str | None = Field(default=None, max_length=64)
    closed_trigger: str | None = Field(default=None, max_length=64)
    """The decision that closed it (``accept``, ``return`` …)."""
    outcome: str | None = Field(default=None, max_length=16)
    """``done`` (discharged by its unit, or the decision it waited for) or ``withdrawn`` (reassigned,
    removed, the case moved on without it)."""
    on_time: bool | None = None
