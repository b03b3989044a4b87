"""Periods, the assessment's score and its 红黑榜 (``cases.figures``, ``cases.assessment``), on
figures written by hand."""

from datetime import date, datetime
from pathlib import Path

import pytest

from cases.assessment import Weights, assess, load_weights, score
from cases.figures import UnitFigures, parse_period
from workflow.clock import SHANGHAI
from workflow.errors import DefinitionError, InvalidInput
from workflow.org import load_organisation

CONFIG = Path(__file__).resolve().parents[2] / "config"
WEIGHTS = load_weights(CONFIG / "assessment.yaml")
ORG = load_organisation(CONFIG / "departments.yaml")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("text", "first", "after", "label"),
    [
        ("2026-W49", date(2026, 11, 30), date(2026, 12, 7), "2026年第49周"),
        ("2026-10", date(2026, 10, 1), date(2026, 11, 1), "2026年10月"),
        ("2026-12", date(2026, 12, 1), date(2027, 1, 1), "2026年12月"),
        ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1), "2026年第四季度"),
        ("2026-Q1", date(2026, 1, 1), date(2026, 4, 1), "2026年第一季度"),
        ("2026", date(2026, 1, 1), date(2027, 1, 1), "2026年"),
        ("2026-09-14~2026-12-06", date(2026, 9, 14), date(2026, 12, 7), "2026年9月14日至2026年12月6日"),
    ],
)
def test_periods(text: str, first: date, after: date, label: str) -> None:
    period = parse_period(text)
    assert (period.first, period.after, period.label) == (first, after, label)


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-W54", "2026-Q5", "26", "2026-1", "", "2026/10", "1999", "2026-02-30~2026-03-01",
             "2026-12-06~2026-09-14"],
)  # fmt: skip
def test_bad_periods_are_refused_in_chinese(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_period(text)
    assert info.value.field == "period"
    assert any(words in info.value.reason for words in ("2026-W49", "超出范围", "不早于"))


def test_the_default_weights_are_domain_9s() -> None:
    assert WEIGHTS.rates == {"on_time_accept_rate": 15, "on_time_rate": 35, "satisfaction_rate": 25,
                             "no_return_rate": 10, "no_rework_rate": 15}  # fmt: skip
    assert WEIGHTS.deductions == {"overdue_open": 2, "supervised": 3, "listed": 5}


def test_score_weights_the_rates_it_has_and_deducts() -> None:
    full = UnitFigures("power", accepted=4, accepted_on_time=4, done=10, done_on_time=10, completed=4,
                       rated=2, satisfied=2)  # fmt: skip
    assert score(full, WEIGHTS) == 100.0
    half = UnitFigures("power", accepted=2, accepted_on_time=1, done=5, done_on_time=4, completed=2, reworks=1,
                       rated=1, satisfied=1)  # fmt: skip
    # (15×0.5 + 35×0.8 + 25×1 + 10×1 + 15×0.5) = 78
    assert score(half, WEIGHTS) == 78.0
    half.overdue_open, half.supervised, half.listed = 1, 1, 1
    # the one still overdue also counts against 按期办结率 (4 of 5 + 1): 15×0.5 + 35×4/6 + 25 + 10 + 7.5
    assert score(half, WEIGHTS) == round(7.5 + 35 * 4 / 6 + 25 + 10 + 7.5 - 2 - 3 - 5, 1)
    only_done = UnitFigures("water", done=2, done_on_time=1)  # rates it lacks are left out
    assert score(only_done, WEIGHTS) == 50.0
    assert score(UnitFigures("gas"), WEIGHTS) is None  # nothing to count: "—", not ranked
    assert score(UnitFigures("gas", overdue_open=3), WEIGHTS) == 0.0  # owes, did nothing: from 0
    assert score(UnitFigures("gas", done=1, done_on_time=0, listed=40), WEIGHTS) == 0.0  # never below 0


def test_ranks_share_ties_and_the_boards_never_hold_a_tie_with_the_other_end() -> None:
    figures = {
        "power": UnitFigures("power", done=1, done_on_time=1),
        "water": UnitFigures("water", done=1, done_on_time=1),
        "gas": UnitFigures("gas", done=2, done_on_time=1),
        "drc": UnitFigures("drc", done=4, done_on_time=1),
        "ecology": UnitFigures("ecology"),
    }
    result = assess(figures, WEIGHTS, ORG, parse_period("2026-W49"), NOW)
    ranks = {r["unit"]: r["rank"] for r in result["rows"]}
    assert ranks == {"power": 1, "water": 1, "gas": 3, "drc": 4, "ecology": None}
    assert result["rows"][-1]["unit"] == "ecology" and result["rows"][-1]["score"] is None
    assert result["red"] == ["water", "power"] and result["black"] == ["drc", "gas"]  # ties by name
    alike = {u: UnitFigures(u, done=1, done_on_time=1) for u in ("power", "water", "gas")}
    same = assess(alike, WEIGHTS, ORG, parse_period("2026-W49"), NOW)
    assert (same["red"], same["black"]) == ([], [])


def test_broken_weights_name_their_key(tmp_path: Path) -> None:
    for text, key in (
        ("weights: {on_time_rate: -1}", "weights.on_time_rate"),
        ("weights: {speed: 3}", "weights.speed"),
        ("weights: {on_time_rate: 0}", "weights"),
        ("weights: {on_time_rate: 1}\nboard_size: 0", "board_size"),
        ("colours: red", "colours"),
    ):
        path = tmp_path / "assessment.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DefinitionError) as info:
            load_weights(path)
        assert info.value.key == key, text
    assert isinstance(WEIGHTS, Weights)
