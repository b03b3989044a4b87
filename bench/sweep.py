"""The sweep on big SQLite files: with 100,000 and 1,000,000 open cases of which 10,000 are due,
the time of a sweep with nothing due and the time to sweep the 10,000 due steps (issue 3).

Targets: a sweep with nothing due under 50 ms at 1,000,000 cases; the sweep of the 10,000 due
steps no more than 1.2 times slower at 1,000,000 cases than at 100,000 (issue 3 asked 1.5, the
responsibility list 1.2 with each due case's obligations swept along; its cost follows the
due work, not the table size).

How the files are built (fast, but with rows exactly like the service's): a small template
database gets a few dozen real cases through ``CaseService`` at chosen instants (registered
problems and reported sites that fall due at ``DUE_AT``; problems in progress and sites being
cleared whose deadlines lie later), then every case row and the rows that hang off it (events,
units, items) are copied with ``executemany`` under new ids and numbers, the hash chain of
each copy recomputed with ``cases.audit``. Due cases are spread evenly over the id range. A few
users are added so that each step also writes its notifications, as in production. Built files
are cached (``--cache-dir``, default ``bench/results/``, git-ignored) under a name keyed by the
size, the number of due cases and a fingerprint of the schema and definitions.

Measured: the nothing-due sweep (``DUE_AT`` minus one second) on the cached file, warm, median
of ``--empty-runs``; the due sweep on a fresh copy of the file for each of ``--runs`` runs, the
app warmed by a nothing-due sweep first, each run checked to perform exactly ``--due`` steps.

    python bench/sweep.py [--sizes 100000 1000000] [--due 10000] [--runs 5] [--empty-runs 20]
    python bench/sweep.py --check        # a 3,000-case file: counts and the audit chain verified
"""

import argparse
import hashlib
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from caseflow.app import App, build  # noqa: E402
from cases import audit  # noqa: E402
from cases.service import Upload  # noqa: E402
from config.settings import Settings  # noqa: E402
from workflow.clock import SHANGHAI, FixedClock  # noqa: E402
from workflow.org import Actor  # noqa: E402

DUE_AT = datetime(2026, 10, 8, 0, 0, tzinfo=SHANGHAI)
"""The sweep instant: the warning (start of the due day) of every due case, nothing else."""
EMPTY_AT = DUE_AT - timedelta(seconds=1)
TARGET_RATIO = 1.2
"""The due sweep at the largest size over the smallest."""
BUILDER_VERSION = "4"
CHILD_TABLES = ("case_event", "case_unit", "case_item", "obligation")
"""Tables whose rows belong to one case (column ``case_id``) and are copied with it."""
PLACEHOLDER = "@@CASE-NUMBER@@"

OFFICE = Actor("bench_office", "sti", frozenset({"dispatcher", "collector"}))
POWER = Actor("bench_power", "power", frozenset({"handler"}))
TOWN = Actor("bench_kongcheng", "kongcheng", frozenset({"handler"}))
WATER = Actor("bench_water", "water", frozenset({"handler"}))
ENTERPRISE = {
    "title": "新上生产线需要用电增容", "description": "企业新上两条生产线，现有变压器容量不足，需尽快增容。",
    "category": "生产要素", "source": "走访", "enterprise_name": "桐城市示例包装有限公司",
    "uscc": "91340600MA2PBM9HXD", "town": "kongcheng", "industry": "绿色包装", "contact": "王经理 13800000000",
}  # fmt: skip
SITE = {"site_name": "无名塑料颗粒加工点", "address": "孔城镇示例村三组", "town": "kongcheng", "violations": ["环境违法", "无证无照"]}
USERS = (("office", "sti", ["dispatcher"]), ("power_handler", "power", ["handler"]), ("kongcheng_handler", "kongcheng", ["handler"]))
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def at(day: int, month: int = 9, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def make_app(path: Path, clock: FixedClock | None = None) -> App:
    settings = Settings(database_url=f"sqlite:///{path}", data_dir=path.parent / f"{path.stem}-data", fake_now=None)
    return build(settings, clock=clock or FixedClock(DUE_AT))


# --- the template: real cases made by the service -----------------------------------------------------


def make_templates(path: Path) -> tuple[list[int], list[int]]:
    """Real cases in a fresh database: (ids of those due at DUE_AT, ids of those not due)."""
    clock = FixedClock(at(1))
    app = make_app(path, clock)
    app.migrate()
    app.users.add("bench_power", "power", ["handler"])  # a unit is assigned only with a handler
    app.users.add("bench_water", "water", ["handler"])
    try:
        # due at DUE_AT: registered problems (1wd from 09-30 or the holiday: 10-08) and reported
        # sites (2wd from 09-29: 09-30, 10-08); warned at 00:00 on 10-08, nothing earlier
        for when in (at(30), at(30, hour=15), at(3, 10), at(7, 10, 18)):
            clock.set(when)
            app.cases.create("enterprise_issue", OFFICE, ENTERPRISE)
        for when in (at(29), at(29, hour=15)):
            clock.set(when)
            app.cases.create("scattered_polluting", TOWN, SITE)
        for day in range(10, 31):  # problems in progress, complex: 20wd from assignment
            clock.set(at(day))
            number = app.cases.create("enterprise_issue", OFFICE, ENTERPRISE)["number"]
            app.cases.advance(number, "assign", OFFICE, {"lead_unit": "power", "class": "complex"})
            app.cases.advance(number, "accept", POWER)
        for day in (24, 25, 28, 29, 30):  # sites being cleared: 15 days
            clock.set(at(day))
            number = app.cases.create("scattered_polluting", TOWN, SITE)["number"]
            app.cases.advance(number, "start_verification", OFFICE)
            app.cases.advance(number, "classify_ban", OFFICE, {"plan": "依法取缔，两断三清"})
            # the utilities cut at once (their 3wd would fall due before DUE_AT): the town's clears remain
            app.cases.complete_item(number, "cut_water", WATER, evidence=[Upload("水表.png", PNG)])
            app.cases.complete_item(number, "cut_power", POWER, {"meter_reading": "1024"}, evidence=[Upload("电表.png", PNG)])
        assert app.sweeper.sweep(EMPTY_AT).steps == [], "a template case falls due before DUE_AT"
        due, later = [], []
        with closing(sqlite3.connect(path)) as conn:
            for case_id, next_check in conn.execute('SELECT id, next_check_at FROM "case" ORDER BY id'):
                (due if _utc(next_check) <= DUE_AT else later).append(case_id)
        assert len(due) == 6 and len(later) == 26, (due, later)
    finally:
        app.close()
    return due, later


def _utc(stored: str) -> datetime:
    """An instant as SQLAlchemy stores it on SQLite (UTC, no offset)."""
    from datetime import UTC

    return datetime.fromisoformat(stored).replace(tzinfo=UTC)


@dataclass
class Template:
    case: dict[str, Any]
    children: dict[str, list[dict[str, Any]]]
    canon: list[str]
    """The canonical JSON of each event with the case number replaced by PLACEHOLDER."""
    prefix: str


def read_templates(path: Path, ids: list[int]) -> list[Template]:
    """The stored rows of the template cases, as raw SQLite values."""
    app = make_app(path)
    templates = []
    try:
        with closing(sqlite3.connect(path)) as conn, app.db.read() as sa:
            conn.row_factory = sqlite3.Row
            for case_id in ids:
                case = dict(conn.execute('SELECT * FROM "case" WHERE id = ?', (case_id,)).fetchone())
                children = {
                    table: [dict(r) for r in conn.execute(f'SELECT * FROM "{table}" WHERE case_id = ? ORDER BY rowid', (case_id,))]
                    for table in CHILD_TABLES
                }
                canon = []
                for e in audit.iter_history(sa, case_id):
                    content = audit.event_content(PLACEHOLDER, e.seq, e.at, e.actor, e.trigger, e.from_state, e.to_state, e.comment, e.payload)
                    canon.append(audit.canonical(content))
                assert len(canon) == len(children["case_event"]) == case["event_seq"]
                templates.append(Template(case, children, canon, case["number"].rsplit("-", 1)[0]))
    finally:
        app.close()
    return templates


# --- the big file -------------------------------------------------------------------------------------------


def fingerprint() -> str:
    """Schema (migration files) and definitions: a cached file from other code is not reused."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(BUILDER_VERSION.encode())
    for pattern in ("cases/migrations/versions/*.py", "config/workflows/*.yaml", "cases/models.py"):
        for path in sorted(root.glob(pattern)):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def build_file(target: Path, size: int, due: int) -> None:
    """``size`` open cases, ``due`` of them due at DUE_AT, written to ``target``."""
    with tempfile.TemporaryDirectory(prefix="caseflow-bench-template-") as tmp:
        work = Path(tmp) / "build.db"
        due_ids, later_ids = make_templates(work)
        due_tpl, later_tpl = read_templates(work, due_ids), read_templates(work, later_ids)
        started = time.perf_counter()
        with closing(sqlite3.connect(work, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA foreign_keys=OFF")
            (no_delete,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'case_event_no_delete'").fetchone()
            conn.execute("DROP TRIGGER case_event_no_delete")  # the template rows go
            for table in (*CHILD_TABLES, "ladder_step", "case"):
                conn.execute(f'DELETE FROM "{table}"')
            conn.execute(no_delete)
            indexes = _drop_indexes(conn)
            _fill(conn, size, due, due_tpl, later_tpl)
            for sql in indexes:
                conn.execute(sql)
            for username, department, roles in USERS:
                conn.execute(
                    "INSERT INTO user_account (username, display_name, department, roles, active, created_at) "
                    "VALUES (?, ?, ?, ?, 1, ?)",
                    (username, username, department, json.dumps(roles), "2026-09-01 00:00:00.000000"),
                )
            conn.execute("PRAGMA journal_mode=WAL")
        print(f"  built {size:,} cases in {time.perf_counter() - started:.1f} s", flush=True)
        shutil.move(str(work), str(target))


def _drop_indexes(conn: sqlite3.Connection) -> list[str]:
    """Drop the secondary indexes of the bulk-loaded tables; their SQL, to build them again."""
    tables = ("case", *CHILD_TABLES)
    rows = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({','.join('?' * len(tables))})",
        tables,
    ).fetchall()
    for name, _ in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


def _numbers(size: int, due: int, due_tpl: list[Template], later_tpl: list[Template]) -> Iterator[tuple[int, Template]]:
    """(case id, template) for ids 1..size; every (size // due)-th case is a due one."""
    step = size // due
    made_due = made_later = 0
    for case_id in range(1, size + 1):
        if case_id % step == 0 and made_due < due:
            yield case_id, due_tpl[made_due % len(due_tpl)]
            made_due += 1
        else:
            yield case_id, later_tpl[made_later % len(later_tpl)]
            made_later += 1
    assert made_due == due


def _fill(conn: sqlite3.Connection, size: int, due: int, due_tpl: list[Template], later_tpl: list[Template]) -> None:
    case_cols = list(due_tpl[0].case)
    child_cols = {t: [c[1] for c in conn.execute(f'PRAGMA table_info("{t}")') if c[1] != "id" or t == "case_unit"] for t in CHILD_TABLES}
    insert_case = f'INSERT INTO "case" ({", ".join(case_cols)}) VALUES ({", ".join("?" * len(case_cols))})'
    inserts = {
        t: f'INSERT INTO "{t}" ({", ".join(cols)}) VALUES ({", ".join("?" * len(cols))})' for t, cols in child_cols.items()
    }
    counters: dict[str, int] = {}
    batch_cases: list[tuple[Any, ...]] = []
    batch_children: dict[str, list[tuple[Any, ...]]] = {t: [] for t in CHILD_TABLES}
    conn.execute("BEGIN")
    for case_id, tpl in _numbers(size, due, due_tpl, later_tpl):
        counters[tpl.case["type"]] = serial = counters.get(tpl.case["type"], 0) + 1
        number = f"{tpl.prefix}-{serial:05d}"
        head, hashes = audit.GENESIS, []
        for canon in tpl.canon:
            head = hashlib.sha256((head + canon.replace(PLACEHOLDER, number)).encode()).hexdigest()
            hashes.append(head)
        row = dict(tpl.case, id=case_id, number=number, head_hash=head)
        batch_cases.append(tuple(row[c] for c in case_cols))
        prev = audit.GENESIS
        for event, digest in zip(tpl.children["case_event"], hashes, strict=True):
            values = dict(event, case_id=case_id, prev_hash=prev, hash=digest)
            batch_children["case_event"].append(tuple(values[c] for c in child_cols["case_event"]))
            prev = digest
        for table in ("case_unit", "case_item", "obligation"):
            for child in tpl.children[table]:
                values = dict(child, case_id=case_id)
                batch_children[table].append(tuple(values[c] for c in child_cols[table]))
        if len(batch_cases) >= 20_000:
            _flush(conn, insert_case, inserts, batch_cases, batch_children)
    _flush(conn, insert_case, inserts, batch_cases, batch_children)
    for case_type, last in counters.items():
        conn.execute("UPDATE case_counter SET last = ? WHERE type = ? AND year = 2026", (last, case_type))
    conn.execute("COMMIT")


def _flush(
    conn: sqlite3.Connection,
    insert_case: str,
    inserts: dict[str, str],
    batch_cases: list[tuple[Any, ...]],
    batch_children: dict[str, list[tuple[Any, ...]]],
) -> None:
    conn.executemany(insert_case, batch_cases)
    batch_cases.clear()
    for table, rows in batch_children.items():
        conn.executemany(inserts[table], rows)
        rows.clear()


def cached_file(cache: Path, size: int, due: int, rebuild: bool) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"sweep-{size}-{due}-{fingerprint()}.db"
    if rebuild or not path.exists():
        print(f"building {path} …", flush=True)
        build_file(path, size, due)
    return path


# --- measuring -------------------------------------------------------------------------------------------------


def time_empty_sweeps(path: Path, runs: int) -> tuple[float, list[float]]:
    """(the first sweep after opening, the warm sweeps) in seconds; nothing may be due."""
    app = make_app(path, FixedClock(EMPTY_AT))
    try:
        started = time.perf_counter()
        assert app.sweeper.sweep(EMPTY_AT).steps == []
        cold = time.perf_counter() - started
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            report = app.sweeper.sweep(EMPTY_AT)
            times.append(time.perf_counter() - started)
            assert report.steps == [] and report.cases == 0
        return cold, times
    finally:
        app.close()


def time_due_sweep(path: Path, due: int, work: Path, notifications: bool = True) -> float:
    """One due sweep on a fresh copy of the file; the app is warmed by a nothing-due sweep.
    Without ``notifications`` the outbox is taken off the sweeper: the engine's own cost."""
    copy = work / "copy.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(path, copy)
    app = make_app(copy, FixedClock(DUE_AT))
    try:
        if not notifications:
            app.sweeper.sinks.clear()
        assert app.sweeper.sweep(EMPTY_AT).steps == []
        started = time.perf_counter()
        report = app.sweeper.sweep(DUE_AT)
        elapsed = time.perf_counter() - started
        assert len(report.steps) == due and {s.action for s in report.steps} == {"warn"}, len(report.steps)
        assert report.skipped == []
        assert app.sweeper.sweep(DUE_AT).steps == []
        return elapsed
    finally:
        app.close()


def check(cache: Path) -> None:
    """A small file: counts, numbers, due cases and the whole audit chain."""
    path = cached_file(cache, 3000, 300, rebuild=True)
    app = make_app(path)
    try:
        with app.db.read() as conn:
            result = audit.verify(conn)
        assert result.ok, result.first_break
        assert result.cases == 3000, result.cases
        listing = app.cases.list_cases(page_size=500)
        assert listing["total"] == 3000
        numbers = {c["number"] for c in listing["items"]}
        assert len(numbers) == 500
        report = app.sweeper.sweep(DUE_AT)
        assert len(report.steps) == 300 and len({s.case for s in report.steps}) == 300
        with app.db.read() as conn:
            assert audit.verify(conn).ok
            written = conn.execute(text("SELECT count(*) FROM notification")).scalar_one()
        assert written > 0, "the steps wrote no notification"
        created = app.cases.create("enterprise_issue", OFFICE, ENTERPRISE)  # numbering goes on
        assert created["number"] not in numbers
        print(f"check: 3,000 cases verified ({result.events:,} events); 300 due steps swept, {written} notifications; new case {created['number']}")
    finally:
        app.close()
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5, help="due sweeps per size (each on a fresh copy)")
    parser.add_argument("--empty-runs", type=int, default=20, help="nothing-due sweeps per size")
    parser.add_argument("--cache-dir", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached files")
    parser.add_argument("--check", action="store_true", help="only build a small file and verify it")
    args = parser.parse_args()
    if args.check:
        check(args.cache_dir)
        return
    paths = {size: cached_file(args.cache_dir, size, args.due, args.rebuild) for size in args.sizes}
    figures: dict[int, dict[str, Any]] = {}
    for size, path in paths.items():
        print(f"{size:,} open cases, {args.due:,} due ({path.stat().st_size / 2**20:,.0f} MiB)", flush=True)
        cold, empty = time_empty_sweeps(path, args.empty_runs)
        print(
            f"  nothing due: median {statistics.median(empty) * 1000:.2f} ms, max {max(empty) * 1000:.2f} ms"
            f" (first after opening {cold * 1000:.1f} ms)",
            flush=True,
        )
        figures[size] = {"empty_ms": statistics.median(empty) * 1000, "empty_max_ms": max(empty) * 1000,
                         "empty_cold_ms": cold * 1000, "runs": {"due_s": [], "engine_s": []}}  # fmt: skip
    # the sizes take turns, so that a change of load on the machine touches them alike
    with tempfile.TemporaryDirectory(prefix="caseflow-bench-run-", dir=args.cache_dir) as work:
        for key, notifications in (("due_s", True), ("engine_s", False)):
            what = "due sweep" if notifications else "due sweep without the outbox"
            for run in range(args.runs):
                for size, path in paths.items():
                    elapsed = time_due_sweep(path, args.due, Path(work), notifications)
                    figures[size]["runs"][key].append(elapsed)
                    print(f"  {size:>9,}: {what} run {run + 1}: {elapsed:.2f} s ({args.due / elapsed:,.0f} steps/s)", flush=True)
    for f in figures.values():
        f.update({key: statistics.median(times) for key, times in f["runs"].items()})
    print()
    print(f"{'cases':>11} {'nothing due (median)':>22} {'due sweep (median)':>20} {'steps/s':>9} {'without outbox':>16}")
    for size, f in figures.items():
        print(
            f"{size:>11,} {f['empty_ms']:>19.2f} ms {f['due_s']:>18.2f} s {args.due / f['due_s']:>9,.0f}"
            f" {f['engine_s']:>14.2f} s"
        )
    largest, smallest = max(figures), min(figures)
    empty_ms = figures[largest]["empty_ms"]
    print(f"nothing-due sweep at {largest:,}: {empty_ms:.2f} ms (target < 50 ms: {'met' if empty_ms < 50 else 'NOT met'})")
    ratios = {}
    if largest != smallest:
        for key, label in (("due_s", "due sweep"), ("engine_s", "due sweep without the outbox")):
            ratios[key] = ratio = figures[largest][key] / figures[smallest][key]
            pairs = [b / a for a, b in zip(figures[smallest]["runs"][key], figures[largest]["runs"][key], strict=True)]
            ratios[f"{key}_paired"] = paired = statistics.median(pairs)
            verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
            print(
                f"{label}: {largest:,} / {smallest:,} = {ratio:.2f} (target ≤ {TARGET_RATIO}: {verdict});"
                f" median of the run-by-run ratios {paired:.2f}"
            )
    out = args.cache_dir / "sweep.json"
    out.write_text(json.dumps({"due": args.due, "sizes": {str(k): v for k, v in figures.items()}, "ratios": ratios}, indent=2))
    print(f"figures written to {out}")


if __name__ == "__main__":
    main()
