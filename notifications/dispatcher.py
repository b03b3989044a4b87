"""The dispatcher: claims due outbox rows with a lease, sends each through its channel, records
the result, retries with exponential back-off and turns a message into a dead letter after the
configured number of attempts. Dead letters can be retried by hand.

A crash between sending and recording leaves the row claimed; once the lease expires another
dispatcher claims it and sends it again with the same idempotency key, which the receiving side
can recognise. Nothing is dropped: a row leaves the queue only as ``sent`` or ``dead``.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from cases.db import Database
from cases.models import Notification, User
from notifications.channels.base import Address, Channel, DeliveryError, OutgoingMessage
from notifications.config import NotificationConfig
from notifications.outbox import retry_after
from workflow.clock import Clock
from workflow.errors import InvalidInput, NotFound

log = logging.getLogger("caseflow.dispatcher")
NOTIFICATIONS = Notification.__table__
USERS = User.__table__
QUEUED = ("pending", "failed")


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    """Rows whose lease another dispatcher took over before this one recorded the result."""

    def to_dict(self) -> dict[str, Any]:
        return {"claimed": self.claimed, "sent": self.sent, "failed": self.failed, "dead": self.dead, "lost": self.lost}


class Dispatcher:
    def __init__(
        self, db: Database, channels: Mapping[str, Channel], config: NotificationConfig, clock: Clock, holder: str
    ) -> None:
        self.db = db
        self.channels = channels
        self.config = config
        self.clock = clock
        self.holder = holder

    def dispatch(self, limit: int = 200) -> DispatchReport:
        """Send what is due now (one batch of at most ``limit`` messages)."""
        report = DispatchReport()
        rows = self._claim(self.clock.now(), limit)
        report.claimed = len(rows)
        for row in rows:
            if row.lease_until <= self.clock.now():
                # the lease ran out while earlier rows were sent: another dispatcher may have
                # taken this row over, so sending it now could send it twice
                report.lost.append(row.id)
                continue
            self._send(row, report)
        return report

    def _claim(self, now: datetime, limit: int) -> list[Any]:
        until = now + timedelta(seconds=self.config.lease_seconds)
        with self.db.write() as conn:
            due = (
                select(NOTIFICATIONS.c.id)
                .where(
                    and_(
                        NOTIFICATIONS.c.status.in_(QUEUED),
                        NOTIFICATIONS.c.next_attempt_at <= now,
                        or_(NOTIFICATIONS.c.lease_until.is_(None), NOTIFICATIONS.c.lease_until <= now),
                    )
                )
                .order_by(NOTIFICATIONS.c.next_attempt_at, NOTIFICATIONS.c.id)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            ids = [r.id for r in conn.execute(due)]
            if not ids:
                return []
            conn.execute(
                update(NOTIFICATIONS)
                .where(
                    and_(
                        NOTIFICATIONS.c.id.in_(ids),
                        or_(NOTIFICATIONS.c.lease_until.is_(None), NOTIFICATIONS.c.lease_until <= now),
                    )
                )
                .values(lease_holder=self.holder, lease_until=until)
            )
            claimed = select(NOTIFICATIONS).where(
                and_(
                    NOTIFICATIONS.c.id.in_(ids),
                    NOTIFICATIONS.c.lease_holder == self.holder,
                    NOTIFICATIONS.c.lease_until == until,
                )
            )
            return list(conn.execute(claimed.order_by(NOTIFICATIONS.c.id)))

    def _address(self, row: Any) -> Address | None:
        """Where the message goes; None when its recipient's account has been deactivated."""
        if row.recipient.startswith("dept:"):
            unit, _, rest = row.recipient[5:].partition("#")
            index = int(rest.split(":", 1)[0]) if rest else 0
            hooks = self.config.webhooks_for(unit, row.event)
            if index >= len(hooks):
                return Address()
            hook = hooks[index]
            return Address(webhook_url=hook.url, webhook_kind=hook.kind, webhook_secret=hook.secret)
        with self.db.read() as conn:
            user = conn.execute(select(USERS).where(USERS.c.username == row.recipient)).first()
        if user is None:
            return Address(username=row.recipient)
        if not user.active:
            return None
        return Address(username=user.username, email=user.email, phone=user.phone)

    def _send(self, row: Any, report: DispatchReport) -> None:
        channel = self.channels.get(row.channel)
        error: DeliveryError | None = None
        address = None if channel is None else self._address(row)
        if channel is None:
            error = DeliveryError(f"未配置发送渠道“{row.channel}”", permanent=True)
        elif address is None:
            # queued before the account was deactivated: someone who left the unit is not
            # mailed about its cases any more (a dead letter: retried once reactivated)
            error = DeliveryError(f"收件人 {row.recipient} 的账号已停用，不再发送", permanent=True)
        else:
            message = OutgoingMessage(
                row.idempotency_key,
                row.channel,
                address,
                row.subject,
                row.body_text,
                row.body_html,
                row.urgent,
            )
            try:
                channel.send(message)
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 - an unexpected channel failure is a transient one
                error = DeliveryError(f"发送时发生意外错误（{type(exc).__name__}）：{exc}")
        self._record(row, error, report)

    def _record(self, row: Any, error: DeliveryError | None, report: DispatchReport) -> None:
        now = self.clock.now()
        attempts = row.attempts + 1
        if error is None:
            values: dict[str, Any] = {"status": "sent", "sent_at": now, "last_error": None}
            bucket = report.sent
        elif error.permanent or attempts >= self.config.max_attempts:
            values = {"status": "dead", "last_error": error.reason[:2000]}
            bucket = report.dead
        else:
            values = {
                "status": "failed",
                "last_error": error.reason[:2000],
                "next_attempt_at": now + retry_after(attempts, self.config),
            }
            bucket = report.failed
        with self.db.write() as conn:
            done = conn.execute(
                update(NOTIFICATIONS)
                .where(
                    and_(
                        NOTIFICATIONS.c.id == row.id,
                        NOTIFICATIONS.c.lease_holder == self.holder,
                        NOTIFICATIONS.c.lease_until == row.lease_until,
                    )
                )
                .values(attempts=attempts, lease_holder=None, lease_until=None, **values)
            ).rowcount
        if done != 1:
            report.lost.append(row.id)
            log.warning("notification %s: lease lost before the result was recorded", row.id)
            return
        if error is not None:
            log.warning("notification %s via %s: %s", row.id, row.channel, error.reason)
        bucket.append(row.id)


class Inbox:
    """Reading the outbox as people see it: the inbox, lists, dead letters and their retry."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def messages(
        self, *, user: str | None = None, failed: bool = False, unread: bool = False, channel: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:  # fmt: skip
        stmt = select(NOTIFICATIONS).order_by(NOTIFICATIONS.c.id.desc()).limit(limit)
        if channel:
            stmt = stmt.where(NOTIFICATIONS.c.channel == channel)
        if user:
            stmt = stmt.where(NOTIFICATIONS.c.recipient == user)
        if failed:
            stmt = stmt.where(NOTIFICATIONS.c.status.in_(("failed", "dead")))
        if unread:
            stmt = stmt.where(and_(NOTIFICATIONS.c.channel == "inapp", NOTIFICATIONS.c.read_at.is_(None)))
        with self.db.read() as conn:
            return [view(r) for r in conn.execute(stmt)]

    def counts(self) -> dict[str, int]:
        with self.db.read() as conn:
            rows = conn.execute(select(NOTIFICATIONS.c.status, func.count()).group_by(NOTIFICATIONS.c.status))
            return {status: int(n) for status, n in rows}

    def retry(self, ids: list[int] | None = None) -> int:
        """Put dead letters (all, or the given ids) back in the queue."""
        now = self.clock.now()
        condition = NOTIFICATIONS.c.status == "dead"
        if ids:
            condition = and_(condition, NOTIFICATIONS.c.id.in_(ids))
        with self.db.write() as conn:
            if ids:
                found = {r.id for r in conn.execute(select(NOTIFICATIONS.c.id).where(condition))}
                missing = [i for i in ids if i not in found]
                if missing:
                    raise InvalidInput("id", f"通知 {missing[0]} 不存在或不是死信（只能重试状态为 dead 的通知）")
            return conn.execute(
                update(NOTIFICATIONS)
                .where(condition)
                .values(status="pending", attempts=0, next_attempt_at=now, last_error=None)
            ).rowcount

    def mark_read(self, notification_id: int, username: str) -> None:
        with self.db.write() as conn:
            done = conn.execute(
                update(NOTIFICATIONS)
                .where(
                    and_(
                        NOTIFICATIONS.c.id == notification_id,
                        NOTIFICATIONS.c.recipient == username,
                        NOTIFICATIONS.c.channel == "inapp",
                    )
                )
                .values(read_at=func.coalesce(NOTIFICATIONS.c.read_at, self.clock.now()))
            ).rowcount
        if done != 1:
            raise NotFound("站内通知", str(notification_id))


def view(row: Any) -> dict[str, Any]:
    from cases.views import local

    return {
        "id": row.id,
        "case": row.case_number,
        "event": row.event,
        "recipient": row.recipient,
        "channel": row.channel,
        "status": row.status,
        "urgent": row.urgent,
        "subject": row.subject,
        "body": row.body_text,
        "html": row.body_html,
        "attempts": row.attempts,
        "next_attempt_at": local(row.next_attempt_at),
        "last_error": row.last_error,
        "created_at": local(row.created_at),
        "sent_at": local(row.sent_at),
        "read": row.read_at is not None,
        "idempotency_key": row.idempotency_key,
    }
