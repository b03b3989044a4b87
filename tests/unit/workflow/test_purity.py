"""``workflow/`` stays pure (DESIGN.md, Layers): importing it pulls in no database, scheduler,
template or web framework, and it type-checks under ``mypy --strict``.

Both checks run in a subprocess: the test process itself has imported SQLAlchemy and friends
through other conftest files, so its ``sys.modules`` proves nothing.
"""

import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
FORBIDDEN = (
    "sqlmodel",
    "sqlalchemy",
    "apscheduler",
    "jinja2",
    "fastapi",
    "starlette",
    "psycopg",
    "alembic",
)
MODULES = sorted(m.name for m in pkgutil.iter_modules([str(REPO / "workflow")]))

PROBE = """
import importlib, json, sys
names = json.loads(sys.argv[1])
for name in names:
    importlib.import_module("workflow." + name)
print(json.dumps(sorted(sys.modules)))
"""


def imported_after(names: list[str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(names)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def test_the_package_has_its_modules() -> None:
    assert {"rulebook", "rules", "loader", "fields", "org", "uscc", "errors", "case"} <= set(
        MODULES
    )


@pytest.mark.parametrize("module", ["*", *MODULES])
def test_importing_workflow_pulls_in_no_infrastructure(module: str) -> None:
    names = MODULES if module == "*" else [module]
    loaded = imported_after(names)
    assert {f"workflow.{name}" for name in names} <= loaded
    bad = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN)
    assert bad == [], f"workflow.{module} imports {bad}"


MYPY_ERRORS_AT_REVIEW = 12


def test_mypy_strict_passes_on_workflow(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = re.search(r"Found (\d+) errors?", done.stdout)
    assert done.returncode == 0, f"{summary.group(0) if summary else ''}\n{done.stdout[-3000:]}"
    assert "Success: no issues found" in done.stdout
