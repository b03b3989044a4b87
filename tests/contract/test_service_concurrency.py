"""Concurrent advances of one case: exactly one of the racers wins each step, the others are
refused (``VersionConflict`` with a stale expected version, ``TransitionNotAllowed`` without one),
the version goes up by exactly one and the chain holds. Threads on both databases; on PostgreSQL
also separate processes, each with its own app, as several web workers would be."""

import multiprocessing
import threading
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from helpers import build_app, new_enterprise_case, new_site_case, photo, walk_site_to

from cases import audit
from workflow.errors import CaseflowError

RACERS = 16
ANSWER = {"result": "explained", "reply": "已说明政策", "signed_by": "李主任"}
# (trigger, user, fields, state after): the enterprise path from registered to closed
STEPS = [
    ("assign", "dispatcher", {"lead_unit": "power"}, "assigned"),
    ("accept", "power", {}, "in_progress"),
    ("request_extension", "power", {"reason": "等待批复", "days": 2}, "extension_requested"),
    ("approve_extension", "dispatcher", {"days": 2}, "in_progress"),
    ("answer", "power", ANSWER, "answered"),
    ("send_back", "dispatcher", {"reason": "补充材料"}, "in_progress"),
    ("answer", "power", ANSWER, "answered"),
    ("approve_answer", "dispatcher", {}, "follow_up"),
    ("close", "dispatcher", {"satisfaction": "基本满意"}, "closed"),
]


def race(app, number: str, trigger: str, username: str, fields: dict[str, Any], expected: int | None) -> Counter:
    """Fire the same call from RACERS threads at once; count the outcomes by error class."""
    actor = app.users.actor(username)
    start = threading.Barrier(RACERS, timeout=60)

    def fire(_: int) -> str:
        start.wait()
        try:
            app.cases.advance(number, trigger, actor, dict(fields), expected_version=expected)
        except CaseflowError as exc:
            return type(exc).__name__
        return "ok"

    with ThreadPoolExecutor(RACERS) as pool:
        return Counter(pool.map(fire, range(RACERS)))


def assert_chain(app, number: str, version: int) -> None:
    history = app.cases.history(number)
    assert [e["seq"] for e in history] == list(range(1, version + 1))
    with app.db.read() as conn:
        assert audit.verify(conn).ok


@pytest.mark.parametrize("with_version", [True, False], ids=["expected-version", "no-version"])
def test_threads_race_each_step_exactly_one_wins(app, actors, with_version):
    number = new_enterprise_case(app)["number"]
    loser = "VersionConflict" if with_version else "TransitionNotAllowed"
    for trigger, user, fields, state in STEPS:
        before = app.cases.show(number)
        outcomes = race(app, number, trigger, user, fields, before["version"] if with_version else None)
        assert outcomes == Counter({"ok": 1, loser: RACERS - 1}), trigger
        after = app.cases.show(number)
        assert (after["state"], after["version"]) == (state, before["version"] + 1)
        assert_chain(app, number, after["version"])
    assert app.cases.show(number)["counters"] == {
        "extension_count": 1,
        "extension_days": 2,
        "send_back_count": 1,
    }


def test_threads_completing_the_same_item_exactly_one_wins(app, actors):
    number = new_site_case(app)["number"]
    walk_site_to(app, number, "clearing")
    start = threading.Barrier(RACERS, timeout=60)

    def fire(_: int) -> str:
        start.wait()
        try:
            app.cases.complete_item(number, "cut_power", actors.power, {"meter_reading": "7"}, evidence=[photo()])
        except CaseflowError as exc:
            return type(exc).__name__
        return "ok"

    before = app.cases.show(number)["version"]
    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = Counter(pool.map(fire, range(RACERS)))
    assert outcomes == Counter({"ok": 1, "GuardFailed": RACERS - 1})  # the item is already done
    assert app.cases.show(number)["version"] == before + 1
    assert_chain(app, number, before + 1)


def test_threads_on_different_cases_all_win(app, actors):
    numbers = [new_enterprise_case(app)["number"] for _ in range(8)]
    start = threading.Barrier(len(numbers), timeout=60)

    def fire(number: str) -> str:
        start.wait()
        app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "gas"}, expected_version=1)
        return app.cases.show(number)["state"]

    with ThreadPoolExecutor(len(numbers)) as pool:
        assert list(pool.map(fire, numbers)) == ["assigned"] * len(numbers)
    with app.db.read() as conn:
        assert audit.verify(conn).events == 2 * len(numbers)


# --- separate processes (PostgreSQL) --------------------------------------------------------------

PROCESSES = 4


def _process_racer(url: str, data_dir: str, steps: list, barrier, results) -> None:
    """Child process: its own app (engine, pool, definitions), racing on every step."""
    try:
        app = build_app(url, Path(data_dir))
        try:
            for index, (number, trigger, user, fields, version) in enumerate(steps):
                actor = app.users.actor(user)
                barrier.wait()
                try:
                    app.cases.advance(number, trigger, actor, fields, expected_version=version)
                    results.put((index, "ok"))
                except CaseflowError as exc:
                    results.put((index, type(exc).__name__))
        finally:
            app.close()
    except BaseException:  # report, so that the parent fails with the child's traceback
        results.put((-1, traceback.format_exc()))
        barrier.abort()


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", id="pg", marks=pytest.mark.postgres)], indirect=True
)
def test_processes_race_each_step_exactly_one_wins(app, actors, database_url, data_dir):
    """Two cases walked to closed by racing processes: the first with expected versions, the
    second without (the row lock makes every loser see the new state)."""
    assert not app.db.is_sqlite
    first, second = new_enterprise_case(app)["number"], new_enterprise_case(app)["number"]
    steps = [(first, t, u, f, version) for version, (t, u, f, _) in enumerate(STEPS, start=1)]
    steps += [(second, t, u, f, None) for (t, u, f, _) in STEPS]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES, timeout=120), ctx.Queue()
    children = [
        ctx.Process(target=_process_racer, args=(database_url, str(data_dir), steps, barrier, results))
        for _ in range(PROCESSES)
    ]
    for child in children:
        child.start()
    outcomes: dict[int, Counter] = {}
    for _ in range(PROCESSES * len(steps)):
        index, outcome = results.get(timeout=180)
        assert index >= 0, outcome
        outcomes.setdefault(index, Counter())[outcome] += 1
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    for index, (number, trigger, _user, _fields, version) in enumerate(steps):
        loser = "VersionConflict" if version is not None else "TransitionNotAllowed"
        assert outcomes[index] == Counter({"ok": 1, loser: PROCESSES - 1}), (number, trigger)
    for number in (first, second):
        case = app.cases.show(number)
        assert (case["state"], case["version"]) == ("closed", len(STEPS) + 1)
        assert_chain(app, number, len(STEPS) + 1)
