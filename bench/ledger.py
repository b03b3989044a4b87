"""Ledger import speed: rows per second imported into a fresh SQLite file, against a bare
openpyxl read (``read_only=True``, every row iterated) of the same workbook in the same run.

The workbook is an enterprise-problem ledger (15 columns, a title row above the header) with
20,000 enterprises raising 5 problems each; half the rows are 已登记, 30 % 已交办·待签收 and
20 % 办理中, with their dates, so most rows are replayed through the rulebook (1–3 events each).
It is built once and cached in the temporary directory. Each measurement runs in a fresh
interpreter: the bare read, then the import of the whole file in one transaction into a new
SQLite file (``audit verify`` must pass afterwards, outside the measured time). Wall time is
what counts; CPU time (the importing process and its sheet-reader process) is printed too, so
that a run on a busy machine can still be judged. Target (issue 7): ≥ 2,000 rows/s.

    python bench/ledger.py [--rows 100000] [--runs 3]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook, load_workbook  # noqa: E402

from caseflow.app import build  # noqa: E402
from cases import audit  # noqa: E402
from ledger import LedgerService  # noqa: E402
from config.settings import Settings  # noqa: E402
from workflow.clock import FixedClock, parse_instant  # noqa: E402
from workflow.org import Actor  # noqa: E402
from workflow.uscc import ALPHABET, check_character  # noqa: E402

NOW = "2026-09-30T10:00:00+08:00"
OFFICE = Actor("bench_office", "sti", frozenset({"dispatcher", "collector"}))
HEADERS = ["序号", "问题标题", "问题描述", "问题类别", "来源渠道", "企业名称", "统一社会信用代码", "所属镇街",
           "所属行业", "联系人及电话", "当前状态", "登记日期", "主办单位", "交办日期", "签收日期"]  # fmt: skip
CATEGORIES = ["生产要素", "政策扶持", "审批服务", "产业发展", "安全环保", "其他"]
SOURCES = ["走访", "产需对接会", "专家访百企", "12345热线", "部门报送", "领导交办"]
TOWNS = ["孔城镇", "吕亭镇", "范岗镇", "新渡镇", "双港镇", "大关镇", "龙腾街道", "文昌街道", "经开区"]
UNITS = ["市供电公司", "市自然资源和规划局", "市市场监管局", "市生态环境分局", "市财政局", "市商务局"]


def credit_code(n: int) -> str:
    body = "91340881MA"
    digits = ""
    for _ in range(7):
        n, r = divmod(n, len(ALPHABET))
        digits += ALPHABET[r]
    first17 = body + digits
    return first17 + check_character(first17)


def build_workbook(path: Path, rows: int) -> None:
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet("企业问题")
    ws.append(["桐城市企业问题收集交办台账（基准测试）"])
    ws.append(HEADERS)
    start = date(2026, 7, 1)
    for i in range(rows):
        enterprise = i // 5
        day = start + timedelta(days=i % 80)
        kind = i % 10
        state, assigned, accepted = "已登记", None, None
        if kind >= 5:
            state, assigned = "已交办·待签收", day + timedelta(days=1)
        if kind >= 8:
            state, accepted = "办理中", day + timedelta(days=2)
        ws.append([
            i + 1, f"问题{i + 1:06d}：{CATEGORIES[i % 6]}方面的诉求", f"企业反映的第{i % 5 + 1}个问题，需协调解决。",
            CATEGORIES[i % 6], SOURCES[i % 6], f"桐城市示例企业{enterprise:05d}有限公司", credit_code(enterprise),
            TOWNS[enterprise % len(TOWNS)], "制造业", f"联系人{enterprise % 100} 1380000{enterprise % 10000:04d}",
            state, day, UNITS[i % len(UNITS)] if assigned else None, assigned, accepted,
        ])  # fmt: skip
    workbook.save(path)


def cached_workbook(rows: int) -> Path:
    cache = Path(tempfile.gettempdir()) / "caseflow-bench"
    cache.mkdir(exist_ok=True)
    path = cache / f"ledger-enterprise-{rows}.xlsx"
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(".part.xlsx")
        build_workbook(partial, rows)
        partial.replace(path)
        print(f"built {path} in {time.perf_counter() - started:.1f}s")
    return path


def bare_read(path: Path) -> None:
    """Open the workbook read-only and iterate every row's values."""
    workbook = load_workbook(path, read_only=True)
    for _ in workbook.worksheets[0].iter_rows(values_only=True):
        pass
    workbook.close()


def import_ledger(path: Path, rows: int) -> None:
    """Import the whole ledger into a fresh SQLite file; ``audit verify`` must pass after it
    (checked outside the measured time, by the parent)."""
    with tempfile.TemporaryDirectory(prefix="caseflow-bench-") as tmp:
        directory = Path(tmp)
        settings = Settings(database_url=f"sqlite:///{directory}/bench.db", data_dir=directory / "data", fake_now=None)
        app = build(settings, clock=FixedClock(parse_instant(NOW)))
        app.migrate()
        service = LedgerService(app.db, app.definitions, app.clock, app.evidence, app.calendar.calendar)
        started = _times()
        report = service.import_ledger(path, "enterprise_issue", OFFICE)
        _report(started)
        if not report.stored or len(report.created) != rows:
            raise SystemExit(f"import failed: {len(report.problems)} problems, first: {report.problems[:3]}")
        with app.db.read() as conn:
            verified = audit.verify(conn)
        if not verified.ok:
            raise SystemExit(f"audit verify failed: {verified.first_break}")
        app.close()


def _times() -> tuple[float, float, float]:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def _report(started: tuple[float, float, float]) -> None:
    wall, cpu, child = (after - before for after, before in zip(_times(), started, strict=True))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "cpu": cpu, "child_cpu": child, "peak_mb": peak}))


def measure(kind: str, path: Path, rows: int) -> dict[str, float]:
    """One measurement in a fresh interpreter (clean memory and CPU accounting)."""
    command = [sys.executable, __file__, "--child", kind, "--rows", str(rows), "--path", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stdout}{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def child(kind: str, path: Path, rows: int) -> None:
    if kind == "read":
        started = _times()
        bare_read(path)
        _report(started)
    else:
        import_ledger(path, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=["read", "import"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.rows)
        return
    path = cached_workbook(args.rows)
    n = args.rows
    reads, imports = [], []
    for run in range(args.runs):
        reads.append(measure("read", path, n))
        imports.append(measure("import", path, n))
        r, i = reads[-1], imports[-1]
        print(
            f"run {run + 1}: import {n / i['wall']:6.0f} rows/s ({i['wall']:.1f}s wall; CPU {i['cpu']:.1f}s main + "
            f"{i['child_cpu']:.1f}s sheet reader)   bare read {n / r['wall']:6.0f} rows/s ({r['wall']:.1f}s wall, "
            f"CPU {r['cpu']:.1f}s)   ratio {r['wall'] / i['wall']:.3f}"
        )
    wall = statistics.median(i["wall"] for i in imports)
    read = statistics.median(r["wall"] for r in reads)
    main_cpu = statistics.median(i["cpu"] for i in imports)
    reader_cpu = statistics.median(i["child_cpu"] for i in imports)
    read_cpu = statistics.median(r["cpu"] for r in reads)
    peak = max(i["peak_mb"] for i in imports)
    print(f"median of {args.runs} runs ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}):")
    print(
        f"  import {n / wall:.0f} rows/s wall; bare openpyxl read {n / read:.0f} rows/s; ratio (import ÷ read speed) {read / wall:.3f}"
    )
    print(
        f"  CPU: import main process {main_cpu:.1f}s + sheet reader process {reader_cpu:.1f}s; bare read {read_cpu:.1f}s; "
        f"ratio on CPU time {read_cpu / (main_cpu + reader_cpu):.3f}"
    )
    print(
        f"  rows/s bounded by the busier process (an idle machine with 2 free cores): {n / max(main_cpu, reader_cpu):.0f}"
    )
    print(f"  peak memory of the import process {peak:.0f} MB")
    print(f"target ≥ 2000 rows/s (wall): {'met' if n / wall >= 2000 else 'NOT met'}")


if __name__ == "__main__":
    main()
