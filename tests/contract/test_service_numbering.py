"""Case numbers: ``QY-2026-00001`` / ``SLW-2026-00001``, one sequence per type and per year
(the year in Asia/Shanghai), taken atomically, found again by number or id."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from helpers import new_enterprise_case, new_site_case

from workflow.errors import NotFound

CST = timezone(timedelta(hours=8))


def test_numbers_per_type(app, actors):
    assert [new_enterprise_case(app)["number"] for _ in range(3)] == [
        "QY-2026-00001",
        "QY-2026-00002",
        "QY-2026-00003",
    ]
    assert new_site_case(app)["number"] == "SLW-2026-00001"
    assert new_enterprise_case(app)["number"] == "QY-2026-00004"
    assert new_site_case(app, actors.kongcheng)["number"] == "SLW-2026-00002"


def test_numbers_restart_each_year_in_shanghai_time(app, actors, clock):
    assert new_enterprise_case(app)["number"] == "QY-2026-00001"
    clock.set(datetime(2026, 12, 31, 23, 59, 59, tzinfo=CST))  # 2026-12-31 15:59:59 UTC
    assert new_enterprise_case(app)["number"] == "QY-2026-00002"
    clock.set(datetime(2027, 1, 1, 0, 0, tzinfo=CST))  # still 2026 in UTC
    first = new_enterprise_case(app)
    assert first["number"] == "QY-2027-00001"
    assert first["created_at"] == "2027-01-01T00:00:00+08:00"
    assert new_site_case(app)["number"] == "SLW-2027-00001"
    assert new_enterprise_case(app)["number"] == "QY-2027-00002"
    clock.set(datetime(2026, 12, 31, 12, 0, tzinfo=CST))  # a late entry keeps its own year's sequence
    assert new_enterprise_case(app)["number"] == "QY-2026-00003"


def test_concurrent_registrations_get_distinct_consecutive_numbers(app, actors):
    start = threading.Barrier(16, timeout=60)

    def register(_: int) -> str:
        start.wait()
        return new_enterprise_case(app, actors.collector)["number"]

    with ThreadPoolExecutor(16) as pool:
        numbers = list(pool.map(register, range(16)))
    assert sorted(numbers) == [f"QY-2026-{n:05d}" for n in range(1, 17)]


def test_found_by_number_in_any_case_and_by_id(app, actors):
    case = new_enterprise_case(app)
    for ref in ("QY-2026-00001", "qy-2026-00001", " QY-2026-00001 ", case["id"], str(case["id"])):
        assert app.cases.show(ref)["number"] == "QY-2026-00001"
    for ref in ("QY-2026-00002", "QY-2026-1", 999, "SLW-2026-00001", ""):
        with pytest.raises(NotFound):
            app.cases.show(ref)
    with pytest.raises(NotFound):
        app.cases.history("QY-2027-00001")
