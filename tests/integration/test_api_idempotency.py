"""``Idempotency-Key`` on POST: a retried request returns the first result (same status and body,
``Idempotent-Replayed: true``) and acts once; a key reused on another path or with another body
is 422; a refused first attempt frees the key for a corrected retry; keys are per user; a
reservation left "in progress" by a request that died expires."""

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta

import api_support
import pytest
from api_support import ApiClient, ApiEnv, count, error_of
from helpers import enterprise_fields, site_fields, standard_actors, tiny_png, walk_enterprise_to, walk_site_to
from sqlalchemy import insert

from cases.models import Case, EvidenceFile, IdempotentRequest
from web.api.deps import RESERVATION_TTL, request_fingerprint
from web.api.schemas import CaseCreate
from workflow.clock import FixedClock

api_env = api_support.api_env
"""The module-scoped served app, once per database (``api_support``)."""
E, S = "enterprise_issue", "scattered_polluting"


@pytest.fixture(scope="module")
def office(api_env: ApiEnv) -> ApiClient:
    return api_env.client("idem_office", "sti", ("dispatcher", "collector"))


@pytest.fixture(scope="module")
def power(api_env: ApiEnv) -> ApiClient:
    return api_env.client("idem_power", "power", ("handler",))


def key() -> str:
    return f"retry-{uuid.uuid4()}"


def history_length(api_env: ApiEnv, number: str) -> int:
    return len(api_env.app.cases.history(number))


def test_create_twice_with_one_key_registers_once(api_env: ApiEnv, office: ApiClient) -> None:
    k = key()
    before = count(api_env.app, Case)
    body = {"type": E, "fields": enterprise_fields(title="幂等登记")}
    first = office.post("/api/cases", json=body, headers={"Idempotency-Key": k})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    second = office.post("/api/cases", json=body, headers={"Idempotency-Key": k})
    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert count(api_env.app, Case) == before + 1
    # without a key (or with another key) the same body registers again
    third = office.post("/api/cases", json=body, headers={"Idempotency-Key": key()})
    assert third.status_code == 201 and third.json()["number"] != first.json()["number"]
    assert count(api_env.app, Case) == before + 2


def test_an_action_retried_with_its_key_acts_once(api_env: ApiEnv, office: ApiClient, power: ApiClient) -> None:
    app = api_env.app
    number = app.cases.create(E, standard_actors(app).dispatcher, enterprise_fields())["number"]
    walk_enterprise_to(app, number, "assigned")
    k = key()
    events = history_length(api_env, number)
    first = power.act(number, "accept", key=k)
    assert first.status_code == 200, first.text
    second = power.act(number, "accept", key=k)
    assert second.status_code == 200, second.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert history_length(api_env, number) == events + 1
    assert app.cases.show(number)["version"] == first.json()["version"]
    # the same retry after the case has moved on still returns the first result, acting on nothing
    assert office.act(number, "reassign", {"lead_unit": "water", "reason": "改派"}).status_code == 200
    third = power.act(number, "accept", key=k)
    assert third.status_code == 200 and third.json() == first.json()
    assert history_length(api_env, number) == events + 2


def test_an_item_upload_retried_with_its_key_acts_once(api_env: ApiEnv) -> None:
    app = api_env.app
    number = str(app.cases.create(S, standard_actors(app).dispatcher, site_fields())["number"])
    walk_site_to(app, number, "clearing")
    water = api_env.client("idem_water", "water", ("handler",))
    k = key()
    events, files = history_length(api_env, number), count(app, EvidenceFile)
    upload = [("断水.png", tiny_png(55), "image/png")]
    first = water.item(number, "cut_water", files=upload, key=k)
    assert first.status_code == 200, first.text
    second = water.item(number, "cut_water", files=upload, key=k)
    assert second.status_code == 200, second.text
    assert second.headers["idempotent-replayed"] == "true" and second.json() == first.json()
    assert history_length(api_env, number) == events + 1
    assert count(app, EvidenceFile) == files + 1


def test_a_key_reused_on_another_path_is_422(api_env: ApiEnv, office: ApiClient) -> None:
    app = api_env.app
    k = key()
    created = office.post("/api/cases", json={"type": E, "fields": enterprise_fields()}, headers={"Idempotency-Key": k})
    assert created.status_code == 201
    number = created.json()["number"]
    events, cases = history_length(api_env, number), count(app, Case)
    body = error_of(office.act(number, "assign", {"lead_unit": "power"}, key=k), 422, "invalid_input")
    assert set(body["details"]["fields"]) == {"Idempotency-Key"}
    assert history_length(api_env, number) == events and count(app, Case) == cases
    assert app.cases.show(number)["state"] == "registered"
    # the key still replays on its own path
    again = office.post("/api/cases", json={"type": E, "fields": enterprise_fields()}, headers={"Idempotency-Key": k})
    assert again.status_code == 201 and again.json() == created.json()
    # and another case's action path is another path too
    other = office.post("/api/cases", json={"type": E, "fields": enterprise_fields()}).json()["number"]
    k2 = key()
    assert office.act(number, "assign", {"lead_unit": "power"}, key=k2).status_code == 200
    error_of(office.act(other, "assign", {"lead_unit": "power"}, key=k2), 422, "invalid_input")
    assert app.cases.show(other)["state"] == "registered"


def test_a_refused_first_attempt_lets_a_corrected_retry_act(api_env: ApiEnv, office: ApiClient) -> None:
    app = api_env.app
    number = app.cases.create(E, standard_actors(app).dispatcher, enterprise_fields())["number"]
    k = key()
    events = history_length(api_env, number)
    error_of(office.act(number, "assign", {}, key=k), 422, "invalid_input")  # lead unit missing
    error_of(office.act(number, "assign", {"lead_unit": "power"}, expected_version=7, key=k), 409, "version_conflict")
    assert history_length(api_env, number) == events
    fixed = office.act(number, "assign", {"lead_unit": "power"}, key=k)
    assert fixed.status_code == 200, fixed.text
    assert "idempotent-replayed" not in fixed.headers
    assert fixed.json()["state"] == "assigned"
    replay = office.act(number, "assign", {"lead_unit": "power"}, key=k)
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == fixed.json()
    assert history_length(api_env, number) == events + 1
    # a refused create frees its key as well
    k3 = key()
    error_of(
        office.post("/api/cases", json={"type": E, "fields": {}}, headers={"Idempotency-Key": k3}), 422, "invalid_input"
    )
    ok = office.post("/api/cases", json={"type": E, "fields": enterprise_fields()}, headers={"Idempotency-Key": k3})
    assert ok.status_code == 201 and "idempotent-replayed" not in ok.headers


def test_keys_are_per_user(api_env: ApiEnv, office: ApiClient) -> None:
    """Another user's request with the same key acts for that user, and never sees the first
    user's response."""
    app = api_env.app
    other = api_env.client("idem_office2", "sti", ("dispatcher",))
    k = key()
    mine = office.post(
        "/api/cases", json={"type": E, "fields": enterprise_fields(title="甲")}, headers={"Idempotency-Key": k}
    )
    theirs = other.post(
        "/api/cases", json={"type": E, "fields": enterprise_fields(title="乙")}, headers={"Idempotency-Key": k}
    )
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["number"] != mine.json()["number"] and theirs.json()["title"] == "乙"
    assert app.cases.show(theirs.json()["number"])["created_by"] == other.username


def test_a_blank_key_is_422(api_env: ApiEnv, office: ApiClient) -> None:
    before = count(api_env.app, Case)
    body = error_of(
        office.post("/api/cases", json={"type": E, "fields": enterprise_fields()}, headers={"Idempotency-Key": ""}),
        422,
        "invalid_input",
    )
    assert set(body["details"]["fields"]) == {"Idempotency-Key"}
    assert count(api_env.app, Case) == before


# --- one key, one request ------------------------------------------------------------------------


def test_a_key_reused_with_another_body_is_422_and_acts_on_nothing(api_env: ApiEnv, office: ApiClient) -> None:
    app = api_env.app
    k = key()
    body = {"type": E, "fields": enterprise_fields(title="第一次的内容")}
    first = office.post("/api/cases", json=body, headers={"Idempotency-Key": k})
    assert first.status_code == 201
    cases = count(app, Case)
    other = {"type": E, "fields": enterprise_fields(title="换了内容")}
    refused = error_of(office.post("/api/cases", json=other, headers={"Idempotency-Key": k}), 422, "invalid_input")
    assert set(refused["details"]["fields"]) == {"Idempotency-Key"}
    assert "内容不同" in refused["details"]["fields"]["Idempotency-Key"]
    assert count(app, Case) == cases
    # the same request, written differently (other key order, other spacing), is the same request
    same = json.dumps({"fields": dict(reversed(list(body["fields"].items()))), "type": E}, ensure_ascii=False, indent=1)
    again = office.post(
        "/api/cases", content=same.encode(), headers={"Idempotency-Key": k, "Content-Type": "application/json"}
    )
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and count(app, Case) == cases

    # an action: another comment or other fields are another request
    number = first.json()["number"]
    k2 = key()
    assert office.act(number, "assign", {"lead_unit": "power"}, key=k2).status_code == 200
    events = history_length(api_env, number)
    error_of(office.act(number, "assign", {"lead_unit": "water"}, key=k2), 422, "invalid_input")
    error_of(office.act(number, "assign", {"lead_unit": "power"}, comment="补充说明", key=k2), 422, "invalid_input")
    assert history_length(api_env, number) == events
    assert office.act(number, "assign", {"lead_unit": "power"}, key=k2).headers["idempotent-replayed"] == "true"


def test_an_upload_retried_with_other_files_is_422(api_env: ApiEnv) -> None:
    app = api_env.app
    number = str(app.cases.create(S, standard_actors(app).dispatcher, site_fields())["number"])
    walk_site_to(app, number, "clearing")
    water = api_env.client("idem_water", "water", ("handler",))
    k = key()
    assert water.item(number, "cut_water", files=[("断水.png", tiny_png(61), "image/png")], key=k).status_code == 200
    events, files = history_length(api_env, number), count(app, EvidenceFile)
    other = water.item(number, "cut_water", files=[("断水.png", tiny_png(62), "image/png")], key=k)
    assert set(error_of(other, 422, "invalid_input")["details"]["fields"]) == {"Idempotency-Key"}
    assert (history_length(api_env, number), count(app, EvidenceFile)) == (events, files)
    # the same file again (a new multipart boundary) is the same request: replayed
    same = water.item(number, "cut_water", files=[("断水.png", tiny_png(61), "image/png")], key=k)
    assert same.status_code == 200 and same.headers["idempotent-replayed"] == "true"


@pytest.fixture
def moved_clock(api_env: ApiEnv) -> Iterator[FixedClock]:
    """The module's clock, put back where it was after the test."""
    at = api_env.clock.now()
    try:
        yield api_env.clock
    finally:
        api_env.clock.set(at)


def test_a_reservation_left_by_a_request_that_died_expires(
    api_env: ApiEnv, office: ApiClient, moved_clock: FixedClock
) -> None:
    """A process that crashed between reserving the key and storing the response leaves the key
    "in progress": retries get 409 until ``RESERVATION_TTL`` has passed, then one acts."""
    app = api_env.app
    k = key()
    body = {"type": E, "fields": enterprise_fields(title="崩溃后重试")}
    with app.db.write() as conn:  # what the crashed request had written: the reservation only
        conn.execute(
            insert(IdempotentRequest.__table__).values(
                key=k, username=office.username, method="POST", path="/api/cases", status_code=0, body="",
                created_at=moved_clock.now(),
                fingerprint=request_fingerprint("POST", "/api/cases", CaseCreate(**body).model_dump(mode="json")),
            )
        )  # fmt: skip
    cases = count(app, Case)
    error_of(office.post("/api/cases", json=body, headers={"Idempotency-Key": k}), 409, "request_in_progress")
    moved_clock.advance(RESERVATION_TTL - timedelta(seconds=1))
    error_of(office.post("/api/cases", json=body, headers={"Idempotency-Key": k}), 409, "request_in_progress")
    other = {"type": E, "fields": enterprise_fields(title="别的内容")}
    error_of(office.post("/api/cases", json=other, headers={"Idempotency-Key": k}), 422, "invalid_input")
    assert count(app, Case) == cases

    moved_clock.advance(timedelta(seconds=1))
    taken = office.post("/api/cases", json=body, headers={"Idempotency-Key": k})
    assert taken.status_code == 201, taken.text
    assert "idempotent-replayed" not in taken.headers and taken.json()["title"] == "崩溃后重试"
    assert count(app, Case) == cases + 1
    replay = office.post("/api/cases", json=body, headers={"Idempotency-Key": k})
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == taken.json()
    assert count(app, Case) == cases + 1
