"""``caseflow workflow check [DIR]`` and ``workflow graph TYPE``. The expected states and
triggers are read from the shipped YAML files with PyYAML, not from the product."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_support import ENTERPRISE, SITE, Cli, Result, assert_ok, assert_refused

WORKFLOWS = Path(__file__).resolve().parents[2] / "config" / "workflows"
FILES = {ENTERPRISE: WORKFLOWS / "enterprise_issue.yaml", SITE: WORKFLOWS / "scattered_polluting.yaml"}


def definition(case_type: str) -> dict[str, Any]:
    data = yaml.safe_load(FILES[case_type].read_text(encoding="utf-8"))
    assert isinstance(data, dict) and data["type"] == case_type
    return data


def transition_index(data: dict[str, Any], trigger: str) -> int:
    return next(i for i, t in enumerate(data["transitions"]) if t["trigger"] == trigger)


def write_copy(directory: Path, enterprise: dict[str, Any]) -> Path:
    """A configuration directory with ``workflows/`` holding both definitions."""
    target = directory / "workflows"
    target.mkdir(parents=True)
    (target / FILES[ENTERPRISE].name).write_text(
        yaml.safe_dump(enterprise, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    (target / FILES[SITE].name).write_text(FILES[SITE].read_text(encoding="utf-8"), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def runs(module_db: Cli, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    good = definition(ENTERPRISE)
    bad_dest = definition(ENTERPRISE)
    accept = transition_index(bad_dest, "accept")
    bad_dest["transitions"][accept]["dest"] = "limbo"
    bad_guard = definition(ENTERPRISE)
    answer = transition_index(bad_guard, "answer")
    bad_guard["transitions"][answer]["guards"] = ["all_co_units_fed_back", "moon_is_full"]
    dirs = {
        "good": write_copy(tmp_path_factory.mktemp("good"), good),
        "bad_dest": write_copy(tmp_path_factory.mktemp("bad_dest"), bad_dest),
        "bad_guard": write_copy(tmp_path_factory.mktemp("bad_guard"), bad_guard),
    }
    results = module_db.run_all(
        {
            "check": ["workflow", "check"],
            "check_good": ["workflow", "check", str(dirs["good"])],
            "check_bad_dest": ["workflow", "check", str(dirs["bad_dest"])],
            "check_bad_guard": ["workflow", "check", str(dirs["bad_guard"] / "workflows")],
            "graph_enterprise": ["workflow", "graph", ENTERPRISE],
            "graph_site": ["workflow", "graph", SITE],
            "graph_unknown": ["workflow", "graph", "shop_complaint"],
        }
    )
    return {"results": results, "dirs": dirs, "accept": accept, "answer": answer}


def test_check_of_the_shipped_definitions_names_both_files(runs: dict[str, Any]) -> None:
    out = assert_ok(runs["results"]["check"]).stdout
    for case_type, path in FILES.items():
        assert path.name in out and case_type in out


def test_check_of_a_valid_copy_passes(runs: dict[str, Any]) -> None:
    out = assert_ok(runs["results"]["check_good"]).stdout
    assert str(runs["dirs"]["good"] / "workflows" / FILES[ENTERPRISE].name) in out
    assert FILES[SITE].name in out


def test_check_names_file_and_key_of_a_transition_to_an_unknown_state(runs: dict[str, Any]) -> None:
    broken = runs["dirs"]["bad_dest"] / "workflows" / FILES[ENTERPRISE].name
    assert_refused(runs["results"]["check_bad_dest"], str(broken), f"transitions[{runs['accept']}].dest", "limbo")


def test_check_names_file_and_key_of_an_unknown_guard(runs: dict[str, Any]) -> None:
    broken = runs["dirs"]["bad_guard"] / "workflows" / FILES[ENTERPRISE].name
    assert_refused(
        runs["results"]["check_bad_guard"], str(broken), f"transitions[{runs['answer']}].guards", "moon_is_full"
    )


def _graph(result: Result) -> str:
    out = assert_ok(result).stdout
    assert out.lstrip().splitlines()[0].strip() == "stateDiagram-v2"
    return out


@pytest.mark.parametrize(("case_type", "key"), [(ENTERPRISE, "graph_enterprise"), (SITE, "graph_site")])
def test_graph_draws_every_state_and_state_change(runs: dict[str, Any], case_type: str, key: str) -> None:
    out = _graph(runs["results"][key])
    data = definition(case_type)
    for state in data["states"]:
        assert state in out, state
    assert f"[*] --> {data['initial']}" in out
    for t in data["transitions"]:
        if t.get("internal"):
            continue
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for source in sources:
            assert f"{source} --> {t['dest']}: {t['trigger']}" in out, t["trigger"]


def test_graph_names_every_trigger_of_the_definition(runs: dict[str, Any]) -> None:
    out = _graph(runs["results"]["graph_enterprise"])
    for t in definition(ENTERPRISE)["transitions"]:
        assert t["trigger"] in out, t["trigger"]


def test_graph_of_an_unknown_type_is_refused(runs: dict[str, Any]) -> None:
    assert_refused(runs["results"]["graph_unknown"], "shop_complaint")


@pytest.mark.parametrize(
    "database",
    [
        pytest.param("missing", id="sqlite_not_initialised"),
        pytest.param("postgresql+psycopg://nobody@127.0.0.1:1/nowhere", id="pg_unreachable"),
    ],
)
def test_check_and_graph_need_no_database_and_create_none(bare_cli: Cli, tmp_path: Path, database: str) -> None:
    """They only read definition files: no database is opened, and none is created."""
    url = f"sqlite:///{tmp_path / 'not' / 'there' / 'caseflow.db'}" if database == "missing" else database
    cli = Cli(bare_cli.workdir, {**bare_cli.env, "CASEFLOW_DATABASE_URL": url})
    before = sorted(tmp_path.rglob("*"))
    results = cli.run_all(
        {
            "check": ["workflow", "check"],
            "graph": ["workflow", "graph", ENTERPRISE],
            "unknown": ["workflow", "graph", "shop_complaint"],
        }
    )
    for case_type, path in FILES.items():
        assert path.name in assert_ok(results["check"]).stdout and case_type in results["check"].stdout
    assert f"[*] --> {definition(ENTERPRISE)['initial']}" in _graph(results["graph"])
    assert_refused(results["unknown"], "shop_complaint")
    assert sorted(tmp_path.rglob("*")) == before
