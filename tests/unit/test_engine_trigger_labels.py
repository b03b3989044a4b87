"""Every trigger the engine fires itself has a Chinese name for the history (pages, exports)."""

import ast
from pathlib import Path

from cases.views import ENGINE_TRIGGER_LABELS
from workflow.ladder import MANUAL_TRIGGERS, RECORD_OVERDUE, TRIGGER_OF

ROOT = Path(__file__).resolve().parents[2]


def _trigger_literals() -> set[str]:
    """String literals passed as ``trigger=`` or recorded as the first argument of ``_record`` in cases/."""
    found: set[str] = set()
    for path in (ROOT / "cases").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                if kw.arg == "trigger" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    found.add(kw.value.value)
            name = getattr(node.func, "attr", None)
            if name == "_record" and node.args and isinstance(node.args[0], ast.Constant):
                found.add(str(node.args[0].value))
    return found


def test_ladder_and_engine_triggers_have_labels() -> None:
    wanted = {*TRIGGER_OF.values(), RECORD_OVERDUE, *MANUAL_TRIGGERS, "create", "import", "complete_item"}
    assert wanted <= set(ENGINE_TRIGGER_LABELS)


def test_triggers_written_by_cases_have_labels() -> None:
    literals = _trigger_literals()
    assert {"complete_item", "recompute_deadline"} <= literals  # the scan finds them at all
    assert literals <= set(ENGINE_TRIGGER_LABELS)
