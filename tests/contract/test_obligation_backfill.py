"""Upgrading a database of the previous release (schema 0010, no obligations): ``caseflow init``
(``App.migrate``) gives every open case the obligations its state owes under the new rules, and
leaves the history and its hash chains as they were. On SQLite and PostgreSQL.

The previous release's database is made here by walking cases into every state with today's
code, then going back to revision 0010 (which drops the obligations and the shown level).
"""

from alembic import command
from helpers import new_enterprise_case, new_site_case, walk_enterprise_to, walk_site_to

from cases import audit, migrate

ENTERPRISE_STATES = ("registered", "assigned", "in_progress", "extension_requested", "answered", "follow_up",
                     "closed", "not_accepted")  # fmt: skip
SITE_STATES = {"reported": "ban", "verifying": "ban", "clearing": "ban", "rectifying": "rectify",
               "acceptance": "ban", "closed": "ban", "revisit_due": "ban", "archived": "ban", "dismissed": "ban"}  # fmt: skip


def open_obligations(app, number: str) -> set[tuple[str, str, str | None]]:
    """(key, unit, due date of those that follow the case's clock) of the open obligations."""
    return {
        (o["key"], o["unit"], o["due_date"] if o["kind"] == "state" and o["due_date"] == app.cases.show(number)["due_date"] else None)
        for o in app.cases.show(number)["obligations"]
        if o["open"]
    }


def test_upgrading_gives_open_cases_their_obligations_and_keeps_the_chain(app, actors):
    numbers = []
    for state in ENTERPRISE_STATES:
        number = new_enterprise_case(app, title=f"问题·{state}")["number"]
        walk_enterprise_to(app, number, state)
        numbers.append(number)
    for state, category in SITE_STATES.items():
        number = new_site_case(app, site_name=f"场所·{state}")["number"]
        walk_site_to(app, number, state, category)
        numbers.append(number)
    expected = {n: open_obligations(app, n) for n in numbers}
    levels = {n: app.cases.show(n)["supervision"] for n in numbers}
    assert sum(1 for owed in expected.values() if owed) >= 10, "most states owe something"
    history = {n: app.cases.history(n) for n in numbers}

    config = migrate._config()
    with app.db.engine.connect() as conn:  # back to the previous release's schema
        config.attributes["connection"] = conn
        command.downgrade(config, "0010")
        conn.commit()
    assert not migrate.is_current(app.db)

    app.migrate()  # what `caseflow init` does
    assert {n: open_obligations(app, n) for n in numbers} == expected
    assert {n: app.cases.show(n)["supervision"] for n in numbers} == levels
    assert {n: app.cases.history(n) for n in numbers} == history
    with app.db.read() as conn:
        assert audit.verify(conn).ok
    assert app.cases.backfill_obligations() == 0  # once is enough
    # and the units' 待办 follow: every open obligation a unit can act on is on its list
    for number, owed in expected.items():
        for key, unit, _ in owed:
            o = next(o for o in app.cases.show(number)["obligations"] if o["open"] and (o["key"], o["unit"]) == (key, unit))
            if o["ready"] and unit == "power":
                assert (number, key) in {(e["number"], e["key"]) for e in app.cases.todo(actors.power)["items"]}
