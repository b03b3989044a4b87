"""The audit chain: ``cases.audit.verify`` holds after real walks; the database refuses UPDATE and
DELETE of events; and once a DBA drops that protection, every kind of tampering is detected and
named by case number and seq."""

from datetime import timedelta

import pytest
from helpers import new_enterprise_case, new_site_case, walk_enterprise_to, walk_site_to
from sqlalchemy import delete, exc, select, text, update

from cases import audit
from cases.models import Case, CaseEvent

EVENTS = CaseEvent.__table__
CASES = Case.__table__


@pytest.fixture
def walked(app, actors):
    """Three cases with histories: QY-00001 closed (6 events), QY-00002 in follow_up (5 events),
    SLW-00001 archived. Tampering targets QY-00002: the first case must still verify."""
    first = new_enterprise_case(app)["number"]
    walk_enterprise_to(app, first, "closed")
    target = new_enterprise_case(app, actors.collector)["number"]
    app.cases.advance(target, "assign", actors.dispatcher, {"lead_unit": "power"}, comment="请签收")
    walk_enterprise_to(app, target, "follow_up")
    site = new_site_case(app)["number"]
    walk_site_to(app, site, "archived")
    return {"first": first, "target": target, "site": site}


def verify(app):
    with app.db.read() as conn:
        return audit.verify(conn)


def event_id(app, number, seq):
    with app.db.read() as conn:
        case_id = conn.execute(select(CASES.c.id).where(CASES.c.number == number)).scalar_one()
        return conn.execute(select(EVENTS.c.id).where(EVENTS.c.case_id == case_id, EVENTS.c.seq == seq)).scalar_one()


def drop_protection(app):
    """What a DBA with full rights could do: remove the append-only triggers."""
    with app.db.write() as conn:
        if app.db.is_sqlite:
            conn.execute(text("DROP TRIGGER case_event_no_update"))
            conn.execute(text("DROP TRIGGER case_event_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER case_event_append_only ON case_event"))


def test_chains_verify_after_walks(app, walked):
    result = verify(app)
    assert result.ok and result.first_break is None
    events = sum(len(app.cases.history(n)) for n in walked.values())
    assert (result.cases, result.events) == (3, events)
    assert len(app.cases.history(walked["target"])) == 5


def test_empty_database_verifies(app):
    result = verify(app)
    assert result.ok and (result.cases, result.events) == (0, 0)


def test_database_refuses_update_and_delete_of_events(app, walked):
    target = event_id(app, walked["target"], 2)
    before = app.cases.history(walked["target"])
    with pytest.raises(exc.DBAPIError, match="append-only"), app.db.write() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.id == target).values(actor="intruder"))
    with pytest.raises(exc.DBAPIError, match="append-only"), app.db.write() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.id == target))
    with pytest.raises(exc.DBAPIError, match="append-only"), app.db.write() as conn:
        conn.execute(delete(EVENTS))
    assert app.cases.history(walked["target"]) == before
    assert verify(app).ok


def _history_values(app, number, seq):
    with app.db.read() as conn:
        case_id = conn.execute(select(CASES.c.id).where(CASES.c.number == number)).scalar_one()
        return conn.execute(select(EVENTS).where(EVENTS.c.case_id == case_id, EVENTS.c.seq == seq)).one()


# seq 2 of the target is `assign` by the dispatcher, from registered to assigned, with a comment
TAMPERED = {
    "actor": lambda e: "power",
    "at": lambda e: e.at + timedelta(seconds=1),
    "trigger": lambda e: "decline",
    "from_state": lambda e: "assigned",
    "to_state": lambda e: "not_accepted",
    "comment": lambda e: "请签收。",
    "payload": lambda e: {**e.payload, "fields": {**e.payload["fields"], "lead_unit": "water"}},
    "hash": lambda e: "f" * 64,
    "prev_hash": lambda e: "0" * 64 if e.prev_hash != "0" * 64 else "1" * 64,
}


@pytest.mark.parametrize("column", list(TAMPERED))
def test_changed_column_is_detected(app, walked, column):
    drop_protection(app)
    assert verify(app).ok
    original = _history_values(app, walked["target"], 2)
    assert original.trigger == "assign" and original.comment == "请签收"
    new_value = TAMPERED[column](original)
    assert new_value != getattr(original, column)
    with app.db.write() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.id == original.id).values({column: new_value}))
    result = verify(app)
    assert not result.ok
    assert (result.first_break.case, result.first_break.seq) == (walked["target"], 2)
    assert result.first_break.reason
    assert result.cases == 1  # the first case was checked and held


def test_changed_last_event_is_detected(app, walked):
    drop_protection(app)
    last = len(app.cases.history(walked["target"]))
    with app.db.write() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.id == event_id(app, walked["target"], last)).values(comment="改"))
    result = verify(app)
    assert (result.first_break.case, result.first_break.seq) == (walked["target"], last)


def test_deleted_middle_event_is_detected(app, walked):
    drop_protection(app)
    with app.db.write() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.id == event_id(app, walked["target"], 3)))
    result = verify(app)
    assert (result.first_break.case, result.first_break.seq) == (walked["target"], 3)


def test_deleted_last_event_is_detected(app, walked):
    drop_protection(app)
    last = len(app.cases.history(walked["target"]))
    with app.db.write() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.id == event_id(app, walked["target"], last)))
    result = verify(app)
    assert (result.first_break.case, result.first_break.seq) == (walked["target"], last)


def test_deleted_first_event_is_detected(app, walked):
    drop_protection(app)
    with app.db.write() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.id == event_id(app, walked["target"], 1)))
    result = verify(app)
    assert (result.first_break.case, result.first_break.seq) == (walked["target"], 1)


def test_swapped_seq_of_two_events_is_detected(app, walked):
    drop_protection(app)
    second, third = event_id(app, walked["target"], 2), event_id(app, walked["target"], 3)
    with app.db.write() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.id == second).values(seq=-2))
        conn.execute(update(EVENTS).where(EVENTS.c.id == third).values(seq=2))
        conn.execute(update(EVENTS).where(EVENTS.c.id == second).values(seq=3))
    assert [e["trigger"] for e in app.cases.history(walked["target"])][1:3] == ["accept", "assign"]
    result = verify(app)
    assert (result.first_break.case, result.first_break.seq) == (walked["target"], 2)


def test_rewritten_case_head_is_detected(app, walked):
    """A deleted last event with the case's head moved back is still caught by the last hash."""
    drop_protection(app)
    last = len(app.cases.history(walked["target"]))
    with app.db.write() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.id == event_id(app, walked["target"], last)))
        conn.execute(update(CASES).where(CASES.c.number == walked["target"]).values(event_seq=last - 1))
    result = verify(app)
    assert (result.first_break.case, result.first_break.seq) == (walked["target"], last)


def test_tampering_in_a_later_case_names_that_case(app, walked):
    drop_protection(app)
    with app.db.write() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.id == event_id(app, walked["site"], 4)).values(actor="nobody"))
    result = verify(app)
    assert (result.first_break.case, result.first_break.seq) == (walked["site"], 4)
    assert result.cases == 2
