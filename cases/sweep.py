"""The sweep: every step that has fallen due — supervision ladder levels, and triggers a
definition schedules (the revisit of a closed site) — performed exactly once.

Due cases are selected by the indexed ``next_check_at`` in batches, so the cost follows the due
work, not the number of cases. Each batch is one write transaction; each case inside it has its
own savepoint, a conditional update on its version and, for ladder steps, a row under a unique
key, so two sweepers (or a sweeper and a handler) never do a step twice. After downtime the
first sweep catches up every level that fell due, in order, each its own event.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from cases import obligations, supervision
from cases import repository as repo
from cases.changes import ChangeSink, write_change
from cases.db import Database
from cases.definitions import Definitions
from cases.views import local
from workflow import ladder
from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI, Clock
from workflow.deadlines import ClockBasis, compute
from workflow.errors import VersionConflict
from workflow.org import Actor

BATCH = 50
"""Cases per write transaction: small, so that a long sweep lets handlers write between batches."""


@dataclass(frozen=True)
class Step:
    case: str
    action: str
    """A ladder trigger (``warn``, ``mark_overdue``, ``supervise``, ``list``) or a workflow trigger."""
    level: str | None
    to_state: str
    scheduled_for: datetime
    obligation: str | None = None
    """For a step of one obligation's own ladder: its key and unit (``cut_power@power``)."""


@dataclass
class SweepReport:
    now: datetime
    steps: list[Step] = field(default_factory=list)
    cases: int = 0
    skipped: list[str] = field(default_factory=list)
    """Cases another writer changed first (they are picked up by the next sweep if still due)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": local(self.now),
            "cases": self.cases,
            "steps": [
                {
                    "case": s.case,
                    "action": s.action,
                    "level": s.level,
                    "to_state": s.to_state,
                    "scheduled_for": local(s.scheduled_for),
                    "obligation": s.obligation,
                }
                for s in self.steps
            ],
            "skipped": self.skipped,
        }


class Sweeper:
    def __init__(
        self, db: Database, definitions: Definitions, clock: Clock, calendar: Callable[[Connection], WorkingCalendar]
    ) -> None:
        self.db = db
        self.definitions = definitions
        self.clock = clock
        self.calendar = calendar
        self.sinks: list[ChangeSink] = []

    def sweep(
        self, now: datetime | None = None, batch: int = BATCH, between_batches: Callable[[], bool] | None = None
    ) -> SweepReport:
        """Perform every step due at ``now`` (default: the clock's now). ``between_batches`` is
        called after each committed batch (the scheduler renews its lease there); when it returns
        False the sweep stops, and what is left stays due for the next sweep."""
        now = now or self.clock.now()
        report = SweepReport(now)
        seen: set[int] = set()
        while True:
            with self.db.write() as conn:
                rows = [r for r in repo.due_cases(conn, now, batch) if r.id not in seen]
                calendar = self.calendar(conn)
                for row in rows:
                    seen.add(row.id)
                    self._one(conn, dict(row._mapping), now, calendar, report)
            if not rows:
                break
            if between_batches is not None and not between_batches():
                return report
        done: set[int] = set()
        while True:  # obligations with deadlines of their own (an item, a co-unit's feedback)
            with self.db.write() as conn:
                due = [o for o in obligations.due_for_ladder(conn, now, batch) if o.id not in done]
                calendar = self.calendar(conn)
                for ob in due:
                    done.add(ob.id)
                    self._obligation(conn, ob, now, calendar, report)
            if not due or (between_batches is not None and not between_batches()):
                return report

    def recompute_deadlines(self, changed_day: date | None = None) -> list[dict[str, Any]]:
        """Recompute open deadlines after the calendar changed: every provisional one (computed
        on the weekends-only fallback), and every one that ends on or after ``changed_day`` or
        whose next ladder check is counted across it; without ``changed_day``, every open one.
        Each deadline that moves (or stops being provisional) is an event in its case's history;
        a ladder moment that moves while the deadline stays (due + 3wd across an adjusted working
        day) only moves the next check, like the sweep does (scheduling data, no event)."""
        now = self.clock.now()
        changed: list[dict[str, Any]] = []
        changed_from = datetime.combine(changed_day, time(0), SHANGHAI) if changed_day is not None else None
        with self.db.write() as conn:
            calendar = self.calendar(conn)
            for found in repo.deadlines_to_recompute(conn, changed_day, changed_from):
                row = dict(found._mapping)
                raw = (row["flags"] or {}).get("clock")
                if not raw or row["due_at"] is None:
                    continue
                rulebook = self.definitions.pinned(conn, row["definition_version"])
                basis = ClockBasis.from_dict(raw)
                deadline = compute(basis, calendar)
                if deadline.due_date == row["due_date"] and deadline.provisional == row["due_provisional"]:
                    moments = supervision.current_schedule(rulebook.spec, row, calendar)
                    at = supervision.next_check(row["ladder_level"], moments)
                    if at != row["next_check_at"]:
                        self._reschedule(conn, row, at)
                    continue
                items = repo.items_of(conn, row["id"]) if rulebook.spec.checklists else []
                draft = repo.to_draft(row, items)
                columns = supervision.deadline_columns(
                    rulebook.spec, draft, basis, deadline, row["deadline_seq"], calendar, level=row["ladder_level"]
                )
                old = {"due_date": row["due_date"].isoformat(), "provisional": row["due_provisional"]}
                new = {"due_date": deadline.due_date.isoformat(), "provisional": deadline.provisional}
                write_change(
                    conn, row, items, draft, rulebook, trigger="recompute_deadline", actor="system",
                    note="工作日历更新，重新计算期限", payload={"old": old, "new": new}, now=now, calendar=calendar, sinks=self.sinks, columns=columns,
                )  # fmt: skip
                changed.append({"case": row["number"], "old": old, "new": new})
        return changed

    def _one(
        self, conn: Connection, row: dict[str, Any], now: datetime, calendar: WorkingCalendar, report: SweepReport
    ) -> None:
        try:
            with conn.begin_nested():
                steps = self._due_steps(conn, row, now, calendar)
        except (VersionConflict, IntegrityError):
            report.skipped.append(row["number"])
            return
        report.cases += 1
        report.steps.extend(steps)

    def _due_steps(self, conn: Connection, row: dict[str, Any], now: datetime, calendar: WorkingCalendar) -> list[Step]:
        rulebook = self.definitions.pinned(conn, row["definition_version"])
        spec = rulebook.spec
        items = repo.items_of(conn, row["id"]) if spec.checklists else []
        draft = repo.to_draft(row, items)
        raw = draft.flags.get("clock")
        if not raw or row["due_at"] is None:  # no running clock: nothing can fall due
            self._reschedule(conn, row, None)
            return []
        basis = ClockBasis.from_dict(raw)
        if basis.on_expiry != "ladder":
            step, row = self._expire(conn, row, items, draft, rulebook, basis, now, calendar)
            # the clock that starts now may itself have fallen due during a downtime
            later = (
                self._due_steps(conn, row, now, calendar)
                if row["next_check_at"] and row["next_check_at"] <= now
                else []
            )
            return [step, *later]
        moments = supervision.schedule(spec, basis, row["due_date"], row["due_at"], calendar)
        steps = []
        overdue = ladder.overdue_moment(moments)
        if overdue and overdue.at <= now and supervision.overdue_unrecorded(draft.flags, row["deadline_seq"]):
            step, row = self._record_overdue(conn, row, items, draft, rulebook, overdue, moments, now, calendar)
            items = repo.items_of(conn, row["id"]) if spec.checklists else []
            steps.append(step)
        for moment in ladder.due_steps(row["ladder_level"], moments, now):
            trigger = ladder.TRIGGER_OF[moment.level]
            level = ladder.fire(row["ladder_level"], trigger)
            repo.record_ladder_step(conn, row["id"], row["deadline_seq"], level, now, "system")
            if level in ("overdue", "supervised", "listed"):
                draft.flags["ever_overdue"] = True
            payload = {"level": level, "from_level": row["ladder_level"], "deadline_seq": row["deadline_seq"],
                       "due_date": row["due_date"].isoformat(), "scheduled_for": local(moment.at)}  # fmt: skip
            unrecorded = supervision.overdue_unrecorded(draft.flags, row["deadline_seq"])
            columns = {"ladder_level": level, "next_check_at": supervision.next_check(level, moments, unrecorded)}
            row = write_change(
                conn, row, items, draft, rulebook, trigger=trigger, actor="system", note=None,
                payload=payload, now=now, calendar=calendar, sinks=self.sinks, columns=columns,
            )  # fmt: skip
            items = repo.items_of(conn, row["id"]) if spec.checklists else []
            steps.append(Step(row["number"], trigger, level, row["state"], moment.at))
        if not steps:  # nothing above the current level is due (e.g. already raised by hand)
            unrecorded = supervision.overdue_unrecorded(draft.flags, row["deadline_seq"])
            self._reschedule(conn, row, supervision.next_check(row["ladder_level"], moments, unrecorded))
        return steps

    def _obligation(
        self, conn: Connection, ob: Any, now: datetime, calendar: WorkingCalendar, report: SweepReport
    ) -> None:
        """Climb one obligation's own ladder: each level that fell due is one event on its case,
        whose notices go to the unit that owes it."""
        try:
            with conn.begin_nested():
                row = dict(repo.find_case(conn, ob.case_id, lock=True)._mapping)
                rulebook = self.definitions.pinned(conn, row["definition_version"])
                moments = obligations.schedule_of(rulebook, ob, calendar)
                current = ob.level
                steps = ladder.due_steps(current, moments, now)
                if not steps:
                    obligations.climb(conn, ob.id, current, current, ladder.next_check(current, moments))
                    return
                for moment in steps:
                    level = ladder.fire(current, ladder.TRIGGER_OF[moment.level])
                    if not obligations.climb(conn, ob.id, current, level, ladder.next_check(level, moments)):
                        raise VersionConflict(row["number"], row["version"], row["version"])
                    items = repo.items_of(conn, row["id"]) if rulebook.spec.checklists else []
                    payload = {
                        "level": level, "from_level": current, "obligation": ob.key, "obligation_label": ob.label,
                        "obligation_unit": ob.unit, "due_date": ob.due_date.isoformat(), "due_at": local(ob.due_at),
                        "scheduled_for": local(moment.at),
                    }  # fmt: skip
                    trigger = ladder.TRIGGER_OF[moment.level]
                    row = write_change(
                        conn, row, items, repo.to_draft(row, items), rulebook, trigger=trigger, actor="system",
                        note=f"{ob.label}（{self.definitions.org.name(ob.unit)}）", payload=payload, now=now,
                        calendar=calendar, sinks=self.sinks,
                    )  # fmt: skip
                    report.steps.append(
                        Step(row["number"], trigger, level, row["state"], moment.at, f"{ob.key}@{ob.unit}")
                    )
                    current = level
        except (VersionConflict, IntegrityError):
            report.skipped.append(f"{ob.case_id}:{ob.key}")

    def _record_overdue(self, conn: Connection, row: dict[str, Any], items: list[Any], draft: Any, rulebook: Any,
                        overdue: ladder.Moment, moments: list[ladder.Moment],
                        now: datetime, calendar: WorkingCalendar) -> tuple[Step, dict[str, Any]]:  # fmt: skip
        """``due_at`` passed while the case stood above ``overdue`` (raised by hand before): record
        that it went overdue — ``flags.ever_overdue``, the ``overdue`` ladder row of this deadline
        (the dashboard's 超期; its unique key keeps it once) and a ``record_overdue`` event (the
        bulletin's 累计超期数) — without a level change, so no 催办 notice is sent after the 督办."""
        level = row["ladder_level"]
        draft.flags["ever_overdue"] = True
        draft.flags.pop(supervision.OVERDUE_UNRECORDED, None)
        repo.record_ladder_step(conn, row["id"], row["deadline_seq"], "overdue", now, "system")
        payload = {"level": level, "from_level": level, "deadline_seq": row["deadline_seq"],
                   "due_date": row["due_date"].isoformat(), "scheduled_for": local(overdue.at)}  # fmt: skip
        columns = {"next_check_at": supervision.next_check(level, moments)}
        new_row = write_change(
            conn, row, items, draft, rulebook, trigger=ladder.RECORD_OVERDUE, actor="system", note=None,
            payload=payload, now=now, calendar=calendar, sinks=self.sinks, columns=columns,
        )  # fmt: skip
        return Step(new_row["number"], ladder.RECORD_OVERDUE, level, new_row["state"], overdue.at), new_row

    def _reschedule(self, conn: Connection, row: dict[str, Any], at: datetime | None) -> None:
        """Move the next check; scheduling data, not a change of the case (no event)."""
        if not repo.set_next_check(conn, row["id"], row["version"], at):
            raise VersionConflict(row["number"], row["version"], row["version"] + 1)

    def _expire(self, conn: Connection, row: dict[str, Any], items: list[Any], draft: Any, rulebook: Any,
                basis: ClockBasis, now: datetime, calendar: WorkingCalendar) -> tuple[Step, dict[str, Any]]:  # fmt: skip
        """Fire the trigger a clock schedules (e.g. ``revisit`` 30 days after closing)."""
        from_state = draft.state
        fell_due = row["due_at"]  # after downtime the next clock still starts when this one ended
        decision = rulebook.decide(draft, basis.on_expiry, Actor.system(), {}, fell_due)
        clock = supervision.after_decision(rulebook.spec, draft, row, from_state, False, fell_due, calendar)
        payload: dict[str, Any] = {"fields": {}, "scheduled_for": local(row["due_at"])}
        if clock.note is not None:
            payload["deadline"] = clock.note
        new_row = write_change(
            conn, row, items, draft, rulebook, trigger=decision.trigger, actor="system", note=None,
            payload=payload, now=now, calendar=calendar, sinks=self.sinks, columns=clock.columns,
        )  # fmt: skip
        return Step(new_row["number"], decision.trigger, None, new_row["state"], row["due_at"]), new_row
