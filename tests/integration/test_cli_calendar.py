"""``caseflow calendar show`` and ``caseflow calendar add`` as a user runs them (subprocesses
on a SQLite copy of the template database, at 2026-09-30 10:00 +08:00)."""

from pathlib import Path

import pytest
from cli_support import FAKE_NOW, Cli, add_user_args, assert_refused, clone_database

ADMIN = "calendar_admin"
HANDLER = "power_handler"  # a standard user of the template, without the admin role
UNKNOWN_2027 = "2027 年尚无官方数据：按周末推算，期限标为暂定"


@pytest.fixture(scope="module")
def admin_db(template_db: Cli, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The template plus one admin."""
    cli = clone_database(template_db, tmp_path_factory.mktemp("calendar"))
    cli.ok(*add_user_args(ADMIN, "sti", ["admin"]))
    return cli


@pytest.fixture
def cal(admin_db: Cli, tmp_path: Path) -> Cli:
    """A copy for this test alone (the tests change the calendar)."""
    return clone_database(admin_db, tmp_path)


def test_show_2026_lists_the_notice_month_by_month(cal: Cli) -> None:
    text = cal.ok("calendar", "show", "2026").stdout
    assert "2026 年工作日历：全年 365 天，工作日 248 天" in text
    assert "10月\n  放假：1日（四）至7日（三） 国庆节\n  调休上班：10日（六） 国庆节\n" in text
    assert (
        "2月\n  放假：15日（日）至23日（一） 春节\n  调休上班：14日（六） 春节；28日（六） 春节\n"
        in text
    )
    assert UNKNOWN_2027[4:] not in text
    document = cal.json("calendar", "show", "2026")
    assert document["known"] is True
    assert len(document["holidays"]) == 33 and len(document["workdays"]) == 6


def test_an_admin_holiday_makes_2027_known(cal: Cli) -> None:
    before = cal.ok("calendar", "show", "2027").stdout
    assert UNKNOWN_2027 in before
    assert "工作日 261 天" in before

    added = cal.ok(
        "calendar", "add", "2027-01-01", "--holiday", "--name", "元旦", "--as", ADMIN
    ).stdout
    assert "已将 2027-01-01（星期五）登记为节假日“元旦”" in added
    assert "2027 年此前无官方数据" in added

    after = cal.ok("calendar", "show", "2027").stdout
    assert UNKNOWN_2027 not in after
    assert "工作日 260 天" in after
    assert "1月\n  放假：1日（五） 元旦〔管理员 calendar_admin 录入〕" in after
    document = cal.json("calendar", "show", "2027")
    assert document["known"] is True
    assert [(h["date"], h["name"], h["source"]) for h in document["holidays"]] == [
        ("2027-01-01", "元旦", "admin")
    ]
    assert [(c["date"], c["kind"], c["actor"]) for c in document["changes"]] == [
        ("2027-01-01", "holiday", ADMIN)
    ]


def test_the_actor_may_come_from_caseflow_user(cal: Cli) -> None:
    as_env = Cli(cal.workdir, {**cal.env, "CASEFLOW_USER": ADMIN})
    change = as_env.json("calendar", "add", "2027-02-06", "--workday", "--name", "春节")
    assert (change["kind"], change["actor"], change["year_made_known"]) == ("workday", ADMIN, True)
    # instants in Asia/Shanghai (+08:00), as everywhere else
    assert change["at"] == FAKE_NOW
    shown = as_env.json("calendar", "show", "2027")
    assert [c["at"] for c in shown["changes"]] == [FAKE_NOW]
    assert [d["created_at"] for d in shown["workdays"] if d["source"] == "admin"] == [FAKE_NOW]


def test_a_non_admin_is_refused(cal: Cli) -> None:
    result = cal.run(
        "calendar", "add", "2027-01-01", "--holiday", "--name", "元旦", "--as", HANDLER
    )
    assert_refused(result, "无权操作", "管理员")
    assert cal.json("calendar", "show", "2027")["known"] is False


BAD_INPUT: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "bad-date": (["2027-13-01", "--holiday", "--name", "元旦"], ("2027-13-01", "不是有效日期")),
    "short-date": (["2027-1-1", "--holiday", "--name", "元旦"], ("YYYY-MM-DD",)),
    "no-kind": (["2027-01-01", "--name", "元旦"], ("--holiday", "--workday")),
    "both-kinds": (["2027-01-01", "--holiday", "--workday", "--name", "元旦"], ("只能一个",)),
    "no-name": (["2027-01-01", "--holiday"], ("--name",)),
    "weekday-workday": (["2026-10-12", "--workday", "--name", "补班"], ("本来就是工作日",)),
    "already-holiday": (["2026-10-01", "--holiday", "--name", "国庆节"], ("已是节假日",)),
}


def test_bad_input_exits_2_with_one_line_and_changes_nothing(cal: Cli) -> None:
    results = cal.run_all(
        {key: ["calendar", "add", *args, "--as", ADMIN] for key, (args, _) in BAD_INPUT.items()}
    )
    for key, (_, needles) in BAD_INPUT.items():
        assert_refused(results[key], *needles)
    assert cal.json("calendar", "show", "2027")["changes"] == []
    assert cal.json("calendar", "show", "2026")["changes"] == []


def test_without_an_actor_the_change_is_refused(cal: Cli) -> None:
    assert "CASEFLOW_USER" not in cal.env
    assert_refused(
        cal.run("calendar", "add", "2027-01-01", "--holiday", "--name", "元旦"),
        "--as",
        "CASEFLOW_USER",
    )
    assert cal.json("calendar", "show", "2027")["changes"] == []
