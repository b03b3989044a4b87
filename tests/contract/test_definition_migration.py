"""Moving running cases to another definition version (``cases.definition_migration``) on SQLite
and PostgreSQL: the cases of the shipped definitions are moved to a changed copy (a state
renamed, a checklist item removed) loaded by a second app on the same database, as an operator
does after changing the configuration."""

from typing import Any

import anyio
import httpx
import pytest
from argon2 import PasswordHasher
from definition_copies import rename_state, shipped, without_item, write_definition
from helpers import ENTERPRISE, SITE, build_app, new_enterprise_case, new_site_case, walk_enterprise_to, walk_site_to
from sqlalchemy import select

from cases import audit
from cases.definition_migration import MIGRATE_TRIGGER, DefinitionMigration, MigrationRefused
from cases.models import Case, CaseEvent, CaseItem, Obligation
from web.server import create_web_app
from workflow.errors import InvalidInput, PermissionDenied


@pytest.fixture
def cases(app, actors) -> dict[str, str]:
    """Running cases of the shipped definitions in several states, and a closed one."""
    made = {state: new_enterprise_case(app)["number"] for state in ("registered", "assigned", "in_progress")}
    for state, number in made.items():
        walk_enterprise_to(app, number, state)
    made["not_accepted"] = walk_enterprise_to(app, new_enterprise_case(app)["number"], "not_accepted")["number"]
    made["clearing"] = walk_site_to(app, new_site_case(app)["number"], "clearing")["number"]
    return made


@pytest.fixture
def new_app(database_url, data_dir, clock, tmp_path, cases):
    """A second app whose configuration renames enterprise_issue's ``assigned`` to ``dispatched``
    and drops 清除设备 from the site's 两断三清 (the cases exist already)."""
    config = tmp_path / "config-v2"
    write_definition(config, rename_state(shipped(ENTERPRISE), "assigned", "dispatched"))
    write_definition(config, without_item(shipped(SITE), "clearing", "clear_equipment"))
    application = build_app(database_url, data_dir, clock=clock, config_dir=config)
    yield application
    application.close()


@pytest.fixture
def admin(app):
    app.users.add("admin", "sti", ["admin"])
    return app.users.actor("admin")


def migration(app) -> DefinitionMigration:
    return DefinitionMigration(app.db, app.definitions, app.clock, app.calendar.calendar)


def snapshot(app) -> dict[str, Any]:
    """Every row a migration could touch, as plain tuples."""
    tables = {
        "cases": (Case, ("id", "state", "version", "definition_version", "event_seq", "head_hash", "next_check_at")),
        "events": (CaseEvent, ("case_id", "seq", "trigger")),
        "items": (CaseItem, ("case_id", "key", "done")),
        "obligations": (Obligation, ("id", "key", "unit", "closed_at")),
    }
    with app.db.read() as conn:
        return {
            name: [
                tuple(r)
                for r in conn.execute(
                    select(*(model.__table__.c[c] for c in columns)).order_by(
                        *(model.__table__.c[c] for c in columns[:2])
                    )
                )
            ]  # fmt: skip
            for name, (model, columns) in tables.items()
        }


def test_an_unmapped_state_refuses_the_whole_migration(app, new_app, cases, admin):
    before = snapshot(app)
    with pytest.raises(MigrationRefused) as refused:
        migration(new_app).migrate(ENTERPRISE, "current", actor=admin)
    assert "assigned 1 件" in refused.value.message and "--map assigned=" in refused.value.message
    assert refused.value.details["unmapped"] == {"assigned": 1}
    assert snapshot(app) == before


def test_dry_run_lists_the_moves_and_changes_nothing(app, new_app, cases, admin):
    before = snapshot(app)
    plan = migration(new_app).migrate(ENTERPRISE, "current", {"assigned": "dispatched"}, dry_run=True, actor=admin)
    moves = {(m.from_state, m.to_state): list(m.cases) for m in plan.moves}
    assert moves == {
        ("assigned", "dispatched"): [cases["assigned"]],
        ("in_progress", "in_progress"): [cases["in_progress"]],
        ("registered", "registered"): [cases["registered"]],
    }
    assert plan.total == 3 and plan.closed_left == 1 and plan.events == []
    assert snapshot(app) == before


def test_mapped_cases_move_with_one_event_each(app, new_app, cases, admin, actors):
    old = app.definitions.current(ENTERPRISE).spec.version
    new = new_app.definitions.current(ENTERPRISE).spec.version
    before = snapshot(app)
    plan = migration(new_app).migrate(ENTERPRISE, "current", {"assigned": "dispatched"}, actor=admin)
    assert sorted(plan.events) == sorted(cases[s] for s in ("registered", "assigned", "in_progress"))
    after = snapshot(app)
    assert len(after["events"]) == len(before["events"]) + 3
    for state in ("registered", "assigned", "in_progress"):
        shown = new_app.cases.show(cases[state])
        assert shown["definition_version"] == new
        assert shown["state"] == ("dispatched" if state == "assigned" else state)
        last = new_app.cases.history(cases[state])[-1]
        assert last["trigger"] == MIGRATE_TRIGGER and last["actor"] == "system"
        assert last["payload"] == {
            "from_version": old, "to_version": new, "from_state": state, "to_state": shown["state"],
            "mapping": {"assigned": "dispatched"}, "requested_by": "admin",
        }  # fmt: skip
    closed = new_app.cases.show(cases["not_accepted"])
    assert closed["definition_version"] == old
    site = new_app.cases.show(cases["clearing"])
    assert site["definition_version"] == app.definitions.current(SITE).spec.version  # another type: untouched
    # the 签收 obligation is the same in both versions: it stays open, not closed and reopened
    moved_id = next(r[0] for r in before["cases"] if r[1] == "assigned")
    open_before = [o for o in before["obligations"] if o[3] is None]
    open_after = [o for o in after["obligations"] if o[3] is None]
    assert open_after == open_before
    assert any(o[0] for o in open_after if o[1] == "accept")
    assert [r for r in after["cases"] if r[0] == moved_id][0][2] == [r for r in before["cases"] if r[0] == moved_id][0][
        2
    ] + 1
    with app.db.read() as conn:
        assert audit.verify(conn).ok
    # the moved case runs on the new rules, from the new state
    assert new_app.cases.advance(cases["assigned"], "accept", actors.power)["state"] == "in_progress"
    again = migration(new_app).migrate(ENTERPRISE, "current", actor=admin)
    assert again.total == 0 and again.already == 3


def test_back_to_a_stored_version_by_its_prefix(app, new_app, cases, admin):
    old = app.definitions.current(ENTERPRISE).spec.version
    migration(new_app).migrate(ENTERPRISE, "current", {"assigned": "dispatched"}, actor=admin)
    plan = migration(new_app).migrate(ENTERPRISE, old[:8], {"dispatched": "assigned"}, actor=admin)
    assert plan.to_version == old and plan.total == 3
    assert new_app.cases.show(cases["assigned"])["state"] == "assigned"
    with app.db.read() as conn:
        assert audit.verify(conn).ok


def test_checklist_items_the_target_lacks_refuse_the_migration(app, new_app, cases, admin):
    before = snapshot(app)
    with pytest.raises(MigrationRefused) as refused:
        migration(new_app).migrate(SITE, "current", actor=admin)
    assert "clear_equipment（清除设备） 1 件" in refused.value.message
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("case_type", "to", "mapping", "field", "needle"),
    [
        ("shop_complaint", "current", {}, "type", "未知案件类型"),
        (ENTERPRISE, "1234", {}, "to", "至少8位"),
        (ENTERPRISE, "deadbeefdeadbeef", {}, "to", "没有版本号以“deadbeefdeadbeef”开头"),
        (ENTERPRISE, "latest-version", {}, "to", "不是版本号"),
        (ENTERPRISE, "current", {"nowhere": "registered"}, "map", "没有状态“nowhere”"),
        (ENTERPRISE, "current", {"assigned": "limbo"}, "map", "没有状态“limbo”"),
    ],
)
def test_unknown_type_version_or_state_is_refused(app, new_app, cases, admin, case_type, to, mapping, field, needle):
    before = snapshot(app)
    with pytest.raises(InvalidInput) as refused:
        migration(new_app).migrate(case_type, to, mapping, actor=admin)
    assert refused.value.field == field and needle in refused.value.reason
    assert snapshot(app) == before


def test_another_types_version_is_refused(app, new_app, cases, admin):
    with pytest.raises(InvalidInput) as refused:
        migration(new_app).migrate(ENTERPRISE, app.definitions.current(SITE).spec.version[:10], actor=admin)
    assert "是 scattered_polluting 的流程定义" in refused.value.reason


def test_only_an_administrator_may_migrate(new_app, cases, actors):
    with pytest.raises(PermissionDenied):
        migration(new_app).migrate(ENTERPRISE, "current", {"assigned": "dispatched"}, actor=actors.dispatcher)


def test_the_history_labels_the_migration_event():
    from cases.views import ENGINE_TRIGGER_LABELS

    assert ENGINE_TRIGGER_LABELS[MIGRATE_TRIGGER] == "迁移流程版本"


# --- POST /api/admin/workflows/{type}/migrate -------------------------------------------------


PASSWORD = "Api-Test-2026-pass!"


def api_call(web, method: str, url: str, **kwargs) -> httpx.Response:
    """One request to the ASGI app (no server, no thread)."""

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://testserver") as client:
            return await client.request(method, url, **kwargs)

    return anyio.run(call)


def bearer(web, username: str) -> dict[str, str]:
    response = api_call(web, "POST", "/api/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_the_api_migrates_for_administrators_only(app, new_app, cases):
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    app.users.add("api_admin", "sti", ["admin"], password_hash=cheap)
    app.users.add("api_office", "sti", ["dispatcher"], password_hash=cheap)
    web = create_web_app(new_app)
    url = f"/api/admin/workflows/{ENTERPRISE}/migrate"
    admin, office = bearer(web, "api_admin"), bearer(web, "api_office")
    before = snapshot(app)

    refused = api_call(web, "POST", url, json={"to": "current"}, headers=admin)
    assert refused.status_code == 409 and refused.json()["error"] == "migration_refused"
    assert refused.json()["details"]["unmapped"] == {"assigned": 1}
    denied = api_call(web, "POST", url, json={"to": "current", "map": {"assigned": "dispatched"}}, headers=office)
    assert denied.status_code == 403
    bad = api_call(web, "POST", url, json={"to": "current", "map": {"assigned": "limbo"}}, headers=admin)
    assert bad.status_code == 422 and "limbo" in bad.json()["message"]
    dry = api_call(
        web, "POST", url, json={"to": "current", "map": {"assigned": "dispatched"}, "dry_run": True}, headers=admin
    )
    assert dry.status_code == 200 and dry.json()["total"] == 3 and dry.json()["migrated"] == []
    assert snapshot(app) == before

    done = api_call(web, "POST", url, json={"to": "current", "map": {"assigned": "dispatched"}}, headers=admin)
    assert done.status_code == 200, done.text
    assert sorted(done.json()["migrated"]) == sorted(cases[s] for s in ("registered", "assigned", "in_progress"))
    assert done.json()["requested_by"] == "api_admin"
    assert new_app.cases.show(cases["assigned"])["state"] == "dispatched"
    with app.db.read() as conn:
        assert audit.verify(conn).ok
