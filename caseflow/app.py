"""The composition root: settings → clock, organisation, definitions, database, services.

Nothing is built at import time; ``build()`` makes one ``App`` per process (or per test).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cases import migrate
from cases.calendar import CalendarService, DayChange
from cases.db import Database
from cases.definitions import Definitions
from cases.evidence import EvidenceStore
from cases.service import CaseService
from cases.sweep import Sweeper
from cases.users import UserService
from config.settings import Settings
from workflow.calendar import MAX_YEAR, MIN_YEAR, load_calendar_files, load_package_data
from workflow.clock import Clock, FixedClock, SystemClock, parse_instant
from workflow.errors import DefinitionError
from workflow.loader import load_workflow
from workflow.org import Actor, Organisation, load_organisation
from workflow.spec import WorkflowSpec


@dataclass
class App:
    settings: Settings
    clock: Clock
    org: Organisation
    definitions: Definitions
    db: Database
    evidence: EvidenceStore
    cases: CaseService
    users: UserService
    calendar: CalendarService
    sweeper: Sweeper

    def migrate(self) -> None:
        migrate.upgrade(self.db)

    def add_calendar_day(self, day: str, kind: str, name: str, actor: Actor) -> tuple[DayChange, list[dict[str, Any]]]:
        """Enter a calendar day, then recompute the open deadlines it can move (and every
        provisional one): the calendar and the cases stay consistent."""
        change = self.calendar.add(day, kind, name, actor)
        return change, self.sweeper.recompute_deadlines(change.day)

    def close(self) -> None:
        self.db.dispose()


def load_specs(files: list[Path], org: Organisation) -> dict[str, WorkflowSpec]:
    specs: dict[str, WorkflowSpec] = {}
    for path in files:
        spec = load_workflow(path, org)
        if spec.type in specs:
            raise DefinitionError(str(path), "type", f"{spec.type!r} is also defined in {specs[spec.type].source_file}")
        specs[spec.type] = spec
    return specs


def make_clock(settings: Settings) -> Clock:
    return FixedClock(parse_instant(settings.fake_now)) if settings.fake_now else SystemClock()


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> App:
    settings = settings or Settings()
    clock = clock or make_clock(settings)
    org = load_organisation(settings.departments_file())
    definitions = Definitions(load_specs(settings.workflow_files(), org), org)
    db = Database(settings.database_url)
    evidence = EvidenceStore(settings.data_dir, settings.max_upload_bytes)
    calendar = CalendarService(
        db, clock, load_package_data(range(MIN_YEAR, MAX_YEAR + 1)), load_calendar_files(settings.calendar_files())
    )
    return App(
        settings=settings,
        clock=clock,
        org=org,
        definitions=definitions,
        db=db,
        evidence=evidence,
        cases=CaseService(db, definitions, clock, evidence, calendar.calendar),
        sweeper=Sweeper(db, definitions, clock, calendar.calendar),
        users=UserService(db, org, clock),
        calendar=calendar,
    )
