"""``config/calendar/*.yaml``: the format of ``workflow.calendar`` and its errors, each a
``DefinitionError`` that names the file and the key."""

from datetime import date
from pathlib import Path

import pytest

from workflow.calendar import load_calendar_file, load_calendar_files
from workflow.errors import DefinitionError

GOOD = """\
year: 2026
source: 国务院办公厅通知
holidays:
  2026-10-01..2026-10-07: 国庆节
  2026-01-01: 元旦
  "2026-01-02": 元旦
workdays:
  2026-10-10: 国庆节
  "2026-09-20": 国庆节
"""


def write(tmp_path: Path, text: str, name: str = "2026.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_dates_ranges_and_quoted_dates(tmp_path: Path) -> None:
    data = load_calendar_file(write(tmp_path, GOOD))
    assert data.known_years == frozenset({2026})
    assert sorted(data.holidays) == [date(2026, 1, 1), date(2026, 1, 2)] + [
        date(2026, 10, n) for n in range(1, 8)
    ]
    assert set(data.holidays.values()) == {"国庆节", "元旦"}
    assert data.workdays == {date(2026, 10, 10): "国庆节", date(2026, 9, 20): "国庆节"}


def test_workdays_are_optional(tmp_path: Path) -> None:
    data = load_calendar_file(
        write(tmp_path, "year: 2027\nholidays:\n  2027-01-01: 元旦\n", "2027.yaml")
    )
    assert (data.holidays, data.workdays, data.known_years) == (
        {date(2027, 1, 1): "元旦"},
        {},
        frozenset({2027}),
    )


def test_several_files_merge_by_year(tmp_path: Path) -> None:
    first = write(tmp_path, GOOD)
    second = write(tmp_path, "year: 2027\nholidays:\n  2027-01-01: 元旦\n", "2027.yaml")
    data = load_calendar_files([first, second])
    assert data.known_years == frozenset({2026, 2027})
    assert data.holidays[date(2027, 1, 1)] == "元旦"
    assert data.holidays[date(2026, 10, 1)] == "国庆节"


def test_two_files_for_one_year_are_refused(tmp_path: Path) -> None:
    first = write(tmp_path, GOOD, "a.yaml")
    second = write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(DefinitionError) as caught:
        load_calendar_files([first, second])
    assert (caught.value.file, caught.value.key) == (str(second), "year")
    assert "a.yaml" in caught.value.reason


BODY = "year: 2026\nholidays:\n  2026-10-01: 国庆节\n"


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        (BODY + "holiday:\n  2026-10-02: 国庆节\n", "holiday", "unknown key"),
        (BODY + "  2026-02-30: 春节\n", "holidays.2026-02-30", "not a date"),
        (BODY + "  2026-13-01: 春节\n", "holidays.2026-13-01", "not a date"),
        (BODY + "  '2026-02-30': 春节\n", "holidays.2026-02-30", "not a date"),
        (BODY + "  2026-1-2: 元旦\n", "holidays.2026-1-2", "YYYY-MM-DD"),
        (BODY + "  tomorrow: 元旦\n", "holidays.tomorrow", "YYYY-MM-DD"),
        (
            BODY + "  2026-10-07..2026-10-03: 国庆节\n",
            "holidays.2026-10-07..2026-10-03",
            "before it starts",
        ),
        (
            BODY + "  2026-10-02..2026-10-03..2026-10-04: 国庆节\n",
            "holidays.2026-10-02..2026-10-03..2026-10-04",
            "two ends",
        ),
        (
            BODY + "  2026-09-30..2026-10-02: 国庆节\n",
            "holidays.2026-09-30..2026-10-02",
            "already listed",
        ),
        (
            BODY + "  2026-10-02 10:00:00: 国庆节\n",
            "holidays.2026-10-02 10:00:00",
            "write YYYY-MM-DD",
        ),
        (BODY + "  2026-10-02: ''\n", "holidays.2026-10-02", "name"),
        (BODY + "  2026-10-02: " + "节" * 51 + "\n", "holidays.2026-10-02", "name"),
        (BODY + "  2026-10-02: [国庆节]\n", "holidays.2026-10-02", "name"),
        (BODY + "  2025-12-31: 元旦\n", "holidays.2025-12-31", "outside the file's year"),
        (BODY + "workdays:\n  2026-10-01: 国庆节\n", "workdays.2026-10-01", "also a holiday"),
        (
            "year: 2026\nholidays:\n  2026-10-01..2026-10-07: 国庆节\n"
            "workdays:\n  2026-10-03: 国庆节\n",
            "workdays.2026-10-03",
            "also a holiday",
        ),
        (BODY + "workdays: [2026-10-10]\n", "workdays", "mapping"),
        ("holidays:\n  2026-10-01: 国庆节\n", "year", "required"),
        ("year: '2026'\nholidays:\n  2026-10-01: 国庆节\n", "year", "required"),
        ("year: 2026\n", "holidays", "required"),
        ("year: 2026\nholidays: {}\n", "holidays", "required"),
        ("- 2026-10-01\n", "(document)", "mapping"),
        (BODY + "source: [a, b]\n", "source", "text"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DefinitionError) as caught:
        load_calendar_file(path)
    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert reason in caught.value.reason


def test_a_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "year: 2026\nholidays: [unclosed\n")
    with pytest.raises(DefinitionError) as caught:
        load_calendar_file(path)
    assert caught.value.file == str(path)


def test_the_shipped_files_load(tmp_path: Path) -> None:
    shipped = sorted((Path(__file__).resolve().parents[3] / "config" / "calendar").glob("*.yaml"))
    assert shipped, "config/calendar/ has no *.yaml"
    data = load_calendar_files(shipped)
    assert 2026 in data.known_years
