"""``cases.figures.unit_figures`` against a plain-Python reading of its definitions, on random
obligations (opened, closed, due and levels scattered around the period), on SQLite and
PostgreSQL: the GROUP BY reads only the obligations open at some time since the period's start
(by the index on ``closed_at``), and must count exactly what the definitions say."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from helpers import Actors, enterprise_fields
from sqlalchemy import insert

from caseflow.app import App
from cases.figures import LEVELS_COUNTED, Period, parse_period, unit_figures
from cases.obligations import OBLIGATIONS

UNITS = ("power", "water", "drc", "sti")
ORIGIN = datetime(2026, 9, 1, tzinfo=UTC)


def _random_obligation(rng: random.Random, case_id: int) -> dict[str, Any]:
    opened = ORIGIN + timedelta(hours=rng.randrange(0, 24 * 90))
    due = opened + timedelta(hours=rng.randrange(1, 24 * 20)) if rng.random() < 0.9 else None
    closed = opened + timedelta(hours=rng.randrange(1, 24 * 30)) if rng.random() < 0.7 else None
    outcome = rng.choice(("done", "done", "withdrawn")) if closed else None
    return {
        "case_id": case_id, "key": "k", "kind": "state", "label": "事项", "unit": rng.choice(UNITS), "roles": ["handler"],
        "measure": rng.choice((None, "accept", "complete")), "ready": True, "follows_clock": False,
        "opened_at": opened, "opened_trigger": rng.choice(("assign", "send_back", "reopen", "import")),
        "due_at": due, "due_date": due.date() if due else None, "due_provisional": False,
        "level": rng.choice(("normal", *LEVELS_COUNTED)), "ever_overdue": False, "next_check_at": None,
        "closed_at": closed, "closed_by": "someone" if closed else None,
        "closed_trigger": rng.choice(("accept", "return", "answer")) if closed else None, "outcome": outcome,
        "on_time": (closed < due) if closed and due else None,
    }  # fmt: skip


def _reference(rows: list[dict[str, Any]], period: Period, now: datetime) -> dict[str, dict[str, int]]:
    start, end = period.start, period.end
    as_of = min(end, now)
    result: dict[str, dict[str, int]] = {}
    for o in rows:
        opened, closed, due = o["opened_at"], o["closed_at"], o["due_at"]
        active = opened < end and (closed is None or closed >= start)
        opened_in = start <= opened < end
        done_in = closed is not None and start <= closed < end and o["outcome"] == "done"
        accept, complete, on_time = o["measure"] == "accept", o["measure"] == "complete", o["on_time"] is True
        returned = o["closed_trigger"] == "return"
        open_at_end = opened < as_of and (closed is None or closed >= as_of)
        late_by = due is not None and start <= due < as_of
        counts = {
            "assigned": accept and opened_in,
            "accepted": accept and done_in and not returned,
            "accepted_on_time": accept and done_in and not returned and on_time,
            "returned": accept and done_in and returned,
            "done": done_in,
            "done_on_time": done_in and on_time,
            "completed": complete and done_in,
            "reworks": complete and opened_in and o["opened_trigger"] in ("send_back", "reopen"),
            "overdue_open": open_at_end and due is not None and due <= as_of,
            "went_overdue": late_by and (closed is None or closed >= due),
            **{level: active and o["level"] == level for level in LEVELS_COUNTED},
        }
        unit = result.setdefault(o["unit"], dict.fromkeys(counts, 0))
        for name, counted in counts.items():
            unit[name] += bool(counted)
    return {u: c for u, c in result.items() if any(c.values())}


def test_unit_figures_count_what_the_definitions_say(app: App, actors: Actors) -> None:
    case_id = app.cases.create("enterprise_issue", actors.dispatcher, enterprise_fields())["id"]
    rng = random.Random(20261207)
    rows = [_random_obligation(rng, case_id) for _ in range(600)]
    with app.db.write() as conn:
        conn.execute(OBLIGATIONS.delete())
        conn.execute(insert(OBLIGATIONS), rows)
    periods = ("2026-W40", "2026-10", "2026-Q4", "2026-09-14~2026-11-08", "2026-11")
    checked = 0
    for text in periods:
        period = parse_period(text)
        for now in (period.start + (period.end - period.start) / 3, datetime(2027, 1, 5, tzinfo=UTC)):  # in, after
            with app.db.read() as conn:
                found = unit_figures(conn, period, now, app.calendar.calendar(conn))
            expected = _reference(rows, period, now)
            got = {
                u: {name: getattr(f, name) for name in next(iter(expected.values()))}
                for u, f in found.items() if u in expected or any(getattr(f, n) for n in next(iter(expected.values())))
            }  # fmt: skip
            wrong = {
                (u, name): (got.get(u, {}).get(name), want)
                for u, counts in expected.items() for name, want in counts.items() if got.get(u, {}).get(name) != want
            }  # fmt: skip
            assert not wrong and got.keys() == expected.keys(), (text, now, wrong)
            checked += sum(sum(c.values()) for c in expected.values())
    assert checked > 1000  # the random rows do fall into every kind of figure
