"""The dispatcher (issue 4, DESIGN.md "Outbox"): due rows are claimed with a lease, sent through
their channel (here the in-memory twins), and recorded; transient failures are retried with
exponential back-off, permanent ones and the last allowed attempt become dead letters, which can
be listed and requeued. Two dispatchers never send one message twice while their leases hold; a
dispatcher that dies between sending and recording loses nothing — the message goes again, with
the same idempotency key, once the lease has run out. On SQLite and PostgreSQL; the time moves
only through the ``FixedClock``.
"""

import multiprocessing
import os
import signal
import subprocess
import sys
import traceback
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import new_enterprise_case
from sqlalchemy import select

from caseflow.app import build
from cases.models import Notification
from config.settings import Settings
from notifications.channels.memory import MemoryChannel
from notifications.dispatcher import Dispatcher
from workflow.errors import InvalidInput, NotFound

N = Notification.__table__
TESTS_DIR = Path(__file__).resolve().parent.parent
LEASE = timedelta(seconds=120)
"""``delivery.lease_seconds`` of the default notifications.yaml."""


def settings_for(database_url, data_dir, config_dir=None) -> Settings:
    return Settings(
        database_url=database_url, data_dir=data_dir, config_dir=config_dir, fake_now=None,
        smtp_url="smtp://127.0.0.1:2525", mail_from="noreply@example.cn", sms_url="http://127.0.0.1:9/sms",
    )  # fmt: skip


@pytest.fixture
def app(database_url, data_dir, clock):
    application = build(settings_for(database_url, data_dir), clock=clock)
    try:
        application.migrate()
        yield application
    finally:
        application.close()


@pytest.fixture
def channels(app):
    memory = {name: MemoryChannel(name) for name in ("inapp", "email", "sms", "webhook")}
    app.dispatcher.channels = memory
    return memory


@pytest.fixture
def people(app, actors):
    app.users.add("power_mail", "power", ["handler"], email="power@example.cn", phone="13800000001",
                  channels=["inapp", "email", "sms"])  # fmt: skip
    return actors


def rows(app, **where):
    with app.db.read() as conn:
        stmt = select(N).order_by(N.c.id)
        for key, value in where.items():
            stmt = stmt.where(N.c[key] == value)
        return list(conn.execute(stmt))


def queued(app) -> list:
    """The rows the dispatcher has to deliver (everything but in-app)."""
    return [r for r in rows(app) if r.channel != "inapp"]


def assign(app, actors, lead="power") -> str:
    number = new_enterprise_case(app)["number"]
    app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": lead})
    return number


def add_mail_handlers(app, count: int, department: str = "water") -> None:
    for i in range(count):
        app.users.add(f"{department}{i:02d}", department, ["handler"], email=f"{department}{i:02d}@example.cn")


# --- delivery ----------------------------------------------------------------------------------------


def test_delivery_through_the_channels(app, people, channels, clock):
    number = assign(app, people)
    email, sms = sorted(queued(app), key=lambda r: r.channel)
    assert (email.channel, sms.channel) == ("email", "sms")
    assert email.status == sms.status == "pending"

    report = app.dispatcher.dispatch()
    assert report.claimed == 2 and sorted(report.sent) == sorted([email.id, sms.id])
    assert report.failed == report.dead == report.lost == []
    [mail] = channels["email"].sent
    assert mail.idempotency_key == email.idempotency_key == f"{number}:2:assigned:power_mail:email"
    assert mail.address.email == "power@example.cn" and mail.address.username == "power_mail"
    assert (mail.subject, mail.text, mail.html) == (email.subject, email.body_text, email.body_html)
    assert number in mail.subject and mail.html and mail.urgent is False
    [text] = channels["sms"].sent
    assert text.address.phone == "13800000001" and text.subject == sms.subject
    assert channels["inapp"].sent == [], "in-app messages were delivered when they were written"
    for r in queued(app):
        assert (r.status, r.attempts, r.sent_at, r.lease_holder, r.lease_until, r.last_error) == (
            "sent", 1, clock.now(), None, None, None,
        )  # fmt: skip
    assert app.dispatcher.dispatch().claimed == 0


def test_transient_failures_back_off_exponentially(app, people, channels, clock):
    app.users.set_channels("power_mail", ["inapp", "email"])
    assign(app, people)
    [row] = queued(app)
    channels["email"].fail_next(5, reason="421 服务暂不可用")
    waits = []
    for attempt in range(1, 6):
        report = app.dispatcher.dispatch()
        assert report.failed == [row.id], attempt
        [now_row] = queued(app)
        assert (now_row.status, now_row.attempts, now_row.last_error) == ("failed", attempt, "421 服务暂不可用")
        assert now_row.lease_holder is None
        waits.append(now_row.next_attempt_at - clock.now())
        clock.set(now_row.next_attempt_at - timedelta(seconds=1))
        assert app.dispatcher.dispatch().claimed == 0, "not before its time"
        clock.set(now_row.next_attempt_at)
    assert waits == [timedelta(seconds=s) for s in (60, 120, 240, 480, 960)]
    assert app.dispatcher.dispatch().sent == [row.id]
    [done] = queued(app)
    assert (done.status, done.attempts, done.last_error, done.sent_at) == ("sent", 6, None, clock.now())
    assert [m.idempotency_key for m in channels["email"].attempts] == [row.idempotency_key] * 6


def test_the_last_allowed_attempt_makes_a_dead_letter(app, people, channels, clock):
    assert app.notification_config.max_attempts == 6
    app.users.set_channels("power_mail", ["inapp", "email"])
    assign(app, people)
    [row] = queued(app)
    channels["email"].fail_next(6)
    for attempt in range(1, 7):
        report = app.dispatcher.dispatch()
        assert report.claimed == 1
        [r] = queued(app)
        assert r.attempts == attempt
        if attempt < 6:
            assert report.failed == [row.id] and r.status == "failed"
            assert [m["id"] for m in app.inbox.messages(failed=True)] == [row.id], "failed ones are listed"
            clock.set(r.next_attempt_at)
    assert report.dead == [row.id] and r.status == "dead" and r.last_error == "模拟的发送失败"
    clock.advance(timedelta(days=30))
    assert app.dispatcher.dispatch().claimed == 0, "a dead letter stays dead"
    [listed] = app.inbox.messages(failed=True)
    assert (listed["id"], listed["status"], listed["attempts"]) == (row.id, "dead", 6)


def test_a_permanent_failure_is_dead_at_once(app, people, channels):
    assign(app, people)
    email, sms = sorted(queued(app), key=lambda r: r.channel)
    channels["email"].fail_next(1, permanent=True, reason="550 5.1.1 收件人不存在")
    report = app.dispatcher.dispatch()
    assert report.dead == [email.id] and report.sent == [sms.id]
    dead = {m["id"]: m for m in app.inbox.messages(failed=True)}
    assert list(dead) == [email.id]
    assert (dead[email.id]["status"], dead[email.id]["attempts"]) == ("dead", 1)
    assert dead[email.id]["last_error"] == "550 5.1.1 收件人不存在"


def test_a_channel_the_installation_lacks_is_a_dead_letter(app, people, channels):
    del channels["sms"]
    assign(app, people)
    report = app.dispatcher.dispatch()
    [dead] = app.inbox.messages(failed=True)
    assert report.dead == [dead["id"]] and dead["channel"] == "sms" and "sms" in dead["last_error"]


def test_messages_queued_before_a_deactivation_are_not_sent(app, people, channels):
    """Someone who left the unit is not mailed about its cases any more; once reactivated, a
    retry of the dead letters delivers them."""
    assign(app, people)
    app.users.set_active("power_mail", False)
    report = app.dispatcher.dispatch()
    assert report.sent == [] and channels["email"].attempts == [] and channels["sms"].attempts == []
    dead = app.inbox.messages(failed=True)
    assert sorted(d["channel"] for d in dead) == ["email", "sms"] and report.dead == sorted(d["id"] for d in dead)
    assert {d["last_error"] for d in dead} == {"收件人 power_mail 的账号已停用，不再发送"}
    app.users.set_active("power_mail", True)
    assert app.inbox.retry() == 2
    assert len(app.dispatcher.dispatch().sent) == 2 and len(channels["email"].sent) == 1


def test_dead_letters_are_retried_by_hand_and_then_delivered(app, people, channels, clock):
    assign(app, people)
    assign(app, people)
    channels["email"].fail_next(2, permanent=True)
    app.dispatcher.dispatch()
    dead = app.inbox.messages(failed=True)
    assert len(dead) == 2 and {d["channel"] for d in dead} == {"email"}
    first, second = sorted(d["id"] for d in dead)
    sms_id = next(r.id for r in queued(app) if r.channel == "sms")
    with pytest.raises(InvalidInput):
        app.inbox.retry([sms_id])  # sent, not dead
    with pytest.raises(InvalidInput):
        app.inbox.retry([first, 999_999])
    assert {d["id"] for d in app.inbox.messages(failed=True)} == {first, second}, "a refused retry changes nothing"

    clock.advance(timedelta(hours=1))
    assert app.inbox.retry([first]) == 1
    [requeued] = rows(app, id=first)
    assert (requeued.status, requeued.attempts, requeued.next_attempt_at, requeued.last_error) == (
        "pending", 0, clock.now(), None,
    )  # fmt: skip
    assert app.dispatcher.dispatch().sent == [first]
    assert app.inbox.retry() == 1  # every dead letter: the second one
    assert app.dispatcher.dispatch().sent == [second]
    assert app.inbox.messages(failed=True) == []
    keys = [m.idempotency_key for m in channels["email"].attempts]
    assert sorted(keys) == sorted([r.idempotency_key for r in queued(app) if r.channel == "email"] * 2)
    assert {r.status for r in rows(app)} == {"sent"}


def test_inbox_read_and_unread(app, people):
    assign(app, people)
    [mine] = app.inbox.messages(user="power_mail", unread=True)
    assert mine["channel"] == "inapp" and mine["read"] is False
    assert {m["channel"] for m in app.inbox.messages(user="power_mail")} == {"inapp", "email", "sms"}
    with pytest.raises(NotFound):
        app.inbox.mark_read(mine["id"], "power")  # someone else's message
    email = next(m for m in app.inbox.messages(user="power_mail") if m["channel"] == "email")
    with pytest.raises(NotFound):
        app.inbox.mark_read(email["id"], "power_mail")  # not an in-app message
    app.inbox.mark_read(mine["id"], "power_mail")
    app.inbox.mark_read(mine["id"], "power_mail")  # again: still read, no error
    assert app.inbox.messages(user="power_mail", unread=True) == []
    assert [m["read"] for m in app.inbox.messages(user="power_mail", channel="inapp")] == [True]
    assert len(app.inbox.messages(user="power", unread=True)) == 1


# --- leases -------------------------------------------------------------------------------------------


@pytest.fixture
def second_app(database_url, data_dir, clock, app):
    """Another process's app (its own engine) on the same database and clock."""
    other = build(settings_for(database_url, data_dir), clock=clock)
    yield other
    other.close()


class HookedChannel(MemoryChannel):
    """Records like a ``MemoryChannel``, then runs ``hook(message)`` (after each accepted send)."""

    def __init__(self, name, hook) -> None:
        super().__init__(name)
        self.hook = hook

    def send(self, message) -> None:
        super().send(message)
        self.hook(message)


def test_two_dispatchers_never_send_a_message_twice_while_the_leases_hold(app, second_app, actors, channels, clock):
    add_mail_handlers(app, 6)
    for _ in range(3):
        assign(app, actors, lead="water")
    total = queued(app)
    assert len(total) == 18
    reports = []
    done = []

    def meanwhile(message) -> None:
        if not done:  # while A is sending its first message, B runs (with and without time passing)
            done.append(message.idempotency_key)
            reports.append(beta.dispatch())
            clock.advance(LEASE - timedelta(seconds=1))
            reports.append(beta.dispatch())

    shared = {"email": HookedChannel("email", meanwhile)}
    alpha = Dispatcher(app.db, shared, app.notification_config, clock, holder="alpha")
    beta = Dispatcher(second_app.db, shared, second_app.notification_config, clock, holder="beta")
    first = alpha.dispatch(limit=10)
    assert first.claimed == 10 and len(first.sent) == 10 and first.lost == []
    # B took only what A had not claimed, both times
    assert reports[0].claimed == 8 and reports[1].claimed == 0
    assert set(reports[0].sent).isdisjoint(first.sent)
    keys = shared["email"].sent_keys
    assert len(keys) == len(set(keys)) == 18
    assert {r.status for r in queued(app)} == {"sent"}
    assert {r.id: r.attempts for r in queued(app)} == {r.id: 1 for r in total}


def test_a_dispatcher_whose_lease_ran_out_mid_batch_does_not_send_the_rest(app, second_app, actors, clock):
    add_mail_handlers(app, 3)
    assign(app, actors, lead="water")
    slow_first = []

    def slow(message) -> None:
        if not slow_first:  # the first send takes longer than the lease (e.g. an SMTP time-out)
            slow_first.append(message.idempotency_key)
            clock.advance(LEASE + timedelta(seconds=1))
            beta.dispatch()

    shared = {"email": HookedChannel("email", slow)}
    alpha = Dispatcher(app.db, shared, app.notification_config, clock, holder="alpha")
    beta = Dispatcher(second_app.db, shared, second_app.notification_config, clock, holder="beta")
    alpha.dispatch()
    keys = shared["email"].sent_keys
    # the first message may go twice (its sender was too slow to record it in time); no other one
    repeated = {k for k in keys if keys.count(k) > 1}
    assert repeated <= set(slow_first), keys
    assert {r.status for r in queued(app)} == {"sent"}


class Crash(BaseException):
    """What a dying process looks like to the code after the send: nothing runs any more."""


def test_a_crash_between_send_and_record_loses_nothing(app, second_app, actors, clock):
    add_mail_handlers(app, 4)
    assign(app, actors, lead="water")
    before = {r.id: r.idempotency_key for r in queued(app)}

    def die_after_the_first(message) -> None:
        if len(crashing.sent) == 1:
            raise Crash

    crashing = HookedChannel("email", die_after_the_first)
    victim = Dispatcher(app.db, {"email": crashing}, app.notification_config, clock, holder="victim")
    with pytest.raises(Crash):
        victim.dispatch()
    [delivered] = crashing.sent_keys
    left = queued(app)
    assert {r.status for r in left} == {"pending"}, "nothing was recorded"
    assert {r.lease_holder for r in left} == {"victim"}

    survivor_channel = MemoryChannel("email")
    survivor = Dispatcher(second_app.db, {"email": survivor_channel}, second_app.notification_config, clock,
                          holder="survivor")  # fmt: skip
    clock.advance(LEASE - timedelta(seconds=1))
    assert survivor.dispatch().claimed == 0, "the victim's lease still holds"
    clock.advance(timedelta(seconds=1))
    report = survivor.dispatch()
    assert report.claimed == 4 and len(report.sent) == 4
    # every message delivered at least once, the crashed one twice with the same key; none lost
    assert sorted(survivor_channel.sent_keys) == sorted(before.values())
    assert delivered in survivor_channel.sent_keys
    assert {r.id: (r.status, r.idempotency_key) for r in queued(app)} == {i: ("sent", k) for i, k in before.items()}


VICTIM = r"""
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, sys.argv[1])
from caseflow.app import build
from config.settings import Settings
from workflow.clock import FixedClock


class SendThenHang:
    name = "email"

    def send(self, message):
        print("sent", message.idempotency_key, flush=True)
        sys.stdin.read()  # hangs here, between the send and the record, until killed


app = build(Settings(database_url=sys.argv[2], data_dir=Path(sys.argv[3]), config_dir=None, fake_now=None),
            clock=FixedClock(datetime.fromisoformat(sys.argv[4])))
app.dispatcher.channels = {"email": SendThenHang()}
app.dispatcher.holder = "victim"
app.dispatcher.dispatch()
print("recorded", flush=True)
"""


def test_a_dispatcher_killed_between_send_and_record_loses_nothing(app, actors, channels, database_url, data_dir,
                                                                   clock):  # fmt: skip
    add_mail_handlers(app, 3)
    assign(app, actors, lead="water")
    keys = {r.idempotency_key for r in queued(app)}
    victim = subprocess.Popen(
        [sys.executable, "-c", VICTIM, str(TESTS_DIR), database_url, str(data_dir), clock.now().isoformat()],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = victim.stdout.readline()  # blocks until the first message is out
        assert line.startswith("sent "), victim.stderr.read() if victim.poll() is not None else line
        os.kill(victim.pid, signal.SIGKILL)
        out, err = victim.communicate(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.communicate()
    assert victim.returncode == -signal.SIGKILL and "recorded" not in out, err
    delivered = line.split()[1]
    assert delivered in keys
    assert {(r.status, r.lease_holder) for r in queued(app)} == {("pending", "victim")}

    # restarted: the dead dispatcher's lease runs out, the messages go (the first one again)
    assert app.dispatcher.dispatch().claimed == 0
    clock.advance(LEASE)
    report = app.dispatcher.dispatch()
    assert len(report.sent) == 3 and report.lost == []
    assert sorted(channels["email"].sent_keys) == sorted(keys)
    assert {r.status for r in queued(app)} == {"sent"}


def _dispatch_in_process(url: str, data_dir: str, now: str, holder: str, barrier, results) -> None:
    try:
        sys.path.insert(0, str(TESTS_DIR))
        from datetime import datetime

        from workflow.clock import FixedClock

        child = build(settings_for(url, Path(data_dir)), clock=FixedClock(datetime.fromisoformat(now)))
        try:
            channel = MemoryChannel("email")
            child.dispatcher.channels = {"email": channel}
            child.dispatcher.holder = holder
            barrier.wait()
            while child.dispatcher.dispatch(limit=3).claimed:
                pass
            results.put(("ok", channel.sent_keys))
        finally:
            child.close()
    except BaseException:  # noqa: BLE001 - the parent fails with the child's traceback
        results.put(("error", traceback.format_exc()))
        barrier.abort()


def test_dispatcher_processes_racing_send_each_message_once(app, actors, database_url, data_dir, clock):
    dispatchers = 3
    add_mail_handlers(app, 10)
    for _ in range(6):
        assign(app, actors, lead="water")
    keys = sorted(r.idempotency_key for r in queued(app))
    assert len(keys) == 60
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(dispatchers, timeout=120), ctx.Queue()
    children = [
        ctx.Process(
            target=_dispatch_in_process,
            args=(database_url, str(data_dir), clock.now().isoformat(), f"p{i}", barrier, results),
        )
        for i in range(dispatchers)
    ]
    for child in children:
        child.start()
    sent: list[str] = []
    try:
        for _ in range(dispatchers):
            status, payload = results.get(timeout=300)
            assert status == "ok", payload
            sent += payload
    finally:
        for child in children:
            child.join(timeout=120)
    assert [child.exitcode for child in children] == [0] * dispatchers
    assert sorted(sent) == keys, "each message exactly once"
    assert {(r.status, r.attempts) for r in queued(app)} == {("sent", 1)}


# --- group robots -------------------------------------------------------------------------------------


def test_group_robot_messages_go_to_the_configured_webhook(database_url, data_dir, clock, tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "notifications.yaml").write_text(
        "webhooks:\n"
        "  - {department: power, kind: json, url: 'http://127.0.0.1:9/hook', events: [overdue, listed]}\n"
        "  - {department: 市供电公司, kind: dingtalk, url: 'https://oapi.dingtalk.com/robot/send?access_token=t',"
        " secret: SECabc}\n",
        encoding="utf-8",
    )
    robots = build(settings_for(database_url, data_dir, config), clock=clock)
    try:
        robots.migrate()
        from helpers import standard_actors

        a = standard_actors(robots)
        memory = MemoryChannel("webhook")
        robots.dispatcher.channels = {"webhook": memory}
        number = new_enterprise_case(robots)["number"]
        robots.cases.advance(number, "assign", a.dispatcher, {"lead_unit": "power"})
        hooks = [r for r in rows(robots) if r.channel == "webhook"]
        # a robot's index counts among the robots of the unit that take that event
        assert [(r.event, r.recipient) for r in hooks] == [("assigned", "dept:power#0:dingtalk")]
        from datetime import datetime

        from workflow.clock import SHANGHAI

        clock.set(datetime(2026, 10, 9, 0, 0, tzinfo=SHANGHAI))  # warned and overdue
        robots.sweeper.sweep()
        hooks = [r for r in rows(robots) if r.channel == "webhook"]
        assert sorted((r.event, r.recipient) for r in hooks) == sorted([
            ("assigned", "dept:power#0:dingtalk"), ("warned", "dept:power#0:dingtalk"),
            ("overdue", "dept:power#0:json"), ("overdue", "dept:power#1:dingtalk"),
        ])  # fmt: skip
        assert all(number in r.subject for r in hooks)
        clock.set(datetime(2026, 10, 9, 9, 0, tzinfo=SHANGHAI))
        robots.dispatcher.dispatch()
        addresses = {(m.address.webhook_kind, m.address.webhook_url, m.address.webhook_secret) for m in memory.sent}
        assert addresses == {
            ("json", "http://127.0.0.1:9/hook", None),
            ("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t", "SECabc"),
        }
        assert len(memory.sent) == 4 and {r.status for r in rows(robots) if r.channel == "webhook"} == {"sent"}
    finally:
        robots.close()
