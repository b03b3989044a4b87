"""Committed ``advance`` calls per second through the case service on a SQLite file, against the
same writes done with bare ``sqlite3`` in the same run (same pragmas: WAL, synchronous=FULL).

Each engine advance locks the case, checks role, unit, inputs and guards through the rulebook,
fires the ``transitions`` machine, updates the case row, appends a hash-chained event and
commits. The baseline does per advance: BEGIN IMMEDIATE; SELECT the case row; UPDATE it;
INSERT an event row; COMMIT. Target (issue 2): ≥ 2,000 advances/s and a ratio ≥ 0.10.

Each run also times the engine with the responsibility list switched off (``reconcile`` replaced
by a stub that owes nothing): issue 11's target is that obligations cost at most 1.2 × the
advance without them, in the same run.

    python bench/advance.py [--cases 1000] [--runs 5]
"""

import argparse
import json
import sqlite3
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="cases per run (2 advances each)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
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
