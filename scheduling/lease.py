"""A lease row in the database elects the one scheduler that ticks.

The holder renews the lease at every tick; it lasts ``ttl`` (two ticks by default), so when the
active scheduler dies another one takes over within two ticks. Taking or renewing the lease is
a conditional update (or an insert for the first holder), safe under concurrency on SQLite and
PostgreSQL alike.
"""

from datetime import datetime, timedelta

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from cases.db import Database
from cases.models import SchedulerLease

LEASES = SchedulerLease.__table__


class Lease:
    def __init__(self, db: Database, holder: str, ttl: timedelta, name: str = "tick") -> None:
        self.db = db
        self.holder = holder
        self.ttl = ttl
        self.name = name

    def acquire(self, now: datetime) -> bool:
        """Take or renew the lease; False when another live holder has it."""
        values = {"holder": self.holder, "expires_at": now + self.ttl, "renewed_at": now}
        with self.db.write() as conn:
            taken = conn.execute(
                update(LEASES)
                .where(
                    and_(LEASES.c.name == self.name, or_(LEASES.c.holder == self.holder, LEASES.c.expires_at <= now))
                )
                .values(**values)
            ).rowcount
            if taken == 1:
                return True
            if conn.execute(select(LEASES.c.name).where(LEASES.c.name == self.name)).first() is not None:
                return False
            try:
                with conn.begin_nested():
                    conn.execute(insert(LEASES).values(name=self.name, **values))
            except IntegrityError:
                return False  # another process inserted it first
            return True

    def release(self) -> None:
        """Give the lease up (on a clean shutdown) so that another scheduler takes over at once."""
        with self.db.write() as conn:
            conn.execute(
                update(LEASES)
                .where(and_(LEASES.c.name == self.name, LEASES.c.holder == self.holder))
                .values(expires_at=datetime.fromtimestamp(0).astimezone())
            )

    def holder_now(self) -> str | None:
        with self.db.read() as conn:
            return conn.execute(select(LEASES.c.holder).where(LEASES.c.name == self.name)).scalar_one_or_none()
