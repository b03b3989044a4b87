"""The figures, the assessment and the obligations behind each figure, each in one read
transaction: what the CLI, the API, the pages and the bulletin ask for a period.

Counting is ``cases.figures``'s, scoring ``cases.assessment``'s.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from cases import responsibility
from cases.assessment import Weights, assess
from cases.db import Database
from cases.figures import FIGURES, Period, obligations_counted, parse_period, totals, unit_figures
from workflow.calendar import WorkingCalendar
from workflow.clock import Clock
from workflow.errors import InvalidInput
from workflow.org import Organisation


class Scoreboard:
    def __init__(
        self, db: Database, org: Organisation, clock: Clock, calendar: Callable[[Connection], WorkingCalendar],
        weights: Weights,
    ) -> None:  # fmt: skip
        self.db = db
        self.org = org
        self.clock = clock
        self.calendar = calendar
        self.weights = weights

    def period(self, text: str) -> Period:
        return parse_period(text)

    def figures(self, period: str | Period) -> dict[str, Any]:
        """Every unit's figures for the period, and the city's totals."""
        p = parse_period(period) if isinstance(period, str) else period
        with self.db.read() as conn:
            found = unit_figures(conn, p, self.clock.now(), self.calendar(conn))
        return {
            "period": p.text, "period_label": p.label,
            "units": {u: {**f.to_dict(), "unit_name": self.org.name(u)} for u, f in sorted(found.items())},
            "total": totals(found).to_dict(),
        }  # fmt: skip

    def score(self, period: str | Period) -> dict[str, Any]:
        """The assessment of every unit for the period (考核), ranked, with the 红黑榜."""
        p = parse_period(period) if isinstance(period, str) else period
        now = self.clock.now()
        with self.db.read() as conn:
            found = unit_figures(conn, p, now, self.calendar(conn))
        return assess(found, self.weights, self.org, p, now)

    def counted(self, period: str, unit: str, figure: str) -> list[dict[str, Any]]:
        """The obligations one figure of one unit counts."""
        p = parse_period(period)
        if figure not in FIGURES:
            raise InvalidInput("figure", f"未知指标“{figure}”；可选：{'、'.join(FIGURES)}")
        code = self.org.resolve(unit, "unit")
        now = self.clock.now()
        with self.db.read() as conn:
            rows = obligations_counted(conn, p, now, code, figure)
        return [
            {"number": r.number, "type": r.type, "title": r.title, "state": r.state, **responsibility.view(r, self.org, now)}
            for r in rows
        ]
