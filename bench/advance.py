"""Committed ``advance`` calls per second through the case service on a SQLite file, against the
same writes done with bare ``sqlite3`` in the same run (same pragmas: WAL, synchronous=FULL).

Each engine advance locks the case, checks role, unit, inputs and guards through the rulebook,
fires the ``transitions`` machine, updates the case row, appends a hash-chained event and
commits. The baseline does per advance: BEGIN IMMEDIATE; SELECT the case row; UPDATE it;
INSERT an event row; COMMIT. Target (issue 2): ≥ 2,000 advances/s and a ratio ≥ 0.10.

Each run also times the engine with the responsibility list switched off (``reconcile`` replaced
by a stub that owes nothing): issue 11's target is that obligations cost at most 1.2 × the
advance without them, in the same run.

``--baseline REF`` (issue 12) times the two shipped types — an enterprise problem assigned and
accepted, a site put under verification and classified for a ban (its checklist opened by a
general effect) — on this tree and on the tree of git revision REF (extracted with ``git
archive``), alternately, each in a fresh interpreter: the target is that advances of the types
rewritten as data cost at most 1.1 × what they cost at REF.

    python bench/advance.py [--cases 1000] [--runs 5] [--baseline e8574a1]
"""

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from caseflow.app import build  # noqa: E402
from cases import obligations  # noqa: E402
from config.settings import Settings  # noqa: E402
from workflow.org import Actor  # noqa: E402

DISPATCHER = Actor("bench_office", "sti", frozenset({"dispatcher", "collector"}))
HANDLER = Actor("bench_power", "power", frozenset({"handler"}))
FIELDS = {
    "title": "用电增容", "description": "新上生产线需要增容", "category": "生产要素",
    "enterprise_name": "示例企业", "uscc": "91340600MA2PBM9HXD", "town": "kongcheng",
}  # fmt: skip


def engine_run(directory: Path, cases: int) -> float:
    """Advances per second: assign then accept on ``cases`` fresh cases (2 × cases advances)."""
    app = build(Settings(database_url=f"sqlite:///{directory}/engine.db", data_dir=directory / "data"))
    app.migrate()
    app.users.add("bench_power", "power", ["handler"])  # a unit is assigned only with a handler
    numbers = [app.cases.create("enterprise_issue", DISPATCHER, FIELDS)["number"] for _ in range(cases)]
    started = time.perf_counter()
    for number in numbers:
        app.cases.advance(number, "assign", DISPATCHER, {"lead_unit": "power"})
        app.cases.advance(number, "accept", HANDLER, {})
    elapsed = time.perf_counter() - started
    app.close()
    return 2 * cases / elapsed


def engine_without_obligations(directory: Path, cases: int) -> float:
    """``engine_run`` with the obligations' reconciliation stubbed out (the cost they add)."""
    real = obligations.reconcile
    obligations.reconcile = lambda *args, **kwargs: obligations.Reconciled((), "normal")  # type: ignore[assignment]
    try:
        return engine_run(directory, cases)
    finally:
        obligations.reconcile = real  # type: ignore[assignment]


def raw_run(directory: Path, cases: int) -> float:
    """The same number of committed writes with the sqlite3 module alone."""
    db = sqlite3.connect(directory / "raw.db", isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
        db.execute(f"PRAGMA {pragma}")
    db.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, number TEXT UNIQUE, state TEXT, version INT, fields TEXT)")
    db.execute(
        "CREATE TABLE e (id INTEGER PRIMARY KEY, case_id INT, seq INT, at TEXT, actor TEXT, "
        "trigger TEXT, payload TEXT, hash TEXT, UNIQUE (case_id, seq))"
    )
    fields = json.dumps(FIELDS, ensure_ascii=False)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO c (number, state, version, fields) VALUES (?, 'registered', 1, ?)",
        [(f"QY-2026-{i:05d}", fields) for i in range(cases)],
    )
    db.execute("COMMIT")
    started = time.perf_counter()
    for i in range(cases):
        for trigger, state in (("assign", "assigned"), ("accept", "in_progress")):
            db.execute("BEGIN IMMEDIATE")
            case_id, version = db.execute(
                "SELECT id, version FROM c WHERE number = ?", (f"QY-2026-{i:05d}",)
            ).fetchone()
            db.execute(
                "UPDATE c SET state = ?, version = ? WHERE id = ? AND version = ?",
                (state, version + 1, case_id, version),
            )
            db.execute(
                "INSERT INTO e (case_id, seq, at, actor, trigger, payload, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (case_id, version + 1, "2026-09-30T02:00:00+00:00", "bench", trigger, fields, "0" * 64),
            )
            db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return 2 * cases / elapsed


# Runs in a fresh interpreter with a source tree first on sys.path: argv = tree, directory, cases.
# Only calls that both trees have (build, migrate, users.add, cases.create/advance).
TYPES_WORKER = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from caseflow.app import build
from config.settings import Settings
from workflow.org import Actor
directory, cases = Path(sys.argv[2]), int(sys.argv[3])
office = Actor("bench_office", "sti", frozenset({"dispatcher", "collector"}))
power = Actor("bench_power", "power", frozenset({"handler"}))
problem = {"title": "用电增容", "description": "新上生产线需要增容", "category": "生产要素",
           "enterprise_name": "示例企业", "uscc": "91340600MA2PBM9HXD", "town": "kongcheng"}
site = {"site_name": "示例加工点", "address": "孔城镇示例村", "town": "kongcheng", "violations": ["无证无照"]}
app = build(Settings(database_url=f"sqlite:///{directory}/types.db", data_dir=directory / "data"))
app.migrate()
app.users.add("bench_power", "power", ["handler"])
problems = [app.cases.create("enterprise_issue", office, problem)["number"] for _ in range(cases)]
sites = [app.cases.create("scattered_polluting", office, dict(site, site_name=f"示例加工点{i}"))["number"]
         for i in range(cases)]
started = time.perf_counter()
for number in problems:
    app.cases.advance(number, "assign", office, {"lead_unit": "power"})
    app.cases.advance(number, "accept", power, {})
for number in sites:
    app.cases.advance(number, "start_verification", office, {})
    app.cases.advance(number, "classify_ban", office, {"plan": "依法取缔"})
elapsed = time.perf_counter() - started
app.close()
print(json.dumps({"per_second": 4 * cases / elapsed}))
"""


def types_run(tree: Path, directory: Path, cases: int) -> float:
    """Advances per second of both shipped types, with the source tree ``tree``."""
    directory.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEFLOW_")}
    done = subprocess.run(
        [sys.executable, "-c", TYPES_WORKER, str(tree), str(directory), str(cases)],
        check=True, capture_output=True, text=True, cwd=directory, env=env,
    )  # fmt: skip
    return float(json.loads(done.stdout.strip().splitlines()[-1])["per_second"])


def extract(revision: str, target: Path) -> Path:
    """The source tree of git ``revision`` under ``target`` (``git archive``, nothing else touched)."""
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(root), "archive", revision], check=True, capture_output=True)
    target.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def compare_with(revision: str, cases: int, runs: int) -> None:
    root = Path(__file__).resolve().parent.parent
    now, before = [], []
    with tempfile.TemporaryDirectory(prefix="caseflow-bench-") as tmp:
        old = extract(revision, Path(tmp) / "baseline")
        for run in range(runs):
            now.append(types_run(root, Path(tmp) / f"now-{run}", cases))
            before.append(types_run(old, Path(tmp) / f"before-{run}", cases))
            print(f"run {run + 1}: this tree {now[-1]:7.0f} advances/s   {revision} {before[-1]:7.0f}/s   "
                  f"cost {before[-1] / now[-1]:.2f}×")  # fmt: skip
    n, b = statistics.median(now), statistics.median(before)
    print(f"median of {runs} runs: this tree {n:.0f} advances/s, {revision} {b:.0f}/s: the types as data cost "
          f"{b / n:.2f}× — target ≤ 1.1× {'met' if b / n <= 1.1 else 'NOT met'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="cases per run (2 advances each)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", metavar="REF", help="compare both shipped types with git revision REF")
    args = parser.parse_args()
    if args.baseline:
        compare_with(args.baseline, args.cases, args.runs)
        return
    engine, bare, raw = [], [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="caseflow-bench-") as tmp:
            (Path(tmp) / "with").mkdir()
            (Path(tmp) / "without").mkdir()
            engine.append(engine_run(Path(tmp) / "with", args.cases))
            bare.append(engine_without_obligations(Path(tmp) / "without", args.cases))
            raw.append(raw_run(Path(tmp), args.cases))
        print(
            f"run {run + 1}: engine {engine[-1]:8.0f}/s   without obligations {bare[-1]:8.0f}/s   "
            f"raw sqlite3 {raw[-1]:8.0f}/s   ratio {engine[-1] / raw[-1]:.3f}   cost of obligations {bare[-1] / engine[-1]:.2f}×"
        )
    e, b, r = statistics.median(engine), statistics.median(bare), statistics.median(raw)
    print(f"median of {args.runs} runs: engine {e:.0f} advances/s, without obligations {b:.0f}/s, raw {r:.0f} writes/s, "
          f"ratio {e / r:.3f}, obligations cost {b / e:.2f}×")  # fmt: skip
    print(
        f"targets: ≥ 2000 advances/s {'met' if e >= 2000 else 'NOT met'}; ratio ≥ 0.10 {'met' if e / r >= 0.10 else 'NOT met'}; "
        f"obligations ≤ 1.2× {'met' if b / e <= 1.2 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
