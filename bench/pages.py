"""Server-side time of the web pages on a database of 100,000 cases (target: median < 200 ms).

Builds (once, then cached) a SQLite database with the demo users and 100,000 cases of both
types spread over every state, unit, town and supervision level, with hash-chained histories,
checklist items, ladder steps and notifications, written in bulk with SQLAlchemy Core (the
services would take an hour). Then it signs in through the web form (and for the API with a
bearer token) and times, in process through httpx's ASGI transport, the to-do list (filtered
and not), the API to-do list (``GET /api/todo``), a case page and the dashboard: several runs
each, the median against the 200 ms target, and a ratio against a baseline measured in the same
run (``GET /api/health``, the cost of the stack alone). ``--plans`` prints SQLite's plans of
the API to-do list's statements.

    python bench/pages.py [--cases 100000] [--runs 15] [--profile stress] [--plans] [--rebuild] [--cache DIR]

The cache lives in ``$CASEFLOW_BENCH_CACHE`` or ``~/.cache/caseflow-bench`` and is keyed by the
number of cases and the builder's version; ``--rebuild`` makes it again. The pages are timed on
a copy brought to the newest schema revision (``at_head``, cached per revision and content of
the migrations).
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select  # noqa: E402

from caseflow.app import App, build  # noqa: E402
from caseflow.demo import DEMO_PASSWORD, load_demo  # noqa: E402
from cases import audit  # noqa: E402
from cases.models import Case, CaseEvent, CaseItem, CaseUnit, LadderStep, Notification  # noqa: E402
from config.settings import Settings  # noqa: E402
from workflow.clock import SHANGHAI, FixedClock  # noqa: E402
from workflow.uscc import check_character  # noqa: E402

BUILDER_VERSION = 3
NOW = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
TARGET_MS = 200.0
CASES, EVENTS, ITEMS, UNITS = Case.__table__, CaseEvent.__table__, CaseItem.__table__, CaseUnit.__table__
STEPS, NOTES = LadderStep.__table__, Notification.__table__

UNITS_POOL = ["power", "water", "gas", "drc", "finance", "natural_resources", "commerce", "emergency",
              "market_regulation", "urban_management", "ecology", "tax", "enterprise_service", "etdz"]  # fmt: skip
TOWNS = ["longteng", "wenchang", "longmian", "kongcheng", "lvting", "fangang", "xindu", "shuanggang", "daguan",
         "qingcao", "jinshen", "xizihu", "tangwan", "huangjia", "xunyu", "etdz", "shuangxin"]  # fmt: skip
ENTERPRISE_STATES = [("closed", 50), ("not_accepted", 3), ("registered", 3), ("assigned", 5), ("in_progress", 25),
                     ("extension_requested", 2), ("answered", 5), ("follow_up", 7)]  # fmt: skip
SITE_STATES = [("archived", 30), ("dismissed", 5), ("closed", 10), ("revisit_due", 3), ("reported", 5),
               ("verifying", 10), ("clearing", 15), ("rectifying", 15), ("acceptance", 7)]  # fmt: skip
LEVELS = [("normal", 70), ("warned", 10), ("overdue", 10), ("supervised", 6), ("listed", 4)]
TERMINAL = {"closed", "not_accepted", "archived", "dismissed"}
OFFICE_STATES = {"registered", "extension_requested", "answered", "follow_up", "acceptance"}
LEAD_STATES = {"assigned", "in_progress"}
TOWN_STATES = {"reported", "verifying", "clearing", "rectifying", "revisit_due"}
TITLES = ["用电增容", "专变报装", "线路改造", "用地手续", "环评审批", "融资对接", "用工招聘", "物流通道", "政策兑现", "技改补贴"]
SITE_KINDS = ["塑料颗粒加工点", "废旧轮胎堆放点", "喷漆作坊", "家具加工厂", "废品回收站", "小型洗砂场", "铸造作坊"]
CLEARING = [("cut_water", "断水", "water"), ("cut_power", "断电", "power"), ("clear_materials", "清除原料", None),
            ("clear_products", "清除产品", None), ("clear_equipment", "清除设备", None)]  # fmt: skip


def pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def uscc(serial: int) -> str:
    prefix = f"91340881MA{serial:07d}"
    return prefix + check_character(prefix)


def cache_path(cases: int, cache_dir: Path | None, profile: str = "realistic") -> Path:
    root = cache_dir or Path(os.environ.get("CASEFLOW_BENCH_CACHE") or Path.home() / ".cache" / "caseflow-bench")
    return root / f"pages-{cases}-{profile}-v{BUILDER_VERSION}"


def open_app(directory: Path) -> App:
    settings = Settings(database_url=f"sqlite:///{directory / 'caseflow.db'}", data_dir=directory / "data")
    return build(settings, clock=FixedClock(NOW))


def build_database(directory: Path, cases: int, seed: int = 20261, profile: str = "realistic") -> None:
    """The demo users and cases, then ``cases`` more written in bulk."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    app = open_app(directory)
    app.migrate()
    load_demo(app)
    rng = random.Random(seed)
    versions = {t: app.definitions.current(t).spec.version for t in app.definitions.types}
    started = time.perf_counter()
    with app.db.write() as conn:
        first_id = int(conn.execute(select(func.coalesce(func.max(CASES.c.id), 0))).scalar_one()) + 1
        batch: dict[str, list[dict[str, Any]]] = {"case": [], "event": [], "item": [], "unit": [], "step": [], "note": []}
        for n in range(cases):
            _one_case(rng, first_id + n, n, versions, batch, profile)
            if len(batch["case"]) >= 5000:
                _flush(conn, batch)
        _flush(conn, batch)
    with app.db.write() as conn:
        conn.exec_driver_sql("ANALYZE")
    app.close()
    print(f"built {cases} cases in {time.perf_counter() - started:.1f} s → {directory}", file=sys.stderr)


def _flush(conn: Any, batch: dict[str, list[dict[str, Any]]]) -> None:
    for key, table in (("case", CASES), ("event", EVENTS), ("item", ITEMS), ("unit", UNITS), ("step", STEPS), ("note", NOTES)):
        if batch[key]:
            conn.execute(insert(table), batch[key])
            batch[key].clear()


def _state(rng: random.Random, enterprise: bool, age_days: float, profile: str) -> str:
    """``realistic``: a case older than six weeks is closed, but for one in ten still open
    (the laggards the ladder is for); ``stress``: every case is spread over all states
    whatever its age (about 45 % open)."""
    weighted = ENTERPRISE_STATES if enterprise else SITE_STATES
    if profile == "realistic" and age_days > 42 and rng.random() > 0.10:
        weighted = [(s, w) for s, w in weighted if s in TERMINAL]
    return pick(rng, weighted)


def _one_case(rng: random.Random, case_id: int, n: int, versions: dict[str, str], batch: dict[str, list[dict[str, Any]]],
              profile: str = "realistic") -> None:  # fmt: skip
    enterprise = rng.random() < 0.6
    kind = "enterprise_issue" if enterprise else "scattered_polluting"
    age = rng.uniform(0, 640)
    state = _state(rng, enterprise, age, profile)
    created = NOW - timedelta(days=age, minutes=rng.randint(0, 600))
    year = created.astimezone(SHANGHAI).year
    number = f"{'QY' if enterprise else 'SLW'}-{year}-{100000 + n:06d}"
    town = rng.choice(TOWNS)
    lead = rng.choice(UNITS_POOL) if enterprise and state not in ("registered", "not_accepted") else None
    co = [u for u in rng.sample(UNITS_POOL, 1) if u != lead] if lead and rng.random() < 0.3 else []
    open_ = state not in TERMINAL
    level = pick(rng, LEVELS) if open_ else "normal"
    due_day = (NOW + timedelta(days=rng.randint(-25, 20))).astimezone(SHANGHAI).date() if open_ or state == "closed" and not enterprise else None
    due_at = datetime(due_day.year, due_day.month, due_day.day, tzinfo=SHANGHAI) + timedelta(days=1) if due_day else None
    closed_at = created + timedelta(days=rng.uniform(3, 40)) if not open_ or state == "closed" else None
    if closed_at is not None and closed_at > NOW:
        closed_at = NOW - timedelta(hours=rng.randint(1, 500))
    if enterprise:
        title = f"{rng.choice(TITLES)}问题{n}"
        fields: dict[str, Any] = {
            "title": title, "description": f"企业反映{title}，请协调解决。", "category": "生产要素", "source": "走访",
            "enterprise_name": f"桐城市测试企业{n}号有限公司", "uscc": uscc(n), "town": town, "industry": "绿色包装",
            "contact": "企业联系人 13800000000", "class": "general",
        }  # fmt: skip
        if lead:
            fields.update(lead_unit=lead, co_units=co, instructions="请于期限内答复企业")
    else:
        title = f"{rng.choice(SITE_KINDS)}{n}"
        fields = {
            "site_name": title, "operator": f"经营者{n}", "address": f"测试村{n % 50}组", "town": town, "village": "测试村",
            "source": "网格巡查", "violations": ["环境违法"], "power_account": f"3408810{n:06d}",
        }  # fmt: skip
    units: dict[str, bool] = {}
    if lead:
        units[lead] = state in LEAD_STATES
    for c in co:
        units[c] = False
    units.setdefault(town, state in TOWN_STATES)
    if state in OFFICE_STATES:
        units["sti"] = True
    if not enterprise and state in ("clearing", "acceptance", "closed", "revisit_due", "archived"):
        units.setdefault("ecology", False)
        for position, (key, label, executor) in enumerate(CLEARING):
            done = state != "clearing" or rng.random() < 0.5
            unit = executor or town
            if state == "clearing" and not done:
                units[unit] = True
            else:
                units.setdefault(unit, False)
            batch["item"].append({
                "case_id": case_id, "checklist": "clearing", "key": key, "label": label, "position": position,
                "executor": unit, "done": done, "done_by": "bench" if done else None, "done_at": created if done else None,
                "evidence": ["0" * 64] if done else [], "data": {"meter_reading": "100"} if done and key == "cut_power" else {},
            })  # fmt: skip
    for unit, waiting in units.items():
        batch["unit"].append({"case_id": case_id, "unit": unit, "waiting": waiting})
    events = _history(rng, case_id, number, kind, state, created, lead, town)
    batch["event"].extend(events)
    ever_overdue = level in ("overdue", "supervised", "listed") or (not open_ and rng.random() < 0.15)
    if ever_overdue:
        batch["step"].append({"case_id": case_id, "deadline_seq": 1, "level": "overdue", "at": created + timedelta(days=3), "actor": "system"})
    if lead and rng.random() < 0.5:
        batch["note"].append({
            "idempotency_key": f"bench:{case_id}", "case_id": case_id, "case_number": number, "event": "assigned",
            "recipient": "power_handler" if lead == "power" else "office", "channel": "inapp", "urgent": False,
            "subject": f"【交办单】{number} {title}", "body_text": "bench", "status": "sent", "attempts": 1,
            "next_attempt_at": created, "created_at": created, "sent_at": created,
        })  # fmt: skip
    batch["case"].append({
        "id": case_id, "number": number, "type": kind, "definition_version": versions[kind], "state": state, "version": len(events),
        "title": title, "lead_unit": lead, "town": town, "uscc": fields.get("uscc"), "fields": fields, "counters": {},
        "co_units": {c: {"accepted_at": None, "feedback_at": None, "feedback": None} for c in co},
        "flags": {"units": units, "due_date": due_day.isoformat() if due_day else None},
        "due_at": due_at, "due_date": due_day, "due_provisional": False, "ladder_level": level, "supervision": level, "deadline_seq": 1,
        "next_check_at": due_at, "created_by": "collector", "created_at": created, "updated_at": created,
        "closed_at": closed_at, "event_seq": len(events), "head_hash": events[-1]["hash"],
    })  # fmt: skip


def _history(rng: random.Random, case_id: int, number: str, kind: str, state: str, created: datetime,
             lead: str | None, town: str) -> list[dict[str, Any]]:  # fmt: skip
    path = ["create", "assign", "accept", "answer", "approve_answer", "close"] if kind == "enterprise_issue" else \
        ["create", "start_verification", "classify_ban", "submit_clearance", "pass_acceptance"]  # fmt: skip
    steps = rng.randint(1, len(path)) if state not in TERMINAL else len(path)
    actors = {"create": "collector", "assign": "office", "accept": "power_handler", "answer": "power_handler",
              "approve_answer": "office", "close": "office", "start_verification": "kongcheng_handler",
              "classify_ban": "office", "submit_clearance": "kongcheng_handler", "pass_acceptance": "office"}  # fmt: skip
    events, prev, at, from_state = [], audit.GENESIS, created, None
    for seq, trigger in enumerate(path[:steps], start=1):
        to_state = state if seq == steps else f"step{seq}"
        payload = {"fields": {"lead_unit": lead} if trigger == "assign" and lead else {}, "unit": lead or town}
        content = audit.event_content(number, seq, at, actors[trigger], trigger, from_state, to_state, None, payload)
        digest = audit.chain_hash(prev, content)
        events.append({"case_id": case_id, "seq": seq, "at": at, "actor": actors[trigger], "trigger": trigger,
                       "from_state": from_state, "to_state": to_state, "comment": None, "payload": payload,
                       "prev_hash": prev, "hash": digest})  # fmt: skip
        prev, from_state, at = digest, to_state, min(at + timedelta(hours=rng.randint(2, 60)), NOW)
    return events


# --- measuring ----------------------------------------------------------------------------------------

def at_head(source: Path) -> Path:
    """A copy of the cached database brought to the newest schema revision (made once per
    revision and content of the migrations, cached next to it): the cache is built once, the migrations move on."""
    from alembic.script import ScriptDirectory

    from cases.migrate import _config

    import hashlib

    head = ScriptDirectory.from_config(_config()).get_current_head()
    versions = Path(_config().get_main_option("script_location") or "") / "versions"
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(versions.glob("*.py")))).hexdigest()[:8]
    target = source.parent / f"{source.name}-r{head}-{digest}"  # a migration edited since: made again
    if not (target / "caseflow.db").exists():
        partial = source.parent / f"{target.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(source, partial)
        app = open_app(partial)
        app.migrate()
        with app.db.write() as conn:
            conn.exec_driver_sql("ANALYZE")
        app.close()
        partial.rename(target)
    return target


async def _client(web: Any, username: str, api: bool = False) -> Any:
    """A client signed in through the web form, or (``api``) holding a bearer token."""
    import httpx

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bench", follow_redirects=False)
    if api:
        signed = await client.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
        assert signed.status_code == 200, signed.text[:300]
        client.headers["Authorization"] = f"Bearer {signed.json()['access_token']}"
        return client
    form = await client.get("/login")
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    signed = await client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token, "next": "/"})
    assert signed.status_code == 303, signed.text[:300]
    return client


async def _time(client: Any, path: str, runs: int) -> tuple[float, float, int, int]:
    """Median and 90th percentile in ms over ``runs`` (after two warm-up requests)."""
    samples = []
    size = status = 0
    for n in range(runs + 2):
        started = time.perf_counter()
        response = await client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        status, size = response.status_code, len(response.content)
        if n >= 2:
            samples.append(elapsed)
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))], status, size


def pages_to_time(app: App) -> list[tuple[str, str, str]]:
    with app.db.read() as conn:
        site = conn.execute(select(CASES.c.number).where(CASES.c.state == "clearing", CASES.c.id > 20).order_by(CASES.c.id).limit(1)).scalar_one()
        enterprise = conn.execute(
            select(CASES.c.number).where(CASES.c.state == "in_progress", CASES.c.lead_unit == "power", CASES.c.id > 20).order_by(CASES.c.id).limit(1)
        ).scalar_one()
    return [
        ("baseline: GET /api/health", "office", "/api/health"),
        ("to-do list, power company", "power_handler", "/todo"),
        ("to-do list, the office", "office", "/todo"),
        ("to-do list, search by name", "power_handler", "/todo?q=%E6%B5%8B%E8%AF%95%E4%BC%81%E4%B8%9A12"),
        ("to-do list, overdue filter", "office", "/todo?level=overdue_up"),
        ("API to-do, power company", "power_handler", "/api/todo"),
        ("API to-do, the office", "office", "/api/todo"),
        ("API to-do, power company, page 20", "power_handler", "/api/todo/cases?page=20"),
        (f"case page {site}", "power_handler", f"/cases/{site}"),
        (f"case page {enterprise}", "office", f"/cases/{enterprise}"),
        ("dashboard (挂图作战)", "supervisor", "/dashboard"),
    ]


async def measure(directory: Path, runs: int) -> list[dict[str, Any]]:
    from web.server import create_web_app

    app = open_app(directory)
    web = create_web_app(app)
    clients: dict[tuple[str, bool], Any] = {}
    results = []
    try:
        for label, user, path in pages_to_time(app):
            key = (user, path.startswith("/api/") and path != "/api/health")
            if key not in clients:
                clients[key] = await _client(web, *key)
            median, p90, status, size = await _time(clients[key], path, runs)
            results.append({"page": label, "path": path, "median_ms": median, "p90_ms": p90, "status": status, "bytes": size})
    finally:
        for client in clients.values():
            await client.aclose()
        app.close()
    return results


def todo_plans(directory: Path, username: str) -> list[str]:
    """EXPLAIN QUERY PLAN of the statements behind the first page of ``username``'s API to-do
    list (the ones that read ``case_unit``)."""
    from sqlalchemy import event

    app = open_app(directory)
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append((statement, parameters))

    actor = app.users.actor(username)
    event.listen(app.db.engine, "before_cursor_execute", grab)
    try:
        app.cases.list_cases(actor=actor, waiting_for=actor.department, sort="due", page_size=50)
    finally:
        event.remove(app.db.engine, "before_cursor_execute", grab)
    lines = []
    with app.db.engine.connect() as conn:
        for statement, parameters in seen:
            if "case_unit" in statement:
                lines.append(" ".join(statement.split())[:150] + " …")
                plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                lines += [f"    {row[-1]}" for row in plan]
    app.close()
    return lines


def describe(directory: Path) -> str:
    app = open_app(directory)
    closed = ("closed", "not_accepted", "archived", "dismissed")
    with app.db.read() as conn:
        total = conn.execute(select(func.count()).select_from(CASES)).scalar_one()
        open_ = conn.execute(select(func.count()).select_from(CASES).where(CASES.c.state.not_in(closed))).scalar_one()
        events = conn.execute(select(func.count()).select_from(EVENTS)).scalar_one()
    app.close()
    return f"{total} cases, {open_} open, {events} events"


def report(title: str, results: list[dict[str, Any]]) -> bool:
    baseline = results[0]["median_ms"]
    print(f"\n{title}")
    print(f"{'page':38} {'median':>9} {'p90':>9} {'× base':>8}  status  target {TARGET_MS:.0f} ms")
    ok = True
    for r in results:
        verdict = "" if r is results[0] else ("ok" if r["median_ms"] < TARGET_MS else "OVER")
        ok = ok and (r is results[0] or r["median_ms"] < TARGET_MS) and r["status"] == 200
        print(f"{r['page']:38} {r['median_ms']:8.1f}  {r['p90_ms']:8.1f}  {r['median_ms'] / baseline:7.1f}   {r['status']}    {verdict}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--profile", choices=("realistic", "stress"), default="realistic",
                        help="realistic: cases older than six weeks mostly closed; stress: ~45%% of all cases open")  # fmt: skip
    parser.add_argument("--plans", action="store_true", help="print the SQLite plans of the to-do list statements")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    directory = cache_path(args.cases, args.cache, args.profile)
    if args.rebuild or not (directory / "caseflow.db").exists():
        build_database(directory, args.cases, profile=args.profile)
        for stale in directory.parent.glob(f"{directory.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
    directory = at_head(directory)
    print(f"{args.cases} cases (+ the demo data), {args.profile} profile ({describe(directory)}); database {directory / 'caseflow.db'}")
    print(f"median of {args.runs} runs after 2 warm-up requests, in process (httpx ASGI transport), target {TARGET_MS:.0f} ms")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    if args.plans:
        print("\nplans of the first page of the API to-do list (power company):")
        print("\n".join(todo_plans(directory, "power_handler")))
    figures: dict[str, Any] = {"migrated": asyncio.run(measure(directory, args.runs))}
    ok = report("schema as migrated (alembic head)", figures["migrated"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2))
    print("\nall pages within target" if ok else "\nsome pages over the target")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
