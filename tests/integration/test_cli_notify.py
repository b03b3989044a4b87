"""``caseflow notify list/dispatch/retry/read/digest``, ``caseflow report bulletin`` and
``caseflow templates check/preview`` as a user runs them: real subprocesses on a SQLite file in
the test's directory (and one walk on PostgreSQL), acting at 2026-09-30 10:00 +08:00.

E-mail goes to a real local SMTP server (aiosmtpd on 127.0.0.1) named by ``CASEFLOW_SMTP_URL``;
it can refuse a chosen recipient (550 to RCPT TO: a permanent failure, so a dead letter).
"""

import asyncio
import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from cli_support import (
    ENTERPRISE,
    ENTERPRISE_FIELDS,
    OFFICE,
    POWER,
    USERS,
    Cli,
    add_user_args,
    assert_ok,
    assert_refused,
    field_args,
    make_cli,
)
from openpyxl import load_workbook

LIST_KEYS = {"id", "case", "event", "recipient", "channel", "status", "subject", "body"}
SUNDAY = "2026-10-11T08:30:00+08:00"


# --- a local SMTP server ------------------------------------------------------------------------------


@dataclass
class Sink:
    refuse: set[str] = field(default_factory=set)
    messages: list[email.message.EmailMessage] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(cast(email.message.EmailMessage, parsed))
        return "250 2.0.0 accepted"


class _Ephemeral(Controller):
    def _trigger_server(self) -> None:
        server = cast(asyncio.Server, self.server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@contextmanager
def smtp(sink: Sink) -> Iterator[int]:
    controller = _Ephemeral(sink, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def with_mail(cli: Cli, port: int) -> Cli:
    return Cli(cli.workdir, {**cli.env, "CASEFLOW_SMTP_URL": f"smtp://127.0.0.1:{port}",
                             "CASEFLOW_MAIL_FROM": "督办系统 <noreply@example.cn>"})  # fmt: skip


def new_assigned_case(cli: Cli, lead: str = "市供电公司") -> str:
    number = cli.json("case", "new", ENTERPRISE, "--as", OFFICE, *field_args(ENTERPRISE_FIELDS))["number"]
    cli.json("case", "advance", number, "assign", "--as", OFFICE, "--field", f"lead_unit={lead}")
    return number


# --- notify list / dispatch / retry / read -------------------------------------------------------------


def test_outbox_from_the_command_line(fresh_db: Cli) -> None:
    sink = Sink(refuse={"bounce@example.cn"})
    with smtp(sink) as port:
        cli = with_mail(fresh_db, port)
        for result in cli.run_all({
            "mail": ["user", "add", "mail_handler", "--department", "power", "--role", "handler",
                     "--email", "mail@example.cn"],
            "bounce": ["user", "add", "bounce_handler", "--department", "市供电公司", "--role", "handler",
                       "--email", "bounce@example.cn"],
        }).values():  # fmt: skip
            assert_ok(result)
        number = new_assigned_case(cli)

        everything = cli.json("notify", "list")
        assert isinstance(everything, list) and everything
        for row in everything:
            assert set(row) >= LIST_KEYS, row
            assert row["case"] == number and row["event"] == "assigned"
            assert row["status"] in ("pending", "sent") and number in row["subject"] and number in row["body"]
        assert {(r["recipient"], r["channel"], r["status"]) for r in everything} == {
            (POWER, "inapp", "sent"), ("mail_handler", "inapp", "sent"), ("bounce_handler", "inapp", "sent"),
            ("mail_handler", "email", "pending"), ("bounce_handler", "email", "pending"),
        }  # fmt: skip
        assert [r["id"] for r in everything] == sorted((r["id"] for r in everything), reverse=True), "newest first"
        mine = cli.json("notify", "list", "--user", "mail_handler")
        assert {(r["recipient"], r["channel"]) for r in mine} == {("mail_handler", "inapp"), ("mail_handler", "email")}
        assert_refused(cli.run("notify", "list", "--user", "nobody"), "nobody")
        assert cli.json("notify", "list", "--failed") == []

        report = cli.json("notify", "dispatch")
        email_ids = {r["recipient"]: r["id"] for r in everything if r["channel"] == "email"}
        assert report["sent"] == [email_ids["mail_handler"]] and report["dead"] == [email_ids["bounce_handler"]]
        assert report["failed"] == report["lost"] == []
        [received] = sink.messages
        assert received["To"].addresses[0].addr_spec == "mail@example.cn"
        assert received["Subject"] == f"【交办单】{number} {ENTERPRISE_FIELDS['title']}"
        assert "市供电公司" in received.get_body(("plain",)).get_content()
        key = received["X-Caseflow-Idempotency-Key"]
        assert key == f"{number}:2:assigned:mail_handler:email"

        [dead] = cli.json("notify", "list", "--failed")
        assert (dead["id"], dead["recipient"], dead["channel"], dead["status"]) == (
            email_ids["bounce_handler"], "bounce_handler", "email", "dead",
        )  # fmt: skip
        table = cli.ok("notify", "list", "--failed").stdout
        assert "死信" in table and "bounce_handler" in table

        assert_refused(cli.run("notify", "retry"), "--all-dead")
        assert_refused(cli.run("notify", "retry", str(email_ids["mail_handler"])), str(email_ids["mail_handler"]))
        sink.refuse.clear()  # the mailbox exists now
        assert cli.json("notify", "retry", str(dead["id"])) == {"requeued": 1}
        assert cli.json("notify", "list", "--failed") == []
        again = cli.json("notify", "dispatch")
        assert again["sent"] == [dead["id"]]
        assert [m["X-Caseflow-Idempotency-Key"] for m in sink.messages] == [
            key, f"{number}:2:assigned:bounce_handler:email",
        ]  # fmt: skip
        assert cli.json("notify", "dispatch") == {"claimed": 0, "sent": [], "failed": [], "dead": [], "lost": []}
        assert {r["status"] for r in cli.json("notify", "list")} == {"sent"}

    # read / unread (in-app)
    inapp = next(r for r in mine if r["channel"] == "inapp")
    assert_refused(cli.run("notify", "read", str(inapp["id"]), "--as", POWER))  # not theirs
    assert cli.ok("notify", "read", str(inapp["id"]), "--as", "mail_handler").stdout.strip()
    assert cli.json("notify", "list", "--user", "mail_handler", "--unread") == []
    assert len(cli.json("notify", "list", "--user", POWER, "--unread")) == 1


def test_dispatch_without_a_mail_server_retries_then_dead_letters(fresh_db: Cli, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "notifications.yaml").write_text("delivery: {max_attempts: 2, backoff_seconds: 30}\n", encoding="utf-8")
    import socket

    with socket.socket() as closed:  # bound, not listening: the connection is refused
        closed.bind(("127.0.0.1", 0))
        cli = with_mail(fresh_db, closed.getsockname()[1])
        cli = Cli(cli.workdir, {**cli.env, "CASEFLOW_CONFIG_DIR": str(config)})
        assert_ok(cli.run(*add_user_args("mail_handler", "power", ("handler",)), "--email", "mail@example.cn"))
        new_assigned_case(cli)
        first = cli.json("notify", "dispatch")
        assert len(first["failed"]) == 1 and first["dead"] == []
        [failed] = cli.json("notify", "list", "--failed")
        assert failed["status"] == "failed" and failed["attempts"] == 1 and failed["last_error"]
        assert failed["next_attempt_at"] == "2026-09-30T10:00:30+08:00"
        assert cli.json("notify", "dispatch")["claimed"] == 0, "not before the back-off"
        later = cli.at("2026-09-30T10:00:30+08:00")
        assert later.json("notify", "dispatch")["dead"] == [failed["id"]]
        [dead] = later.json("notify", "list", "--failed")
        assert (dead["status"], dead["attempts"]) == ("dead", 2)
        assert later.json("notify", "retry", "--all-dead") == {"requeued": 1}
        assert later.json("notify", "list", "--failed") == []


# --- digest ---------------------------------------------------------------------------------------------


def test_notify_digest(fresh_db: Cli) -> None:
    cli = fresh_db
    number = new_assigned_case(cli)
    result = cli.json("notify", "digest")
    assert result["period"] == "2026-09-30" and result["skipped"] is None
    assert result["units"] == 1 and result["recipients"] == 1  # 市供电公司: its one handler
    [row] = [r for r in cli.json("notify", "list", "--user", POWER) if r["event"] == "digest"]
    # accept by 10-08, the next working day after 09-30: 临期
    assert row["subject"] == "【每日待办】市供电公司 2026-09-30：待办1件，临期1件，逾期0件"
    assert f"临期：{number}（期限2026-10-08）" in row["body"]
    assert row["case"] is None
    assert cli.json("notify", "digest") == result
    assert len([r for r in cli.json("notify", "list") if r["event"] == "digest"]) == 1, "once a day"
    sunday = cli.at(SUNDAY)
    assert "不是工作日" in sunday.ok("notify", "digest").stdout
    assert len([r for r in cli.json("notify", "list") if r["event"] == "digest"]) == 1
    assert sunday.json("notify", "digest", "--force")["skipped"] is None
    assert len([r for r in cli.json("notify", "list") if r["event"] == "digest"]) == 2


# --- templates -----------------------------------------------------------------------------------------


def test_templates_check_and_preview(fresh_db: Cli) -> None:
    cli = fresh_db
    checked = cli.ok("templates", "check")
    assert "0 个有问题" in checked.stdout
    listed = cli.json("templates", "check")
    assert {t["name"] for t in listed} >= {"assigned", "digest", "bulletin", "item_request", "listed"}
    assert all(t["problems"] == [] for t in listed)
    number = new_assigned_case(cli)
    assert number == "QY-2026-00001"
    preview = cli.ok("templates", "preview", "assigned", number)
    assert preview.stdout.startswith(f"标题：【交办单】{number} {ENTERPRISE_FIELDS['title']}")
    assert "市供电公司" in preview.stdout
    rendered = cli.json("templates", "preview", "assigned", number)
    assert rendered["subject"] == f"【交办单】{number} {ENTERPRISE_FIELDS['title']}" and rendered["html"]
    assert_refused(cli.run("templates", "preview", "assigned", "QY-2026-09999"))


# --- the bulletin ---------------------------------------------------------------------------------------


def bulletin_walk(cli: Cli) -> str:
    """In 2026-W40 (09-28..10-04): one problem assigned to and accepted by 市供电公司, one returned
    by 市供水集团公司."""
    number = new_assigned_case(cli)
    cli.json("case", "advance", number, "accept", "--as", POWER)
    other = new_assigned_case(cli, "water")
    cli.json("case", "advance", other, "return", "--as", "water_handler", "--field", "reason=不属于本单位职责")
    return number


def check_bulletin_files(cli: Cli, tmp_path: Path) -> None:
    data = cli.ok("report", "bulletin", "--week", "2026-W40", "--format", "json").json()
    rows = {r["unit"]: r for r in data["rows"]}
    assert data["period"] == "2026-09-28 至 2026-10-04"
    assert (rows["power"]["assigned"], rows["power"]["on_time_accept_rate"], rows["power"]["returned"]) == (
        1, "100.0%", 0,
    )  # fmt: skip
    assert (rows["water"]["assigned"], rows["water"]["returned"]) == (1, 1)

    xlsx = tmp_path / "out" / "通报.xlsx"
    xlsx.parent.mkdir()
    out = cli.ok("report", "bulletin", "--week", "2026-W40", "--format", "xlsx", "--output", str(xlsx))
    assert str(xlsx) in out.stdout and f"{len(rows)} 个单位" in out.stdout
    sheet = load_workbook(xlsx)["通报"]
    assert [c.value for c in sheet[2]][:3] == ["排名", "单位", "交办数"]
    body = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert [(r[0], r[1]) for r in body] == [(r["rank_label"], r["unit_name"]) for r in data["rows"]]
    assert {r[1] for r in body} >= {"市供水集团公司", "市供电公司"}

    page = cli.ok("report", "bulletin", "--week", "2026-W40", "--format", "html")  # default name, in the cwd
    html = (cli.workdir / "bulletin-2026-W40.html").read_text(encoding="utf-8")
    assert "bulletin-2026-W40.html" in page.stdout
    assert html.startswith("<!doctype html>") and "市供电公司" in html and "2026-W40" in html
    assert_refused(cli.run("report", "bulletin", "--week", "2026-40"), "2026-W40")


def test_report_bulletin_files_and_sending(fresh_db: Cli, tmp_path: Path) -> None:
    cli = fresh_db
    bulletin_walk(cli)
    check_bulletin_files(cli, tmp_path)
    assert [r for r in cli.json("notify", "list") if r["event"] == "bulletin"] == []
    # the office's one dispatcher and every member unit's handlers (no convenor or unit head registered)
    readers = sorted(name for name, (_, roles) in USERS.items() if {"dispatcher", "handler"} & set(roles))
    assert OFFICE in readers and POWER in readers and len(readers) == 8
    sent = cli.ok("report", "bulletin", "--week", "2026-W40", "--format", "html", "--send")
    assert f"已发送给 {len(readers)} 人" in sent.stdout
    rows = [r for r in cli.json("notify", "list") if r["event"] == "bulletin"]
    assert sorted((r["recipient"], r["channel"]) for r in rows) == [(name, "inapp") for name in readers]
    assert all("2026-W40" in r["subject"] for r in rows)
    cli.ok("report", "bulletin", "--week", "2026-W40", "--format", "html", "--send")
    assert len([r for r in cli.json("notify", "list") if r["event"] == "bulletin"]) == len(readers), "once a week"


@pytest.mark.postgres
def test_notify_and_bulletin_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    cli = make_cli(tmp_path / "work", postgres_url)
    cli.ok("init")
    for result in cli.run_all({
        name: add_user_args(name, *USERS[name]) for name in (OFFICE, POWER, "water_handler")
    }).values():  # fmt: skip
        assert_ok(result)
    number = bulletin_walk(cli)
    rows = cli.json("notify", "list")
    assert all(set(r) >= LIST_KEYS for r in rows)
    assert {(r["case"], r["event"], r["recipient"]) for r in rows} >= {(number, "assigned", POWER)}
    assert cli.json("notify", "dispatch")["claimed"] == 0, "in-app only: nothing to send"
    check_bulletin_files(cli, tmp_path)
