"""The ledger package names no case type, and no step, state or checklist of a shipped
definition, in its code: what it knows of a type comes from the definition (and its ``ledger:``
section). And it sits above ``cases``: nothing in ``cases/`` imports it."""

import io
import re
import tokenize
from pathlib import Path

from workflow.loader import load_workflows
from workflow.org import load_organisation

REPO = Path(__file__).resolve().parents[3]
ORG = load_organisation(REPO / "config" / "departments.yaml")
SPECS = load_workflows(REPO / "config" / "workflows", ORG)
LEDGER = sorted((REPO / "ledger").glob("*.py"))


def _names() -> set[str]:
    names: set[str] = set()
    for spec in SPECS.values():
        names |= set(spec.triggers) | set(spec.states) | set(spec.checklists)
    return names


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """The string literals of a module that are not docstrings (a string standing as a statement)."""
    found = []
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline))
    for index, token in enumerate(tokens):
        if token.type != tokenize.STRING:
            continue
        before = next((t for t in reversed(tokens[:index]) if t.type not in (tokenize.NL, tokenize.COMMENT)), None)
        standalone = before is None or before.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
        if not standalone:
            found.append((token.start[0], token.string))
    return found


def test_no_module_of_the_ledger_names_a_type() -> None:
    assert LEDGER
    for path in LEDGER:
        text = path.read_text(encoding="utf-8")
        for case_type in SPECS:
            assert case_type not in text, f"{path.name} names the type {case_type}"


def test_no_module_of_the_ledger_names_a_step_a_state_or_a_checklist() -> None:
    names = _names()
    assert {"assign", "answer", "clearing", "closed", "classify_ban"} <= names
    pattern = re.compile(r"(?<![\w])(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")(?![\w])")
    found = [
        f"{path.name}:{line}: {literal}"
        for path in LEDGER
        for line, literal in _code_strings(path)
        if pattern.search(literal)
    ]
    assert found == []


def test_cases_does_not_import_the_ledger() -> None:
    importing = re.compile(r"^\s*(from ledger\b|import ledger\b)", re.MULTILINE)
    found = [p.name for p in (REPO / "cases").rglob("*.py") if importing.search(p.read_text(encoding="utf-8"))]
    assert found == []
