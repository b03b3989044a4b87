"""认定 with the town's and the 生态环境分局's views (DOMAIN.md §9): both hand in their view while the
site is verified, the office owes 认定 once both are in (it may classify earlier), and the case
and the classify/dismiss events carry both views; on SQLite and PostgreSQL.
"""

import pytest
from helpers import new_site_case, photo

from workflow.errors import InvalidInput, PermissionDenied


def open_obligations(app, number):
    return sorted((o["key"], o["unit"], o["due_date"]) for o in app.cases.show(number)["obligations"] if o["open"])


@pytest.fixture
def verifying(app, actors):
    number = new_site_case(app, actors.kongcheng)["number"]
    app.cases.advance(number, "start_verification", actors.kongcheng)
    return number


def test_both_views_are_owed_then_the_office_owes_the_classification(app, actors, verifying):
    a, number = actors, verifying
    assert open_obligations(app, number) == [
        ("ecology_view", "ecology", "2026-10-13"),
        ("verify", "kongcheng", "2026-10-13"),
    ]
    assert "submit_ecology_view" in app.cases.show(number, a.ecology)["allowed_triggers"]
    assert (number, "ecology_view") in {(e["number"], e["key"]) for e in app.cases.todo(a.ecology)["items"]}
    app.cases.advance(number, "submit_findings", a.kongcheng, {"notes": "无证生产，有喷漆废气"}, evidence=[photo(1)])
    assert open_obligations(app, number) == [("ecology_view", "ecology", "2026-10-13")]  # 认定 waits for both
    view = app.cases.advance(number, "submit_ecology_view", a.ecology, {"notes": "废气直排，建议取缔"})
    assert open_obligations(app, number) == [("classify", "sti", "2026-10-09")]
    opinions = {o["key"]: o for o in view["opinions"]}
    assert opinions["findings"]["label"] == "属地核查意见"
    assert (opinions["findings"]["text"], opinions["findings"]["by"], opinions["findings"]["unit_name"]) == (
        "无证生产，有喷漆废气", "kongcheng", "孔城镇",
    )  # fmt: skip
    assert opinions["findings"]["at"] == "2026-09-30T10:00:00+08:00" and len(opinions["findings"]["evidence"]) == 1
    assert (opinions["ecology_view"]["label"], opinions["ecology_view"]["text"]) == (
        "生态环境分局意见",
        "废气直排，建议取缔",
    )

    app.cases.advance(number, "classify_ban", a.dispatcher, {"plan": "依法取缔"})
    event = app.cases.history(number)[-1]
    assert event["trigger"] == "classify_ban"
    views = event["payload"]["views"]
    assert views["findings"]["text"] == "无证生产，有喷漆废气" and views["findings"]["by"] == "kongcheng"
    assert views["ecology_view"]["text"] == "废气直排，建议取缔" and views["ecology_view"]["unit"] == "ecology"
    assert {o["key"]: o["given"] for o in app.cases.show(number)["opinions"]} == {
        "findings": True,
        "ecology_view": True,
    }


def test_the_office_may_classify_before_the_ecology_view_and_the_event_says_it_was_missing(app, actors, verifying):
    a, number = actors, verifying
    app.cases.advance(number, "submit_findings", a.kongcheng, {"notes": "经核查为合法经营户"})
    app.cases.advance(number, "dismiss", a.dispatcher, {"reason": "持证经营，不属于散乱污"})
    event = app.cases.history(number)[-1]
    assert event["payload"]["views"]["ecology_view"] is None
    assert event["payload"]["views"]["findings"]["text"] == "经核查为合法经营户"
    closed = {o["key"]: o for o in app.cases.show(number)["obligations"] if not o["open"]}
    assert closed["ecology_view"]["outcome"] == "withdrawn"


def test_only_the_ecology_bureau_hands_in_its_view_with_text(app, actors, verifying):
    with pytest.raises(PermissionDenied, match="只能由市生态环境分局的经办人/联络员执行"):
        app.cases.advance(verifying, "submit_ecology_view", actors.kongcheng, {"notes": "意见"})
    with pytest.raises(InvalidInput, match="notes"):
        app.cases.advance(verifying, "submit_ecology_view", actors.ecology, {})
