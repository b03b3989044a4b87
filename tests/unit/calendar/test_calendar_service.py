"""``cases.calendar.CalendarService`` on a real database (SQLite, and PostgreSQL when
``TEST_DATABASE_URL`` is set): layering of package, config and admin data, admin-only changes,
validation, no-op refusals, the change history, the cache, and years becoming known."""

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cases import migrate
from cases.calendar import CHANGES, DAYS, CalendarService
from cases.db import Database
from workflow.calendar import CalendarData, load_calendar_files, load_package_data
from workflow.clock import FixedClock
from workflow.durations import parse_duration
from workflow.errors import InvalidInput, PermissionDenied
from workflow.org import Actor

CONFIG_CALENDAR = Path(__file__).resolve().parents[3] / "config" / "calendar"
NOW = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
ADMIN = Actor("root", "sti", frozenset({"admin"}))
HANDLER = Actor("power_handler", "power", frozenset({"handler", "unit_head"}))


@pytest.fixture(scope="module")
def package() -> CalendarData:
    return load_package_data(range(2000, 2100))


@pytest.fixture(scope="module")
def config() -> CalendarData:
    return load_calendar_files(sorted(CONFIG_CALENDAR.glob("*.yaml")))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    migrate.upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def service(db: Database, package: CalendarData, config: CalendarData) -> CalendarService:
    return CalendarService(db, FixedClock(NOW), package, config)


def count(db: Database, table: object) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


# --- permission and validation --------------------------------------------------------------------


def test_only_an_admin_may_change_the_calendar(service: CalendarService, db: Database) -> None:
    with pytest.raises(PermissionDenied, match="管理员"):
        service.add("2027-01-01", "holiday", "元旦", HANDLER)
    assert (count(db, DAYS), count(db, CHANGES)) == (0, 0)
    assert not service.calendar().is_known(2027)


@pytest.mark.parametrize(
    ("day", "kind", "name", "field", "needle"),
    [
        ("2027-13-01", "holiday", "元旦", "date", "不是有效日期"),
        ("2027/01/01", "holiday", "元旦", "date", "YYYY-MM-DD"),
        ("2027-02-29", "holiday", "春节", "date", "不是有效日期"),
        ("1999-01-01", "holiday", "元旦", "date", "年份"),
        ("2027-01-01", "vacation", "元旦", "kind", "holiday"),
        ("2027-01-01", "holiday", "  ", "name", "不能为空"),
        ("2027-01-01", "holiday", "节" * 51, "name", "50"),
        ("2027-01-01", "holiday", "元旦\n春节", "name", "换行"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None,
)
def test_bad_input_is_refused(
    service: CalendarService, db: Database, day: str, kind: str, name: str, field: str, needle: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.add(day, kind, name, ADMIN)
    assert caught.value.field == field
    assert needle in caught.value.message
    assert count(db, CHANGES) == 0


def test_a_fifty_character_name_is_accepted(service: CalendarService) -> None:
    change = service.add("2027-01-01", "holiday", "节" * 50, ADMIN)
    assert change.name == "节" * 50


@pytest.mark.parametrize(
    ("day", "kind", "name", "needle"),
    [
        ("2026-10-01", "holiday", "国庆节", "已是节假日"),  # from config/calendar/2026.yaml
        ("2026-10-10", "workday", "国庆节", "已是调休上班日"),
        ("2026-10-12", "workday", "补班", "本来就是工作日"),  # an ordinary Monday
        ("2027-01-04", "workday", "补班", "本来就是工作日"),  # a Monday of a year without data
    ],
)
def test_no_op_changes_are_refused(
    service: CalendarService, db: Database, day: str, kind: str, name: str, needle: str
) -> None:
    with pytest.raises(InvalidInput, match=needle):
        service.add(day, kind, name, ADMIN)
    assert count(db, CHANGES) == 0


# --- changes take effect --------------------------------------------------------------------------


def test_an_admin_holiday_changes_deadlines_at_once(service: CalendarService) -> None:
    before = service.calendar()  # cached now
    assert before.add(date(2026, 9, 30), parse_duration("1wd")).due_date == date(2026, 10, 8)
    change = service.add("2026-10-08", "holiday", "临时调整", ADMIN)
    assert (change.previous_kind, change.year_made_known) == (None, False)
    after = service.calendar()
    assert not after.is_working_day(date(2026, 10, 8))
    assert after.add(date(2026, 9, 30), parse_duration("1wd")).due_date == date(2026, 10, 9)


def test_turning_a_config_holiday_into_a_workday(service: CalendarService) -> None:
    change = service.add(date(2026, 10, 7), "workday", "更正", ADMIN)
    assert (change.previous_kind, change.previous_name, change.previous_source) == (
        "holiday",
        "国庆节",
        "config",
    )
    assert service.calendar().is_working_day(date(2026, 10, 7))
    view = service.show(2026)
    assert {"date": "2026-10-07", "name": "更正", "source": "admin"}.items() <= view["workdays"][
        -2
    ].items()
    assert "2026-10-07" not in [e["date"] for e in view["holidays"]]


def test_a_holiday_on_a_weekend_is_allowed(service: CalendarService) -> None:
    change = service.add(
        "2027-01-02", "holiday", "元旦", ADMIN
    )  # a Saturday inside a holiday period
    assert change.kind == "holiday"
    assert service.calendar().data.holidays[date(2027, 1, 2)] == "元旦"


def test_the_first_entry_of_a_year_makes_it_known(service: CalendarService) -> None:
    assert service.calendar().add(date(2026, 12, 28), parse_duration("10wd")).provisional
    first = service.add("2027-01-01", "holiday", "元旦", ADMIN)
    second = service.add("2027-02-06", "workday", "春节", ADMIN)  # a Saturday
    assert (first.year_made_known, second.year_made_known) == (True, False)
    calendar = service.calendar()
    assert calendar.is_known(2027)
    deadline = calendar.add(date(2026, 12, 28), parse_duration("10wd"))
    assert (deadline.due_date, deadline.provisional) == (date(2027, 1, 12), False)


def test_replacing_a_day_keeps_its_history(service: CalendarService, db: Database) -> None:
    service.add("2027-01-01", "holiday", "元旦", ADMIN)
    later = Actor("root2", "sti", frozenset({"admin", "supervisor"}))
    service.add("2027-01-01", "workday", "更正", later)
    service.add("2027-01-01", "holiday", "元旦", ADMIN)
    assert count(db, DAYS) == 1
    view = service.show(2027)
    assert [(c["kind"], c["previous_kind"], c["actor"]) for c in view["changes"]] == [
        ("holiday", None, "root"),
        ("workday", "holiday", "root2"),
        ("holiday", "workday", "root"),
    ]
    assert view["holidays"] == [
        {"date": "2027-01-01", "weekday": "星期五", "name": "元旦", "source": "admin",
         "created_by": "root", "created_at": "2026-09-30T10:00:00+08:00"},
    ]  # fmt: skip


def test_another_process_sees_a_change(
    db: Database, package: CalendarData, config: CalendarData
) -> None:
    reader = CalendarService(db, FixedClock(NOW), package, config)
    writer = CalendarService(db, FixedClock(NOW), package, config)
    assert reader.calendar().is_working_day(date(2026, 10, 9))
    writer.add("2026-10-09", "holiday", "临时调整", ADMIN)
    assert not reader.calendar().is_working_day(date(2026, 10, 9))


# --- show -----------------------------------------------------------------------------------------


def test_show_a_year_without_data(service: CalendarService) -> None:
    view = service.show(2027)
    assert (view["known"], view["holidays"], view["workdays"], view["working_days"]) == (
        False,
        [],
        [],
        261,
    )
    assert view["note"] == "2027 年尚无官方数据：按周末推算，期限标为暂定"


def test_show_names_the_source_of_each_day(service: CalendarService) -> None:
    service.add("2026-10-09", "holiday", "临时调整", ADMIN)
    view = service.show(2026)
    assert view["known"] and view["note"] is None
    assert view["sources"] == ["admin", "config"]
    sources = {e["date"]: e["source"] for e in view["holidays"]}
    assert (sources["2026-10-01"], sources["2026-10-09"]) == ("config", "admin")
    assert view["working_days"] == 247  # 248 less the new holiday on a Friday


def test_package_years_say_so(db: Database, package: CalendarData) -> None:
    view = CalendarService(db, FixedClock(NOW), package).show(2025)
    assert view["known"] and view["sources"] == ["package"]
    assert {"date": "2025-10-01", "name": "国庆节", "source": "package"}.items() <= view[
        "holidays"
    ][-8].items()


def test_show_refuses_an_absurd_year(service: CalendarService) -> None:
    with pytest.raises(InvalidInput, match="年份"):
        service.show(12026)
