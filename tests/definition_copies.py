"""Changed copies of the shipped workflow definitions, for the tests of definition versions and
``workflow migrate``: a state renamed everywhere it is named, a checklist item removed, a label
changed. Reads the YAML files with PyYAML; imports nothing of the product."""

import re
from pathlib import Path
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    """Reads definitions as the product does: only ``true``/``false`` are booleans (``on:``,
    ``no`` stay text) and dates stay text."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

WORKFLOWS = Path(__file__).resolve().parents[1] / "config" / "workflows"
STATE_KEYS = frozenset({"source", "dest", "states", "keeps_running", "initial", "state"})
"""Keys whose values name states (a name or a list of names)."""


def shipped(case_type: str) -> dict[str, Any]:
    data = yaml.load((WORKFLOWS / f"{case_type}.yaml").read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    assert isinstance(data, dict) and data["type"] == case_type
    return data


def rename_state(data: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """``data`` with the state ``old`` called ``new`` in its states and wherever a state is named."""
    assert old in data["states"] and new not in data["states"]

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: _named(v) if k in STATE_KEYS else walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    def _named(value: Any) -> Any:
        if value == old:
            return new
        if isinstance(value, list):
            return [new if v == old else walk(v) for v in value]
        return walk(value)

    renamed = {new if k == old else k: walk(v) for k, v in data["states"].items()}
    return {**walk({k: v for k, v in data.items() if k != "states"}), "states": renamed}


def relabel_state(data: dict[str, Any], state: str, label: str) -> dict[str, Any]:
    states = dict(data["states"])
    states[state] = {**states[state], "label": label}
    return {**data, "states": states}


def without_item(data: dict[str, Any], checklist: str, item: str) -> dict[str, Any]:
    checklists = dict(data["checklists"])
    items = {k: v for k, v in checklists[checklist]["items"].items() if k != item}
    checklists[checklist] = {**checklists[checklist], "items": items}
    return {**data, "checklists": checklists}


def write_definition(config_dir: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as ``config_dir/workflows/<type>.yaml`` (replacing it); return the file."""
    target = config_dir / "workflows"
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{data['type']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
