"""Definitions and the organisation: the shipped files load, broken ones are refused with the
file and the dotted key path (``workflow.loader``, ``workflow.org``, ``workflow.yamlfile``)."""

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from workflow.errors import DefinitionError
from workflow.loader import load_workflow, load_workflow_text, load_workflows
from workflow.org import Organisation
from workflow.yamlfile import load_text

CONFIG = Path(__file__).resolve().parents[3] / "config"
WORKFLOW_FILES = sorted((CONFIG / "workflows").glob("*.yaml"))
BROKEN = "broken.yaml"

Mutation = Callable[[dict[str, Any]], None]


def test_there_are_workflow_files() -> None:
    assert {p.name for p in WORKFLOW_FILES} >= {"enterprise_issue.yaml", "scattered_polluting.yaml"}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_shipped_definition_loads_and_validates(path: Path, org: Organisation) -> None:
    spec = load_workflow(path, org)
    assert spec.type == path.stem
    assert spec.source_file == str(path)
    assert re.fullmatch(r"[0-9a-f]{64}", spec.version)
    assert spec.initial in spec.states and spec.transitions
    again = load_workflow(path, org)
    assert again.version == spec.version
    commented = "# a comment added by an administrator\n" + path.read_text(encoding="utf-8")
    commented = commented.replace("\nstates:", "\n# the states\nstates:  # trailing comment")
    assert load_workflow_text(commented, str(path), org).version == spec.version


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_version_changes_with_content(path: Path, org: Organisation) -> None:
    data = load_text(path.read_text(encoding="utf-8"), str(path))
    first = next(iter(data["states"]))
    data["states"][first]["label"] += "（改）"
    changed = load_workflow_text(yaml.safe_dump(data, allow_unicode=True), BROKEN, org)
    assert changed.version != load_workflow(path, org).version


def test_load_workflows_keys_by_type(org: Organisation) -> None:
    specs = load_workflows(CONFIG / "workflows", org)
    assert set(specs) == {p.stem for p in WORKFLOW_FILES}


def test_yes_no_on_off_stay_strings() -> None:
    data = load_text("a: yes\nb: no\nc: on\nd: off\ne: true\nf: False\ng: Yes\n", "x.yaml")
    assert data == {"a": "yes", "b": "no", "c": "on", "d": "off", "e": True, "f": False, "g": "Yes"}
    assert yaml.safe_load("a: yes") == {"a": True}  # the global SafeLoader is left alone


def test_yes_no_default_in_shipped_definition(specs: dict[str, Any]) -> None:
    assert specs["scattered_polluting"].fields["cut_gas"].default == "no"


def test_yaml_syntax_error_names_file_and_line(org: Organisation) -> None:
    with pytest.raises(DefinitionError) as info:
        load_workflow_text("type: x\nstates: [unclosed\n", BROKEN, org)
    assert info.value.file == BROKEN
    assert re.fullmatch(r"line \d+", info.value.key)


# --- broken definitions ---------------------------------------------------------------------------


def base(name: str = "enterprise_issue.yaml") -> dict[str, Any]:
    path = CONFIG / "workflows" / name
    return copy.deepcopy(load_text(path.read_text(encoding="utf-8"), str(path)))


def index(data: dict[str, Any], trigger: str) -> int:
    return next(i for i, t in enumerate(data["transitions"]) if t["trigger"] == trigger)


def refused(data: dict[str, Any], org: Organisation) -> DefinitionError:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    with pytest.raises(DefinitionError) as info:
        load_workflow_text(text, BROKEN, org)
    assert info.value.file == BROKEN
    assert info.value.details == {
        "file": BROKEN,
        "key": info.value.key,
        "reason": info.value.reason,
    }
    return info.value


@pytest.mark.parametrize("name", [p.name for p in WORKFLOW_FILES])
def test_unmodified_round_trip_loads(name: str, org: Organisation) -> None:
    """The dump/load path used below does not itself break a definition."""
    spec = load_workflow_text(yaml.safe_dump(base(name), allow_unicode=True), BROKEN, org)
    assert spec.type == name.removesuffix(".yaml")


def _set(path: str, value: Any) -> Mutation:
    """Set ``value`` at a path like ``transitions[accept].actors[0].role``."""

    def mutate(data: dict[str, Any]) -> None:
        parts = re.findall(r"[^.\[\]]+|\[[^\]]+\]", path)
        node: Any = data
        for part in parts[:-1]:
            node = _step(data, node, part)
        last = parts[-1]
        node[_key(data, node, last)] = value

    return mutate


def _key(data: dict[str, Any], node: Any, part: str) -> Any:
    if part.startswith("["):
        inner = part[1:-1]
        return int(inner) if inner.isdigit() else index(data, inner)
    return part


def _step(data: dict[str, Any], node: Any, part: str) -> Any:
    return node[_key(data, node, part)]


def _drop(*triggers: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data["transitions"] = [t for t in data["transitions"] if t["trigger"] not in triggers]

    return mutate


def _append(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        trigger, key = path.split(".")
        entry = data["transitions"][index(data, trigger)]
        entry[key] = [*(entry.get(key) or []), value]

    return mutate


def _add_ladder_level(data: dict[str, Any]) -> None:
    data["ladder"]["purple"] = {"at": "due_at"}


def _terminal_clock(data: dict[str, Any]) -> None:
    data["states"]["closed"]["clock"] = {"duration": "1wd"}


E = "enterprise_issue.yaml"
S = "scattered_polluting.yaml"
# (file, mutation, expected key or a callable of the definition giving it, words in the reason)
CASES: dict[str, tuple[str, Mutation, Any, str]] = {
    "unknown dest": (
        E,
        _set("transitions[accept].dest", "done"),
        "transitions[accept].dest",
        "'done'",
    ),
    "unknown source": (
        E,
        _set("transitions[accept].source", "nowhere"),
        "transitions[accept].source",
        "'nowhere'",
    ),
    "unknown source in list": (
        E,
        _set("transitions[reassign].source", ["assigned", "limbo"]),
        "transitions[reassign].source",
        "'limbo'",
    ),
    "unreachable": (E, _drop("decline"), "states.not_accepted", "unreachable"),
    "dead end": (
        E,
        _drop("approve_extension", "reject_extension"),
        "states.extension_requested",
        "dead end",
    ),
    "unknown guard": (
        E,
        _append("request_extension.guards", "before_lunch"),
        "transitions[request_extension].guards",
        "'before_lunch'",
    ),
    "unknown effect": (
        E,
        _append("assign.effects", "send_flowers"),
        "transitions[assign].effects",
        "'send_flowers'",
    ),
    "unknown condition": (
        S,
        _set("transitions[fail_acceptance].when", ["if_raining"]),
        "transitions[fail_acceptance].when",
        "'if_raining'",
    ),
    "unknown role": (
        E,
        _set("transitions[accept].actors[0].role", "boss"),
        "transitions[accept].actors[0].role",
        "'boss'",
    ),
    "unknown unit relation": (
        E,
        _set("transitions[accept].actors[0].unit", "neighbour"),
        "transitions[accept].actors[0].unit",
        "'neighbour'",
    ),
    "unknown department in transition actor": (
        E,
        _set("transitions[accept].actors", [{"role": "handler", "department": "moon_office"}]),
        "transitions[accept].actors[0].department",
        "'moon_office'",
    ),
    "unknown department in item actor": (
        S,
        _set("checklists.clearing.items.cut_water.actors[0].department", "waterworks"),
        "checklists.clearing.items.cut_water.actors[0].department",
        "'waterworks'",
    ),
    "unknown field in item required": (
        S,
        _set("checklists.clearing.items.cut_power.required", ["kwh"]),
        "checklists.clearing.items.cut_power.required",
        "'kwh'",
    ),
    "bad duration": (
        E,
        _set("states.registered.clock.duration", "5x"),
        "states.registered.clock.duration",
        "'5x'",
    ),
    "bad duration by class": (
        E,
        _set("states.in_progress.clock.durations.simple", "5x"),
        "states.in_progress.clock.durations.simple",
        "'5x'",
    ),
    "bad ladder duration": (
        E,
        _set("ladder.supervised.after_due", "3x"),
        "ladder.supervised.after_due",
        "'3x'",
    ),
    "terminal state with a clock": (E, _terminal_clock, "states.closed.clock", "terminal"),
    "unknown ladder level": (E, _add_ladder_level, "ladder", "'purple'"),
    "unknown state key": (
        E,
        _set("states.registered.colour", "red"),
        "states.registered.colour",
        "unknown key",
    ),
    "unknown transition key": (
        E,
        _set("transitions[accept].priority", 1),
        "transitions[accept].priority",
        "unknown key",
    ),
    "unknown field type": (E, _set("fields.title.type", "string"), "fields.title.type", "'string'"),
    "store of a non-input": (
        E,
        _append("decline.store", "title"),
        "transitions[decline].store",
        "'title'",
    ),
    "unknown counter": (
        E,
        _append("return.increment", "mood_count"),
        "transitions[return].increment",
        "'mood_count'",
    ),
    "initial unknown": (E, _set("initial", "draft"), "initial", "'draft'"),
    "leaving a terminal state": (
        E,
        _set("transitions[decline].source", ["registered", "closed"]),
        "transitions[decline].source",
        "terminal",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_broken_definition_is_refused(case: str, org: Organisation) -> None:
    file, mutate, key, words = CASES[case]
    data = base(file)
    mutate(data)
    error = refused(data, org)
    expected = re.sub(r"\[([a-z_]+)\]", lambda m: f"[{index(data, m.group(1))}]", key)
    assert error.key == expected
    assert words in error.reason
    assert error.message == f"{BROKEN}: {expected}: {error.reason}"


def test_unknown_field_in_required_is_refused(org: Organisation) -> None:
    data = base()
    _append("answer.required", "mood")(data)
    error = refused(data, org)
    assert error.key.startswith(f"transitions[{index(data, 'answer')}].required")
    assert "'mood'" in error.reason


@pytest.mark.parametrize("where", ["transitions", "create"])
def test_unknown_field_in_required_names_the_exact_key(where: str, org: Organisation) -> None:
    data = base()
    if where == "create":
        data["create"]["required"].append("mood")
        expected = "create.required"
    else:
        _append("answer.required", "mood")(data)
        expected = f"transitions[{index(data, 'answer')}].required"
    assert refused(data, org).key == expected


def test_unknown_top_level_key_is_refused(org: Organisation) -> None:
    data = base()
    data["owner"] = "联席办"
    error = refused(data, org)
    assert error.key.endswith("owner") and "unknown key" in error.reason


def test_unknown_top_level_key_names_the_exact_key(org: Organisation) -> None:
    data = base()
    data["owner"] = "联席办"
    assert refused(data, org).key == "owner"


def test_error_from_a_file_names_the_path(tmp_path: Path, org: Organisation) -> None:
    data = base()
    _set("transitions[accept].dest", "done")(data)
    path = tmp_path / "enterprise_issue.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        load_workflow(path, org)
    assert info.value.file == str(path)
    assert info.value.key == f"transitions[{index(data, 'accept')}].dest"


def _rename_violation(data: dict[str, Any]) -> None:
    data["violation_departments"]["环境污染"] = data["violation_departments"].pop("环境违法")




@pytest.mark.parametrize(
    ("file", "mutate", "key"),
    [
        pytest.param(E, _set("fields.title.max_length", "ten"), "fields.title.max_length",
                     id="max_length not an integer"),
        pytest.param(E, _set("fields.days.min", "1"), "fields.days.min",
                     id="min not an integer"),
        pytest.param(S, _rename_violation, "violation_departments.环境污染",
                     id="violation type not a choice"),
    ],
)  # fmt: skip
def test_validation_gaps(file: str, mutate: Mutation, key: str, org: Organisation) -> None:
    data = base(file)
    mutate(data)
    assert refused(data, org).key == key
