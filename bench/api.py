"""The HTTP API under load: uvicorn on a loopback port (a subprocess) serving a SQLite database of
100,000 cases, N client threads (httpx) at a target rate, and in the same run the service-level
advance throughput (direct ``CaseService.advance`` calls) for the API/service ratio.

Per run:

1. copy the cached database (built once: see ``build``) to a fresh file;
2. start ``uvicorn`` on 127.0.0.1 in a subprocess (``--serve``), wait for ``/api/health``;
3. paced phase: ``--threads`` clients share a schedule of ``--rate`` requests per second for
   ``--duration`` seconds, an even mix of
   - ``advance``: ``POST /api/cases/{n}/actions/accept`` by the power company's handler on a
     fresh case assigned to it (every advance is valid and moves a case),
   - ``detail``: ``GET /api/cases/{n}`` by the same handler, a random case of its unit,
   - ``todo``: ``GET /api/todo`` (first page, 50) by the same handler;
   latency is measured from sending to the full response (and, separately, from the scheduled
   start: a late schedule shows as queueing);
4. API advance throughput: the same threads send accepts back to back (closed loop);
5. service advance throughput: the server idle, this process calls ``app.cases.advance``
   (accept) on other fresh cases of the same database file, one after another.

The figures of each run, then the median of the runs, are printed (and written as JSON with
``--json FILE``). Target (issue 5): p95 of an advance under 50 ms at 100 requests/s on SQLite.

Building: a few cases of each state are made through the real services (with the real users),
then copied with ``executemany`` — case rows, their items, their units and their events, each
copy's hash chain recomputed for its own number — until there are ``--cases`` cases (70 %
enterprise problems, 30 % sites). The file is cached in ``--cache-dir`` (default
``/tmp/caseflow-bench``) under a name that carries the case count and the schema revision.

    python bench/api.py [--cases 100000] [--runs 3] [--rate 100] [--duration 20] [--threads 8]
"""

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAKE_NOW = "2026-09-30T10:00:00+08:00"
PASSWORD = "Bench-2026-Tongcheng!"
BUILD_VERSION = 1
"""Bump when the way the database is built changes (the cache name carries it)."""
USERS = {
    "bench_office": ("sti", ["dispatcher", "collector"]),
    "bench_power": ("power", ["handler"]),
    "bench_water": ("water", ["handler"]),
    "bench_gas": ("gas", ["handler"]),
    "bench_kongcheng": ("kongcheng", ["handler"]),
    "bench_ecology": ("ecology", ["handler"]),
    "bench_drc": ("drc", ["handler"]),
    "bench_market": ("market_regulation", ["handler"]),
    "bench_nr": ("natural_resources", ["handler"]),
    "bench_shuanggang": ("shuanggang", ["handler"]),
    "bench_fangang": ("fangang", ["handler"]),
    "bench_lvting": ("lvting", ["handler"]),
}
LEADS = ("power", "water", "ecology", "drc", "kongcheng", "market_regulation")
TOWNS = ("kongcheng", "shuanggang", "fangang", "lvting")
# (template, share of the enterprise cases / of the sites). "assigned:power" is the advance pool.
ENTERPRISE_MIX = {
    "registered": 0.08, "assigned:power": 0.14, "assigned:other": 0.10, "in_progress": 0.28,
    "answered": 0.06, "follow_up": 0.04, "closed": 0.28, "not_accepted": 0.02,
}  # fmt: skip
SITE_MIX = {
    "reported": 0.10,
    "verifying": 0.10,
    "clearing": 0.20,
    "rectifying": 0.15,
    "acceptance": 0.05,
    "closed": 0.40,
}


def settings_env(db: Path, data: Path) -> dict[str, str]:
    return {"CASEFLOW_DATABASE_URL": f"sqlite:///{db}", "CASEFLOW_DATA_DIR": str(data), "CASEFLOW_FAKE_NOW": FAKE_NOW}


def open_app(db: Path, data: Path) -> Any:
    from caseflow.app import build
    from config.settings import Settings
    from workflow.clock import FixedClock, parse_instant

    settings = Settings(database_url=f"sqlite:///{db}", data_dir=data, fake_now=FAKE_NOW)
    return build(settings, clock=FixedClock(parse_instant(FAKE_NOW)))


# --- building the database ------------------------------------------------------------------------


def _uscc(serial: int) -> str:
    from workflow.uscc import check_character

    prefix = f"91340881MA2B{serial:05d}"
    return prefix + check_character(prefix)


def _templates(app: Any) -> dict[str, list[int]]:
    """Cases made through the services: template name → case ids (several variants each)."""
    from cases.service import Upload

    actor = {name: app.users.actor(name) for name in USERS}
    office, power = actor["bench_office"], actor["bench_power"]
    town_handler = {dept: app.users.actor(name) for name, (dept, _) in USERS.items() if dept in TOWNS}
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    handler_of = {dept: app.users.actor(name) for name, (dept, _) in USERS.items() if dept in LEADS}
    result: dict[str, list[int]] = defaultdict(list)

    def enterprise(serial: int, lead: str | None, path: list[str]) -> int:
        fields = {"title": f"企业诉求{serial}", "description": "企业反映生产经营中遇到的问题", "category": "生产要素",
                  "enterprise_name": f"桐城市压测企业{serial}号有限公司", "uscc": _uscc(serial),
                  "town": TOWNS[serial % len(TOWNS)], "industry": "绿色包装"}  # fmt: skip
        case = app.cases.create("enterprise_issue", office, fields)
        n = case["number"]
        handler = handler_of.get(lead or "", power)
        steps = {
            "assign": (office, {"lead_unit": lead, "class": ("simple", "general", "complex")[serial % 3]}),
            "decline": (office, {"reason": "涉诉事项"}),
            "accept": (handler, {}),
            "answer": (handler, {"result": "resolved", "reply": "已办结", "signed_by": "负责人"}),
            "approve_answer": (office, {}),
            "close": (office, {"satisfaction": "满意"}),
        }
        for trigger in path:
            who, fields_ = steps[trigger]
            app.cases.advance(n, trigger, who, fields_)
        return int(case["id"])

    serial = 0
    for variant in range(3):
        for name, (lead, path) in {
            "registered": (None, []),
            "assigned:power": ("power", ["assign"]),
            "assigned:other": (LEADS[1 + variant], ["assign"]),
            "in_progress": (LEADS[variant * 2 % len(LEADS)], ["assign", "accept"]),
            "answered": (LEADS[variant], ["assign", "accept", "answer"]),
            "follow_up": (LEADS[variant + 1], ["assign", "accept", "answer", "approve_answer"]),
            "closed": (LEADS[variant], ["assign", "accept", "answer", "approve_answer", "close"]),
            "not_accepted": (None, ["decline"]),
        }.items():
            serial += 1
            result[f"E:{name}"].append(enterprise(serial, lead, path))

    for variant in range(3):
        for name in SITE_MIX:
            serial += 1
            fields = {"site_name": f"压测散乱污点{serial}", "address": f"示例村{serial}组", "town": TOWNS[variant],
                      "violations": ["环境违法", "无证无照"][: 1 + variant % 2], "source": "网格巡查"}  # fmt: skip
            case = app.cases.create("scattered_polluting", office, fields)
            n = case["number"]
            town = town_handler[TOWNS[variant]]
            if name != "reported":
                app.cases.advance(n, "start_verification", office)
            if name == "rectifying":
                app.cases.advance(n, "classify_rectify", office, {"items": ["business_license"], "plan": "限期办证"})
            if name in ("clearing", "acceptance", "closed"):
                app.cases.advance(n, "classify_ban", office, {"plan": "取缔", "cut_gas": "no"})
                app.cases.complete_item(n, "cut_power", power, {"meter_reading": "1"}, evidence=[Upload("p.png", png)])
            if name in ("acceptance", "closed"):
                for key, who in (("cut_water", actor["bench_water"]), ("clear_materials", town), ("clear_products", town),
                                 ("clear_equipment", town)):  # fmt: skip
                    app.cases.complete_item(n, key, who, {}, evidence=[Upload("p.png", png)])
                app.cases.advance(n, "submit_clearance", town)
            if name == "closed":
                app.cases.complete_item(n, "town_check", town, {})
                app.cases.complete_item(n, "department_review", actor["bench_ecology"], {})  # 环境违法 first
                app.cases.complete_item(n, "office_verification", office, {})
                app.cases.advance(n, "pass_acceptance", office)
            result[f"S:{name}"].append(int(case["id"]))
    return result


def build(path: Path, cases: int) -> None:
    """Build the database file at ``path`` (see the module's docstring)."""
    from sqlalchemy import func, select, update

    from cases import audit
    from cases.models import Case, CaseCounter, CaseEvent, CaseItem, CaseUnit

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="caseflow-bench-build-"))
    db = work / "bench.db"
    app = open_app(db, path.parent / (path.stem + "-data"))
    app.migrate()
    for name, (dept, roles) in USERS.items():
        app.users.add(name, dept, roles, password=PASSWORD if name == "bench_power" or name == "bench_office" else None)
    templates = _templates(app)
    CASES, EVENTS, ITEMS, UNITS, COUNTERS = (t.__table__ for t in (Case, CaseEvent, CaseItem, CaseUnit, CaseCounter))
    with app.db.read() as conn:
        made = conn.execute(select(func.count()).select_from(CASES)).scalar_one()
        rows = {r.id: dict(r._mapping) for r in conn.execute(select(CASES))}
        events = defaultdict(list)
        for r in conn.execute(select(EVENTS).order_by(EVENTS.c.case_id, EVENTS.c.seq)):
            events[r.case_id].append(dict(r._mapping))
        items = defaultdict(list)
        for r in conn.execute(select(ITEMS)):
            items[r.case_id].append(dict(r._mapping))
        units = defaultdict(list)
        for r in conn.execute(select(UNITS)):
            units[r.case_id].append(dict(r._mapping))
        counters = {(r.type, r.year): r.last for r in conn.execute(select(COUNTERS))}
        max_event = conn.execute(select(func.max(EVENTS.c.id))).scalar_one()
        max_item = conn.execute(select(func.max(ITEMS.c.id))).scalar_one() or 0

    todo = cases - made
    plan: list[int] = []
    for kind, mix, share in (("E", ENTERPRISE_MIX, 0.7), ("S", SITE_MIX, 0.3)):
        for name, fraction in mix.items():
            ids = templates[f"{kind}:{name}"]
            plan += [ids[i % len(ids)] for i in range(round(todo * share * fraction))]
    plan = (plan + plan)[:todo]
    random.Random(5).shuffle(plan)

    next_id, next_event, next_item = max(rows) + 1, max_event + 1, max_item + 1
    prefix = {"enterprise_issue": "QY", "scattered_polluting": "SLW"}
    batch: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def flush(conn: Any) -> None:
        for table in (CASES, EVENTS, ITEMS, UNITS):
            if batch[table.name]:
                conn.execute(table.insert(), batch[table.name])
                batch[table.name].clear()

    with app.db.write() as conn:
        for n, template in enumerate(plan):
            row = dict(rows[template])
            key = (row["type"], 2026)
            counters[key] += 1
            number = f"{prefix[row['type']]}-2026-{counters[key]:05d}"
            row.update(id=next_id, number=number, title=f"{row['title']}-{n}")
            previous = audit.GENESIS
            for event in events[template]:
                content = audit.event_content(number, event["seq"], event["at"], event["actor"], event["trigger"],
                                              event["from_state"], event["to_state"], event["comment"], event["payload"])  # fmt: skip
                digest = audit.chain_hash(previous, content)
                batch[EVENTS.name].append(
                    {**event, "id": next_event, "case_id": next_id, "prev_hash": previous, "hash": digest}
                )
                previous, next_event = digest, next_event + 1
            row["head_hash"] = previous
            batch[CASES.name].append(row)
            for item in items[template]:
                batch[ITEMS.name].append({**item, "id": next_item, "case_id": next_id})
                next_item += 1
            for unit in units[template]:
                batch[UNITS.name].append({**unit, "case_id": next_id})
            next_id += 1
            if len(batch[CASES.name]) >= 5000:
                flush(conn)
        flush(conn)
        for (case_type, year), last in counters.items():
            conn.execute(
                update(COUNTERS).where(COUNTERS.c.type == case_type, COUNTERS.c.year == year).values(last=last)
            )
    app.close()
    with __import__("sqlite3").connect(db) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.execute("ANALYZE")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(db), path)
    shutil.rmtree(work, ignore_errors=True)
    print(f"built {cases} cases in {time.perf_counter() - started:.1f} s → {path}", file=sys.stderr)


def cached_database(cache_dir: Path, cases: int) -> Path:
    revision = sorted(p.stem.split("_")[0] for p in (ROOT / "cases" / "migrations" / "versions").glob("0*.py"))[-1]
    path = cache_dir / f"api-{cases}-r{revision}-b{BUILD_VERSION}.db"
    if not path.exists():
        build(path, cases)
    return path


# --- the server -----------------------------------------------------------------------------------


def serve(port: int) -> None:
    """The server process: ``create_web_app`` on the settings of the environment."""
    import uvicorn

    from caseflow.app import build as build_app
    from web.server import create_web_app

    app = build_app()
    uvicorn.run(create_web_app(app), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, db: Path, data: Path) -> None:
        self.port = free_port()
        env = {**os.environ, **settings_env(db, data)}
        self.process = subprocess.Popen([sys.executable, __file__, "--serve", str(self.port)], env=env, cwd=ROOT)
        self.url = f"http://127.0.0.1:{self.port}"
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server exited")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- load -----------------------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    latency: float
    """Seconds from sending to the full response."""
    from_schedule: float
    """Seconds from the scheduled start to the full response."""
    status: int


@dataclass
class Load:
    url: str
    token: str
    advance_pool: list[str]
    detail_pool: list[str]
    mix: list[str]
    taken: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fresh(self) -> str:
        with self.lock:
            number = self.advance_pool[self.taken]
            self.taken += 1
            return number

    def client(self) -> Any:
        import httpx

        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30, verify=False
        )

    def request(self, client: Any, kind: str, rng: random.Random) -> int:
        if kind == "advance":
            response = client.post(f"/api/cases/{self.next_fresh()}/actions/accept", json={"fields": {}})
        elif kind == "detail":
            response = client.get(f"/api/cases/{rng.choice(self.detail_pool)}")
        else:
            response = client.get("/api/todo", params={"page_size": 50})
        return int(response.status_code)


def paced(load: Load, rate: float, duration: float, threads: int) -> tuple[list[Sample], float]:
    """``rate`` × ``duration`` requests (advance, detail, todo in turn) on a fixed schedule;
    the samples and the seconds from the first scheduled start to the last response."""
    kinds = load.mix
    plan = [kinds[i % len(kinds)] for i in range(int(rate * duration))]
    samples: list[Sample] = []
    counter = iter(range(len(plan)))
    counter_lock = threading.Lock()
    start = time.perf_counter() + 0.2

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        with load.client() as client:
            while True:
                with counter_lock:
                    i = next(counter, None)
                if i is None:
                    return
                due = start + i / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                sent = time.perf_counter()
                status = load.request(client, plan[i], rng)
                done = time.perf_counter()
                samples.append(Sample(plan[i], done - sent, done - due, status))

    run_threads(worker, threads)
    return samples, time.perf_counter() - start


def closed_loop_advances(load: Load, count: int, threads: int) -> tuple[float, int]:
    """Advances per second with ``threads`` clients sending back to back; and the failures."""
    remaining = iter(range(count))
    lock = threading.Lock()
    failures = [0]

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        with load.client() as client:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                if load.request(client, "advance", rng) != 200:
                    failures[0] += 1

    started = time.perf_counter()
    run_threads(worker, threads)
    return count / (time.perf_counter() - started), failures[0]


def run_threads(target: Any, threads: int) -> None:
    workers = [threading.Thread(target=target, args=(seed,)) for seed in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def service_advances(db: Path, data: Path, numbers: list[str]) -> float:
    app = open_app(db, data)
    actor = app.users.actor("bench_power")
    app.cases.advance(numbers[0], "accept", actor, {})  # warm-up (definitions, caches)
    started = time.perf_counter()
    for number in numbers[1:]:
        app.cases.advance(number, "accept", actor, {})
    rate = (len(numbers) - 1) / (time.perf_counter() - started)
    app.close()
    return rate


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def one_run(cached: Path, args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    from sqlalchemy import select

    from cases.models import Case

    work = Path(tempfile.mkdtemp(prefix="caseflow-bench-run-"))
    db, data = work / "bench.db", work / "data"
    shutil.copyfile(cached, db)
    evidence = cached.parent / (cached.stem + "-data")
    if evidence.is_dir():
        shutil.copytree(evidence, data)
    try:
        app = open_app(db, data)
        with app.db.read() as conn:
            pool = [r.number for r in conn.execute(
                select(Case.number).where(Case.state == "assigned", Case.lead_unit == "power").order_by(Case.id))]  # fmt: skip
            mine = [r.number for r in conn.execute(select(Case.number).where(Case.lead_unit == "power").limit(20000))]
        app.close()
        paced_count = int(args.rate * args.duration) * args.mix.count("advance") // len(args.mix) + 1
        needed = paced_count + args.closed_loop + args.service + 2
        if len(pool) < needed:
            raise SystemExit(f"only {len(pool)} fresh cases for {needed} advances: use more --cases")
        random.Random(1).shuffle(pool)
        api_pool, service_pool = pool[: needed - args.service - 1], pool[needed - args.service - 1 : needed]
        server = Server(db, data)
        try:
            token = httpx.post(
                f"{server.url}/api/auth/token", json={"username": "bench_power", "password": PASSWORD}, timeout=30
            )
            token.raise_for_status()
            load = Load(server.url, token.json()["access_token"], api_pool, mine, args.mix)
            with load.client() as client:  # warm-up: detail and to-do
                rng = random.Random(0)
                assert all(load.request(client, kind, rng) == 200 for kind in ("detail", "todo") * 10)
            samples, elapsed = paced(load, args.rate, args.duration, args.threads)
            api_rate, api_failures = closed_loop_advances(load, args.closed_loop, args.threads)
        finally:
            server.stop()
        service_rate = service_advances(db, data, service_pool)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {"requests": len(samples), "errors": sum(s.status != 200 for s in samples) + api_failures}
    for kind in dict.fromkeys(args.mix):
        lat = [s.latency * 1000 for s in samples if s.kind == kind]
        sched = [s.from_schedule * 1000 for s in samples if s.kind == kind]
        result[kind] = {"n": len(lat), "p50_ms": percentile(lat, 0.5), "p95_ms": percentile(lat, 0.95),
                        "p95_from_schedule_ms": percentile(sched, 0.95)}  # fmt: skip
    result["achieved_rps"] = len(samples) / elapsed
    result["api_advances_per_s"] = api_rate
    result["service_advances_per_s"] = service_rate
    result["ratio_api_to_service"] = api_rate / service_rate
    return result


def summary(runs: list[dict[str, Any]], mix: list[str]) -> dict[str, Any]:
    med: dict[str, Any] = {"runs": len(runs)}
    for kind in dict.fromkeys(mix):
        med[kind] = {k: statistics.median(r[kind][k] for r in runs) for k in runs[0][kind]}
    for key in (
        "requests",
        "errors",
        "achieved_rps",
        "api_advances_per_s",
        "service_advances_per_s",
        "ratio_api_to_service",
    ):
        med[key] = statistics.median(r[key] for r in runs)
    return med


def show(title: str, r: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"{title}: {r['requests']} requests at {r['achieved_rps']:.1f} req/s (target {args.rate:g}), errors {r['errors']}"
    )
    for kind in dict.fromkeys(args.mix):
        k = r[kind]
        print(f"  {kind:8} n={k['n']:<5g} p50 {k['p50_ms']:6.1f} ms   p95 {k['p95_ms']:6.1f} ms"
              f"   (p95 from schedule {k['p95_from_schedule_ms']:6.1f} ms)")  # fmt: skip
    print(f"  advances/s: API {r['api_advances_per_s']:.0f} ({args.threads} clients, back to back), "
          f"service {r['service_advances_per_s']:.0f} — ratio {r['ratio_api_to_service']:.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100.0, help="target requests per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the paced phase")
    parser.add_argument("--threads", type=int, default=8, help="client threads")
    parser.add_argument(
        "--mix",
        type=lambda text: text.split(","),
        default=["advance", "detail", "todo"],
        help="request kinds in turn (default advance,detail,todo)",
    )
    parser.add_argument("--closed-loop", type=int, default=300, help="advances sent back to back (API throughput)")
    parser.add_argument("--service", type=int, default=300, help="advances through the service (its throughput)")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "caseflow-bench")
    parser.add_argument("--json", type=Path, help="write the runs and their median here")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if set(args.mix) - {"advance", "detail", "todo"} or "advance" not in args.mix:
        parser.error("--mix takes advance, detail and todo (advance at least)")
    if args.serve:
        serve(args.serve)
        return
    cached = cached_database(args.cache_dir, args.cases)
    if args.runs < 1:
        return
    runs = []
    for i in range(args.runs):
        runs.append(one_run(cached, args))
        show(f"run {i + 1}", runs[-1], args)
    med = summary(runs, args.mix)
    show(f"median of {len(runs)} runs ({args.cases} cases, SQLite)", med, args)
    p95 = med["advance"]["p95_ms"]
    load = os.getloadavg()
    print(
        f"load average during the runs (1/5/15 min): {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"target: p95 of an advance < 50 ms at {args.rate:g} req/s → {'met' if p95 < 50 else 'NOT met'} ({p95:.1f} ms)"
    )
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "median": med}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
