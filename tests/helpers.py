"""Shared test helpers: the standard users, valid registration fields, tiny evidence files, and
walks that drive a case through the real service to a target state.

Import from tests as ``from helpers import ...`` (``tests/`` is on ``sys.path`` through
``tests/conftest.py``). Everything here goes through ``App``'s public services; nothing writes
to the database directly except the helpers named ``tamper_*``/``count_rows`` (audit tests).
"""

import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from caseflow.app import App, build
from cases.models import EvidenceFile
from cases.service import Upload
from config.settings import Settings
from workflow.clock import FixedClock
from workflow.org import Actor
from workflow.uscc import check_character

ENTERPRISE = "enterprise_issue"
SITE = "scattered_polluting"
START = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
"""The instant every test app starts at: 2026-09-30 10:00 in Asia/Shanghai."""

SQLITE_ONLY = pytest.mark.parametrize("database_url", [pytest.param("sqlite", id="sqlite")], indirect=True)
"""Runs a test that uses ``database_url`` (or ``app``) on SQLite only: no ``pg`` variant at all."""
POSTGRESQL_ONLY = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", id="pg", marks=pytest.mark.postgres)], indirect=True
)
"""Runs it on PostgreSQL only (no ``sqlite`` variant); without ``TEST_DATABASE_URL`` it is skipped,
or fails under ``CI=true``, like every ``pg`` variant."""


def make_uscc(first17: str) -> str:
    """A credit code with a valid check character (GB 32100-2015)."""
    return first17 + check_character(first17)


USCC = make_uscc("91340881MA2N00012")


# --- evidence -------------------------------------------------------------------------------------


def tiny_png(seed: int = 0) -> bytes:
    """A valid 1×1 RGB PNG; a different ``seed`` gives different bytes (a different SHA-256)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    r, g, b = seed % 256, (seed // 256) % 256, (seed // 65536) % 256
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes([0, r, g, b])))
        + chunk(b"IEND", b"")
    )


PNG = tiny_png()
"""A tiny valid PNG (69 bytes)."""


def photo(seed: int = 0, name: str = "photo.png") -> Upload:
    return Upload(name, tiny_png(seed))


def evidence_files(data_dir: Path) -> list[Path]:
    """Every stored evidence file (not temporary ones) under ``data_dir/evidence``."""
    root = Path(data_dir) / "evidence"
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".incoming-"))


def count_rows(app: App, table: Any) -> int:
    """Rows in a table (a SQLModel class or a Table)."""
    table = getattr(table, "__table__", table)
    with app.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def evidence_rows(app: App) -> int:
    return count_rows(app, EvidenceFile)


# --- ledgers -------------------------------------------------------------------------------------


def xlsx_bytes(rows: list[list[Any]], title: str = "Sheet") -> bytes:
    """A workbook of one sheet holding ``rows`` (the first one is usually the header), as bytes."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = title
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- users ----------------------------------------------------------------------------------------

STANDARD_USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dispatcher": ("sti", ("dispatcher",)),
    "collector": ("sti", ("collector",)),
    "power": ("power", ("handler",)),
    "water": ("water", ("handler",)),
    "gas": ("gas", ("handler",)),
    "kongcheng": ("kongcheng", ("handler",)),
    "ecology": ("ecology", ("handler",)),
    "drc": ("drc", ("handler",)),
    "market_regulation": ("market_regulation", ("handler",)),
    "power_head": ("power", ("unit_head",)),
    "supervisor": ("sti", ("supervisor",)),
}
"""User name → (department, roles). Handlers are named after their department's code."""


@dataclass(frozen=True)
class Actors:
    """The standard actors of the tests (each a user in the app's database, without password)."""

    dispatcher: Actor
    collector: Actor
    power: Actor
    water: Actor
    gas: Actor
    kongcheng: Actor
    ecology: Actor
    drc: Actor
    market_regulation: Actor
    power_head: Actor
    supervisor: Actor
    system: Actor

    def handler(self, department: str) -> Actor:
        """The standard handler of a department code (power, water, gas, kongcheng, …)."""
        actor = getattr(self, department)
        assert actor.department == department and actor.has("handler"), department
        return actor


def standard_actors(app: App) -> Actors:
    """Create the standard users that do not exist yet (no passwords: argon2 is slow)."""
    for name, (department, roles) in STANDARD_USERS.items():
        if not app.users.exists(name):
            app.users.add(name, department, list(roles))
    actors = {name: app.users.actor(name) for name in STANDARD_USERS}
    return Actors(**actors, system=Actor.system())


def build_app(
    database_url: str,
    data_dir: Path,
    *,
    clock: FixedClock | None = None,
    config_dir: Path | None = None,
) -> App:
    """An app like the ``app`` fixture's (not migrated): for second apps and child processes."""
    settings = Settings(database_url=database_url, data_dir=data_dir, config_dir=config_dir, fake_now=None)
    return build(settings, clock=clock or FixedClock(START))


# --- creating cases -------------------------------------------------------------------------------


def enterprise_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": "园区企业用电增容审批慢",
        "description": "企业新上生产线，申请用电增容三个月未办结。",
        "category": "生产要素",
        "enterprise_name": "桐城市示例包装有限公司",
        "uscc": USCC,
        "town": "kongcheng",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def site_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "site_name": "孔城镇某塑料颗粒加工点",
        "address": "孔城镇桐梓村三组",
        "town": "kongcheng",
        "violations": ["环境违法", "无证无照"],
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def new_enterprise_case(app: App, actor: Actor | None = None, **overrides: Any) -> dict[str, Any]:
    """Register an enterprise problem (as the dispatcher unless ``actor`` is given); a field
    given as ``None`` is left out."""
    actor = actor or standard_actors(app).dispatcher
    return app.cases.create(ENTERPRISE, actor, enterprise_fields(**overrides))


def new_site_case(app: App, actor: Actor | None = None, **overrides: Any) -> dict[str, Any]:
    """Register a scattered-polluting site in 孔城镇 (violations 环境违法, 无证无照)."""
    actor = actor or standard_actors(app).dispatcher
    return app.cases.create(SITE, actor, site_fields(**overrides))


# --- walks ----------------------------------------------------------------------------------------

_ENTERPRISE_PATH = ["registered", "assigned", "in_progress", "answered", "follow_up", "closed"]


def _enterprise_step(a: Actors, state: str, target: str) -> tuple[str, Actor, dict[str, Any]]:
    if state == "registered" and target == "not_accepted":
        return "decline", a.dispatcher, {"reason": "涉诉事项，不予受理"}
    if state == "in_progress" and target == "extension_requested":
        return "request_extension", a.power, {"reason": "需协调上级部门", "days": 5}
    if state == "extension_requested":
        return "approve_extension", a.dispatcher, {"days": 5}
    steps = {
        "registered": ("assign", a.dispatcher, {"lead_unit": "power"}),
        "assigned": ("accept", a.power, {}),
        "in_progress": (
            "answer",
            a.power,
            {"result": "resolved", "reply": "已完成增容", "signed_by": "张主任"},
        ),
        "answered": ("approve_answer", a.dispatcher, {}),
        "follow_up": ("close", a.dispatcher, {"satisfaction": "满意"}),
    }
    return steps[state]


def walk_enterprise_to(app: App, number: str, state: str) -> dict[str, Any]:
    """Drive an enterprise problem forward along the usual path (lead unit 市供电公司, no co-units)
    until it is in ``state``; returns the case. ``ValueError`` if ``state`` cannot be reached."""
    a = standard_actors(app)
    case = app.cases.show(number)
    targets = {*_ENTERPRISE_PATH, "extension_requested", "not_accepted"}
    if state not in targets:
        raise ValueError(f"walk_enterprise_to cannot reach {state!r}")
    for _ in range(20):
        if case["state"] == state:
            return case
        if case["state"] in ("closed", "not_accepted"):
            break
        trigger, actor, fields = _enterprise_step(a, case["state"], state)
        case = app.cases.advance(number, trigger, actor, fields)
    raise ValueError(f"{number} is in {case['state']!r}; walk_enterprise_to cannot reach {state!r}")


def complete_open_items(app: App, number: str, checklist: str | None = None) -> dict[str, Any]:
    """Complete every open item (of ``checklist``, or of any) by the standard user of its executor
    department, with one PNG as evidence and the fields an item requires; an item its department
    confirms (a permit) is confirmed by that department's standard handler."""
    a = standard_actors(app)
    case = app.cases.show(number)
    for item in case["items"]:
        if item["status"] != "open" or (checklist is not None and item["checklist"] != checklist):
            continue
        executor = item["executor"]
        actor = a.dispatcher if executor == app.org.office else a.handler(executor)
        fields = {"meter_reading": "12345.6"} if item["key"] == "cut_power" else {}
        case = app.cases.complete_item(number, item["key"], actor, fields, evidence=[photo()])
        if item.get("confirmer"):
            case = app.cases.decide_item(number, item["key"], "confirm", a.handler(item["confirmer"]))
    return case


def walk_site_to(app: App, number: str, state: str, category: str = "ban") -> dict[str, Any]:
    """Drive a site forward until it is in ``state``: classified as ``category`` (``ban`` or
    ``rectify``), every item completed, acceptance passed, revisit due (system) and archived."""
    if category not in ("ban", "rectify"):
        raise ValueError(f"category must be ban or rectify, not {category!r}")
    a = standard_actors(app)
    case = app.cases.show(number)
    for _ in range(20):
        current = case["state"]
        if current == state:
            return case
        if current == "reported":
            case = app.cases.advance(number, "start_verification", a.dispatcher)
        elif current == "verifying" and state == "dismissed":
            case = app.cases.advance(number, "dismiss", a.dispatcher, {"reason": "经核查为合法经营户"})
        elif current == "verifying" and category == "ban":
            case = app.cases.advance(number, "classify_ban", a.dispatcher, {"plan": "依法取缔，两断三清"})
        elif current == "verifying":
            fields = {
                "items": ["business_license", "pollution_control"],
                "plan": "限期办证、完善治污设施",
            }
            case = app.cases.advance(number, "classify_rectify", a.dispatcher, fields)
        elif current in ("clearing", "rectifying"):
            complete_open_items(app, number, "clearing" if current == "clearing" else "rectification")
            trigger = "submit_clearance" if current == "clearing" else "submit_rectification"
            case = app.cases.advance(number, trigger, a.kongcheng)
        elif current == "acceptance":
            complete_open_items(app, number, "signoffs")
            case = app.cases.advance(number, "pass_acceptance", a.dispatcher)
        elif current == "closed":
            case = app.cases.advance(number, "revisit", a.system)
        elif current == "revisit_due":
            fields = {"notes": "回头看：未见反弹"}
            case = app.cases.advance(number, "confirm_revisit", a.kongcheng, fields, evidence=[photo()])
        else:
            break
    raise ValueError(f"{number} is in {case['state']!r}; walk_site_to cannot reach {state!r}")


# --- step-by-step checking ------------------------------------------------------------------------


class Tracker:
    """Fires actions at one case and checks, after each, what every step must hold: the new
    state, the version up by exactly one, the counters (all of them), the returned case equal
    to what ``show`` reads back, and the history grown by one event (seq 1..n, trigger, actor,
    from/to, hash-linked to the previous event)."""

    def __init__(self, app: App, case: dict[str, Any]) -> None:
        self.app = app
        self.number: str = case["number"]
        self.case = case
        self.counters: dict[str, int] = dict(case["counters"])
        self.events: list[tuple[str, str | None, str]] = [
            (e["trigger"], e["from_state"], e["to_state"]) for e in app.cases.history(self.number)
        ]
        assert case["version"] == len(self.events), "a case's version counts its events"

    @property
    def state(self) -> str:
        return str(self.case["state"])

    @property
    def version(self) -> int:
        return int(self.case["version"])

    def advance(
        self,
        trigger: str,
        actor: Actor,
        fields: dict[str, Any] | None = None,
        *,
        to: str,
        bump: tuple[str, ...] = (),
        counters: dict[str, int] | None = None,
        evidence: tuple[Upload, ...] | list[Upload] = (),
        comment: str | None = None,
    ) -> dict[str, Any]:
        """Fire ``trigger`` and check the step; ``bump`` counters go up by one, ``counters``
        take the values given; every other counter must stay as it was."""
        before = self.case
        self.counters.update(counters or {})
        case = self.app.cases.advance(
            self.number,
            trigger,
            actor,
            fields or {},
            comment=comment,
            expected_version=self.version,
            evidence=evidence,
        )
        return self._check(before, case, trigger, actor, to, bump, comment)

    def item(
        self,
        key: str,
        actor: Actor,
        fields: dict[str, Any] | None = None,
        *,
        evidence: tuple[Upload, ...] | list[Upload] = (),
    ) -> dict[str, Any]:
        before = self.case
        case = self.app.cases.complete_item(
            self.number, key, actor, fields or {}, expected_version=self.version, evidence=evidence
        )
        self._check(before, case, "complete_item", actor, before["state"], (), None)
        # the checking above compared the counters too: completing an item changes none
        done = next(i for i in case["items"] if i["key"] == key)
        if done["confirmer"]:  # a permit: reported, done once its department confirms it
            assert done["status"] == "awaiting_confirmation" and done["done"] is False
            assert done["confirmation"]["reported_by"] == actor.username
        else:
            assert done["done"] is True and done["done_by"] == actor.username
        return case

    def confirm(self, key: str, actor: Actor) -> dict[str, Any]:
        """The issuing department confirms a permit the town reported."""
        before = self.case
        case = self.app.cases.decide_item(self.number, key, "confirm", actor, expected_version=self.version)
        self._check(before, case, "confirm_item", actor, before["state"], (), None)
        assert next(i for i in case["items"] if i["key"] == key)["done"] is True
        return case

    def _check(
        self,
        before: dict[str, Any],
        case: dict[str, Any],
        trigger: str,
        actor: Actor,
        to: str,
        bump: tuple[str, ...],
        comment: str | None,
    ) -> dict[str, Any]:
        assert case["state"] == to, f"{trigger}: expected {to}, got {case['state']}"
        assert case["version"] == before["version"] + 1
        assert case["number"] == self.number and case["id"] == before["id"]
        for name in bump:
            self.counters[name] = self.counters.get(name, 0) + 1
        assert case["counters"] == self.counters, f"{trigger}: counters"
        assert self.app.cases.show(self.number, actor) == case, f"{trigger}: stored case differs from the returned one"
        self.events.append((trigger, before["state"], to))
        history = self.app.cases.history(self.number)
        assert [(e["trigger"], e["from_state"], e["to_state"]) for e in history] == self.events
        assert [e["seq"] for e in history] == list(range(1, len(self.events) + 1))
        last = history[-1]
        assert last["actor"] == actor.username
        assert last["comment"] == comment
        assert last["prev_hash"] == history[-2]["hash"]
        assert len({e["hash"] for e in history}) == len(history)
        self.case = case
        return case
