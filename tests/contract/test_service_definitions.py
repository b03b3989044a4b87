"""Definition pinning: a case keeps the definition version it started on, and advances by the
stored rules of that version, after the current definition changed (another process, another
configuration directory, the same database)."""

import pytest
from helpers import ENTERPRISE, build_app, count_rows, new_enterprise_case, new_site_case
from sqlalchemy import exc

from cases import audit
from cases import repository as repo
from cases.models import WorkflowDefinition
from config.settings import DEFAULTS
from workflow.errors import InvalidInput

ACCEPT = """  - trigger: accept
    label: 签收
    source: assigned
    dest: in_progress
    actors: [{role: handler, unit: lead_unit}]
"""
NEW_LABEL = "办理中（新版）"


@pytest.fixture
def new_config(tmp_path):
    """A config dir whose enterprise_issue.yaml relabels in_progress and makes `accept` require
    instructions; everything else is the default."""
    text = (DEFAULTS / "workflows" / "enterprise_issue.yaml").read_text(encoding="utf-8")
    assert ACCEPT in text and "  in_progress:\n    label: 办理中\n" in text
    text = text.replace(ACCEPT, ACCEPT + "    required: [instructions]\n")
    text = text.replace("  in_progress:\n    label: 办理中\n", f"  in_progress:\n    label: {NEW_LABEL}\n")
    directory = tmp_path / "config"
    (directory / "workflows").mkdir(parents=True)
    (directory / "workflows" / "enterprise_issue.yaml").write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def second_app(database_url, data_dir, clock, new_config):
    """Another process started after the enterprise definition changed (same database)."""
    application = build_app(database_url, data_dir, clock=clock, config_dir=new_config)
    yield application
    application.close()


def test_old_case_keeps_its_version_and_rules(app, actors, second_app):
    old_version = app.definitions.current(ENTERPRISE).spec.version
    new_version = second_app.definitions.current(ENTERPRISE).spec.version
    assert new_version != old_version
    old = new_enterprise_case(app)["number"]
    app.cases.advance(old, "assign", actors.dispatcher, {"lead_unit": "power"})

    shown = second_app.cases.show(old, actors.power)
    assert shown["definition_version"] == old_version
    assert shown["allowed_triggers"] == ["accept", "return"]
    case = second_app.cases.advance(old, "accept", actors.power)  # no instructions: the old rules
    assert case["state"] == "in_progress" and case["state_label"] == "办理中"
    assert case["definition_version"] == old_version

    new = new_enterprise_case(second_app)
    assert new["definition_version"] == new_version
    second_app.cases.advance(new["number"], "assign", actors.dispatcher, {"lead_unit": "power"})
    with pytest.raises(InvalidInput) as refused:
        second_app.cases.advance(new["number"], "accept", actors.power)
    assert refused.value.field == "instructions"
    case = second_app.cases.advance(new["number"], "accept", actors.power, {"instructions": "已阅"})
    assert case["state_label"] == NEW_LABEL

    # the first process never loaded the new definition from a file: it reads it from the database
    assert app.cases.show(new["number"])["state_label"] == NEW_LABEL
    assert app.cases.show(old)["state_label"] == "办理中"
    assert count_rows(app, WorkflowDefinition) == 4  # enterprise v1 and v2, one site and one subsidy definition
    with app.db.read() as conn:
        assert audit.verify(conn).ok


def test_unchanged_definition_is_shared(app, actors, second_app):
    site = new_site_case(app)
    again = new_site_case(second_app)
    assert site["definition_version"] == again["definition_version"]
    assert again["number"] == "SLW-2026-00002"


def test_same_definition_reformatted_keeps_its_version(app, database_url, data_dir, clock, tmp_path):
    directory = tmp_path / "reformatted"
    (directory / "workflows").mkdir(parents=True)
    source = DEFAULTS / "workflows" / "enterprise_issue.yaml"
    text = "# a comment only\n" + source.read_text(encoding="utf-8")
    (directory / "workflows" / source.name).write_text(text, encoding="utf-8")
    other = build_app(database_url, data_dir, clock=clock, config_dir=directory)
    try:
        assert other.definitions.current(ENTERPRISE).spec.version == app.definitions.current(ENTERPRISE).spec.version
    finally:
        other.close()


def test_definition_is_stored_even_if_the_first_registration_rolled_back(
    app, actors, database_url, data_dir, clock, new_config, monkeypatch
):
    """A process whose first registration rolled back must still store the definition with the
    next case (a version marked "registered" before the commit would never be stored, and its
    cases could not be read once the definition changes)."""
    real_insert = repo.insert_case
    failures = []

    def insert_fails_once(conn, values):
        if not failures:
            failures.append(values["number"])
            raise exc.OperationalError("INSERT INTO case", {}, Exception("disk I/O error"))
        return real_insert(conn, values)

    monkeypatch.setattr(repo, "insert_case", insert_fails_once)
    with pytest.raises(exc.OperationalError):
        new_enterprise_case(app)
    assert failures == ["QY-2026-00001"]
    number = new_enterprise_case(app)["number"]
    assert number == "QY-2026-00001"  # the failed registration took no number
    assert count_rows(app, WorkflowDefinition) == 3  # one per shipped type
    later = build_app(database_url, data_dir, clock=clock, config_dir=new_config)
    try:
        assert later.cases.show(number)["definition_version"] == app.definitions.current(ENTERPRISE).spec.version
    finally:
        later.close()
