"""Start-up time of the command line against a bare interpreter, measured in the same run.

Times, interleaved, ``--runs`` times each (wall clock of a fresh process):

- ``python -c pass``: the interpreter alone (the baseline);
- ``python -m caseflow --help``: the command line with no command run;
- ``python -m caseflow workflow graph enterprise_issue``: a command without a database;
- ``python -m caseflow case show QY-2026-00002 --as power_handler``: a read on a demo database
  (``caseflow init --demo`` in a temporary directory, made once; ``--no-db`` skips it);

and prints each median, its ratio to the baseline, and which heavy libraries the command
imported (from ``-X importtime``). The machine may be shared: the ratios, measured in the same
run, are what to compare; the load average is printed with them.

    python bench/cli_startup.py [--runs 11] [--no-db] [--root OTHER_CHECKOUT ...] [--json FILE]

``--root`` adds the same commands run from another checkout (e.g. ``git worktree add /tmp/old
HEAD~1``), interleaved with this one, to compare before and after in one run.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "pydantic", "rich", "jinja2", "openpyxl", "fastapi", "starlette",
         "uvicorn", "apscheduler", "httpx", "argon2", "yaml", "cases", "notifications", "web", "scheduling")  # fmt: skip
COMMANDS = {
    "caseflow --help": ["--help"],
    "caseflow workflow graph": ["workflow", "graph", "enterprise_issue"],
    "caseflow case show": ["case", "show", "QY-2026-00002", "--as", "power_handler"],
}


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} (in {cwd}) failed: {done.stderr.decode()[-500:]}")
    return elapsed


def imported(argv: list[str], cwd: Path, env: dict[str, str]) -> list[str]:
    """The heavy top-level packages a command imports."""
    done = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], cwd=cwd, env=env, capture_output=True, check=False)
    names = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.decode().splitlines() if "|" in line}
    return [name for name in HEAVY if name in names]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--no-db", action="store_true", help="skip the command that reads a demo database")
    parser.add_argument("--root", type=Path, action="append", default=[], help="also time this checkout")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    roots = [ROOT, *(r.resolve() for r in args.root)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEFLOW_")}
    commands = {k: v for k, v in COMMANDS.items() if not (args.no_db and k == "caseflow case show")}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="caseflow-cli-") as tmp:
        envs = {}
        for n, root in enumerate(roots):  # a demo database per checkout: each is at its own schema revision
            envs[root] = {
                **env,
                "CASEFLOW_DATABASE_URL": f"sqlite:///{Path(tmp) / f'caseflow-{n}.db'}",
                "CASEFLOW_DATA_DIR": str(Path(tmp) / f"data-{n}"),
                "CASEFLOW_FAKE_NOW": "2026-09-30T10:00:00+08:00",
            }
            if "caseflow case show" in commands:
                run([sys.executable, "-m", "caseflow", "init", "--demo"], root, envs[root])
        jobs: list[tuple[str, list[str], Path]] = [("python -c pass", [sys.executable, "-c", "pass"], ROOT)]
        for root in roots:
            suffix = "" if root == ROOT else f"  [{root}]"
            jobs += [
                (name + suffix, [sys.executable, "-m", "caseflow", *rest], root) for name, rest in commands.items()
            ]
        for _, argv, cwd in jobs:  # warm the file cache and the bytecode
            run(argv, cwd, envs.get(cwd, env))
        samples: dict[str, list[float]] = {label: [] for label, _, _ in jobs}
        for _ in range(args.runs):
            for label, argv, cwd in jobs:
                samples[label].append(run(argv, cwd, envs.get(cwd, env)))
        modules = {label: imported(argv, cwd, envs[cwd]) for label, argv, cwd in jobs[1:]}
    load = os.getloadavg()
    base = statistics.median(samples["python -c pass"])
    print(f"median of {args.runs} runs each, interleaved; {os.cpu_count()} cores, load average (1 min)", end=" ")
    print(f"{load_before[0]:.2f} before, {load[0]:.2f} after ({load[1]:.2f}, {load[2]:.2f} over 5 and 15 min)")
    print(f"{'command':44} {'median':>9} {'min':>8} {'× python':>9}  heavy imports")
    figures: dict[str, Any] = {"runs": args.runs, "load_average": [load_before, load], "commands": {}}
    for label, values in samples.items():
        median = statistics.median(values)
        heavy = modules.get(label, [])
        print(f"{label:44} {median:7.0f} ms {min(values):5.0f} ms {median / base:8.2f}×  {', '.join(heavy) or '—'}")
        figures["commands"][label] = {
            "median_ms": median,
            "min_ms": min(values),
            "ratio": median / base,
            "imports": heavy,
        }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
