"""``caseflow sweep [--json]`` as a user (or cron) runs it: on the demo data made by
``caseflow init --demo`` at 2026-09-30 10:00, run later with ``CASEFLOW_FAKE_NOW``.

What each run must do is worked out here from the cases' due dates (``case list --json``) with a
reference calendar written from DOMAIN.md §2 and the ladder of §5, not from the product's code.
"""

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli, assert_ok, clone_database, make_cli

from workflow.clock import SHANGHAI

LATER = "2026-10-20T10:00:00+08:00"
MUCH_LATER = "2026-12-01T10:00:00+08:00"
LADDER = [("warned", "warn"), ("overdue", "mark_overdue"), ("supervised", "supervise"), ("listed", "list")]
STEP_KEYS = {"case", "action", "level", "to_state", "scheduled_for", "obligation"}

_HOLIDAYS = [("2026-09-25", "2026-09-27"), ("2026-10-01", "2026-10-07")]
_ADJUSTED = {date(2026, 9, 20), date(2026, 10, 10)}


def is_working(day: date) -> bool:
    if any(date.fromisoformat(a) <= day <= date.fromisoformat(b) for a, b in _HOLIDAYS):
        return False
    return day in _ADJUSTED or day.weekday() < 5


def add_wd(start: date, amount: int) -> date:
    day = start
    while amount:
        day += timedelta(days=1)
        amount -= is_working(day)
    return day


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), SHANGHAI)


def expected_steps(cases: list[dict[str, Any]], now: datetime) -> list[tuple[str, str, str | None, str, datetime]]:
    """(case, action, level, to_state, scheduled_for) for every step due at ``now``."""
    steps = []
    for case in sorted(cases, key=lambda c: c["number"]):
        if case["due_date"] is None:
            continue
        due = date.fromisoformat(case["due_date"])
        assert datetime.fromisoformat(case["due_at"]) == end_of(due)
        if case["type"] == "scattered_polluting" and case["state"] == "closed":
            if end_of(due) <= now:
                steps.append((case["number"], "revisit", None, "revisit_due", end_of(due)))
            continue
        moments = {
            "warned": datetime.combine(due, datetime.min.time(), SHANGHAI),
            "overdue": end_of(due),
            "supervised": end_of(add_wd(due, 3)),
            "listed": end_of(add_wd(due, 5)),
        }
        ranks = ["normal", *moments]
        for level, action in LADDER:
            if ranks.index(level) > ranks.index(case["clock_supervision"]) and moments[level] <= now:
                steps.append((case["number"], action, level, case["state"], moments[level]))
    return steps


def as_tuples(steps: list[dict[str, Any]]) -> list[tuple[str, str, str | None, str, datetime]]:
    """The steps of the cases' own clocks (an obligation's own ladder, ``obligation`` set, is
    tests/contract/test_obligations.py's)."""
    for step in steps:
        assert set(step) == STEP_KEYS, step
    return sorted(
        (
            (s["case"], s["action"], s["level"], s["to_state"], datetime.fromisoformat(s["scheduled_for"]))
            for s in steps
            if s["obligation"] is None
        ),
        key=lambda s: (s[0], s[4]),
    )


def list_cases(cli: Cli) -> list[dict[str, Any]]:
    document = cli.json("case", "list", "--page-size", "500")
    assert document["total"] == len(document["items"])
    return document["items"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """``caseflow init --demo`` at 2026-09-30 10:00, once for the module."""
    cli = make_cli(tmp_path_factory.mktemp("demo"))
    cli.ok("init", "--demo")
    return cli


@pytest.fixture
def db(demo: Cli, tmp_path: Path) -> Cli:
    return clone_database(demo, tmp_path)


def test_sweep_json_lists_the_due_steps_then_none(db: Cli):
    before = list_cases(db)
    assert {c["supervision"] for c in before} == {"normal"}
    later = db.at(LATER)
    now = datetime.fromisoformat(LATER)
    expected = expected_steps(before, now)
    assert len({e[0] for e in expected}) >= 5, "the demo data should have several due cases"
    assert {e[1] for e in expected} == {"warn", "mark_overdue", "supervise", "list"}

    document = later.json("sweep")
    assert set(document) >= {"now", "cases", "steps", "skipped"}
    assert datetime.fromisoformat(document["now"]) == now
    assert as_tuples(document["steps"]) == expected
    assert document["cases"] == len({e[0] for e in expected})
    assert document["skipped"] == []
    # per case, the steps are listed in ladder order
    for number in {e[0] for e in expected}:
        actions = [s["action"] for s in document["steps"] if s["case"] == number and s["obligation"] is None]
        assert actions == [a for _, a in LADDER][: len(actions)], number

    again = later.json("sweep")
    assert (again["steps"], again["cases"], again["skipped"]) == ([], 0, [])

    after = {c["number"]: c for c in list_cases(later)}
    for case in before:
        mine = [e for e in expected if e[0] == case["number"]]
        assert after[case["number"]]["clock_supervision"] == (mine[-1][2] if mine else "normal")
        own = [s for s in document["steps"] if s["case"] == case["number"] and s["obligation"] is not None]
        assert after[case["number"]]["version"] == case["version"] + len(mine) + len(own)


def test_each_step_is_one_system_event_in_the_history(db: Cli):
    later = db.at(LATER)
    document = later.json("sweep")
    number = next(s["case"] for s in document["steps"] if s["action"] == "list")
    events = later.json("case", "history", number)
    assert isinstance(events, list) and [e["seq"] for e in events] == list(range(1, len(events) + 1))
    ladder_events = [e for e in events if e["trigger"] in {a for _, a in LADDER}]
    assert [e["trigger"] for e in ladder_events] == [a for _, a in LADDER]
    assert all(e["actor"] == "system" and e["from_state"] == e["to_state"] for e in ladder_events)
    assert all(datetime.fromisoformat(e["at"]) == datetime.fromisoformat(LATER) for e in ladder_events)
    assert_ok(later.run("audit", "verify"))


def test_after_downtime_one_run_catches_up_and_the_next_finds_nothing(db: Cli):
    first = db.at(LATER)
    done = first.json("sweep")["steps"]
    middle = list_cases(first)
    much_later = db.at(MUCH_LATER)
    expected = expected_steps(middle, datetime.fromisoformat(MUCH_LATER))
    assert expected, "some steps fall due between the two runs"
    document = much_later.json("sweep")
    assert as_tuples(document["steps"]) == expected
    assert not {(s["case"], s["action"], s["obligation"]) for s in done} & {
        (s["case"], s["action"], s["obligation"]) for s in document["steps"]
    }
    result = much_later.ok("sweep")
    assert "没有到期事项" in result.stdout
    assert much_later.json("sweep")["steps"] == []
    assert {c["clock_supervision"] for c in list_cases(much_later) if c["open"] and c["due_date"]} <= {"listed", "normal"}


def test_human_output_counts_the_steps(db: Cli, tmp_path: Path):
    twin = clone_database(db, tmp_path / "twin")
    steps = twin.at(LATER).json("sweep")["steps"]
    result = db.at(LATER).ok("sweep")
    assert f"本次执行 {len(steps)} 步" in result.stdout
    for step in steps[:3]:
        assert step["case"] in result.stdout


def test_sweep_json_shows_instants_in_shanghai_time(db: Cli):
    document = db.at(LATER).json("sweep")
    assert document["steps"]
    instants = [document["now"], *(s["scheduled_for"] for s in document["steps"])]
    assert all(i.endswith("+08:00") for i in instants), sorted({i[-6:] for i in instants})
    number = next(s["case"] for s in document["steps"] if s["action"] == "mark_overdue")
    events = db.at(LATER).json("case", "history", number)
    stamps = [e["payload"]["scheduled_for"] for e in events if e["trigger"] in {a for _, a in LADDER}]
    assert stamps and all(stamp.endswith("+08:00") for stamp in stamps), stamps


def test_sweep_before_init_is_refused(bare_cli: Cli):
    result = bare_cli.run("sweep", "--json")
    assert result.returncode == 2, result
    assert "caseflow init" in result.stdout + result.stderr
