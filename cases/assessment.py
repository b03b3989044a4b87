"""考核 (assessment): a score per unit for a period from its figures (``cases.figures``), with
weights from ``config/assessment.yaml``, ranked, with a 红黑榜 (the top and bottom units).

A unit with nothing to count in the period is shown with "—" and not ranked (DOMAIN.md §9); one
that discharged nothing but owes overdue obligations scores from 0 (the deductions only).
Figures are ``cases.figures``'s; documents and pages are the callers'.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cases.figures import Period, UnitFigures
from workflow.errors import DefinitionError
from workflow.org import Organisation
from workflow.yamlfile import load_text

RATES = {
    "on_time_accept_rate": "按时签收率",
    "on_time_rate": "按期办结率",
    "satisfaction_rate": "满意率",
    "no_return_rate": "1−退回率",
    "no_rework_rate": "1−重办率",
}
DEDUCTIONS = {"overdue_open": "超期未办", "supervised": "督办", "listed": "挂牌督办"}


@dataclass(frozen=True)
class Weights:
    rates: Mapping[str, float]
    deductions: Mapping[str, float]
    board_size: int = 3


def load_weights(path: Path) -> Weights:
    """The weights of ``path``; a ``DefinitionError`` names the key that is wrong."""
    file = str(path)
    data = load_text(path.read_text(encoding="utf-8"), file)
    if not isinstance(data, dict):
        raise DefinitionError(file, "(document)", "expected a mapping")
    extra = set(data) - {"weights", "deductions", "board_size"}
    if extra:
        raise DefinitionError(file, sorted(extra)[0], "unknown key; allowed: weights, deductions, board_size")

    def numbers(name: str, known: Mapping[str, str]) -> dict[str, float]:
        raw = data.get(name) or {}
        if not isinstance(raw, dict):
            raise DefinitionError(file, name, "expected a mapping")
        result = {}
        for key, value in raw.items():
            if key not in known:
                raise DefinitionError(file, f"{name}.{key}", f"unknown; known: {', '.join(known)}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise DefinitionError(file, f"{name}.{key}", f"expected a number ≥ 0, got {value!r}")
            result[key] = float(value)
        return result

    rates = numbers("weights", RATES)
    if not any(rates.values()):
        raise DefinitionError(file, "weights", "at least one weight must be above 0")
    size = data.get("board_size", 3)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 20:
        raise DefinitionError(file, "board_size", f"expected a whole number from 1 to 20, got {size!r}")
    return Weights(rates, numbers("deductions", DEDUCTIONS), size)


def _rates(f: UnitFigures) -> dict[str, float | None]:
    return {
        "on_time_accept_rate": f.on_time_accept_rate,
        "on_time_rate": f.on_time_rate,
        "satisfaction_rate": f.satisfaction_rate,
        "no_return_rate": None if f.return_rate is None else 1 - f.return_rate,
        "no_rework_rate": None if f.rework_rate is None else 1 - f.rework_rate,
    }


def score(f: UnitFigures, weights: Weights) -> float | None:
    """The unit's score out of 100, or None when there is nothing to count."""
    if not f.counted:
        return None
    rates = _rates(f)
    used = {k: w for k, w in weights.rates.items() if w and rates.get(k) is not None}
    # a unit that discharged nothing but owes overdue obligations starts from 0
    base = 100 * sum(w * (rates[k] or 0.0) for k, w in used.items()) / sum(used.values()) if used else 0.0
    minus = sum(weights.deductions.get(k, 0.0) * getattr(f, k) for k in DEDUCTIONS)
    return round(max(0.0, base - minus), 1)


def assess(
    figures: Mapping[str, UnitFigures], weights: Weights, org: Organisation, period: Period, now: datetime
) -> dict[str, Any]:
    """The scores of every unit, ranked (highest first), and the 红黑榜."""
    rows = []
    for unit, f in figures.items():
        points = score(f, weights)
        rows.append({
            "unit": unit, "unit_name": org.name(unit), "score": points, "figures": f.to_dict(),
            "rates": _rates(f), "deductions": {k: getattr(f, k) for k in DEDUCTIONS},
        })  # fmt: skip
    ranked = sorted((r for r in rows if r["score"] is not None), key=lambda r: (-r["score"], r["unit_name"]))
    for index, row in enumerate(ranked):  # equal scores share a rank (1, 2, 2, 4)
        row["rank"] = ranked[index - 1]["rank"] if index and ranked[index - 1]["score"] == row["score"] else index + 1
    unranked = sorted((r for r in rows if r["score"] is None), key=lambda r: r["unit_name"])
    for row in unranked:
        row["rank"] = None
    size = min(weights.board_size, len(ranked) // 2) if len(ranked) > 1 else 0
    # a unit tied with the other end of the list is on neither board (all equal: no 红黑榜)
    lowest, highest = (ranked[-1]["score"], ranked[0]["score"]) if ranked else (None, None)
    red = [r["unit"] for r in ranked[:size] if r["score"] != lowest]
    black = [r["unit"] for r in ranked[::-1][:size] if r["score"] != highest]
    return {
        "period": period.text,
        "period_label": period.label,
        "from": period.first.isoformat(),
        "to": (period.after.fromordinal(period.after.toordinal() - 1)).isoformat(),
        "as_of": min(now, period.end).isoformat(),
        "weights": dict(weights.rates),
        "deductions": dict(weights.deductions),
        "rows": ranked + unranked,
        "red": red,
        "black": black,
    }
