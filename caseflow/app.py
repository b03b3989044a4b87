"""The composition root: settings → clock, organisation, definitions, database, services.

Nothing is built at import time; ``build()`` makes one ``App`` per process (or per test).
"""

import os
import socket
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cases import migrate
from cases.assessment import load_weights
from cases.auth import AuthService
from cases.bulletin_store import load_default as load_bulletin_requirements
from cases.calendar import CalendarService, DayChange
from cases.db import Database
from cases.definitions import Definitions
from cases.evidence import EvidenceStore
from cases.scoreboard import Scoreboard
from cases.service import CaseService
from cases.sweep import Sweeper
from cases.users import UserService
from config.settings import Settings
from notifications.channels.factory import build_channels
from notifications.config import NotificationConfig, load_notification_config
from notifications.dispatcher import Dispatcher, Inbox
from notifications.outbox import Outbox
from notifications.periodic import Periodic
from notifications.render import TemplateStore
from workflow.calendar import MAX_YEAR, MIN_YEAR, load_calendar_files, load_package_data
from workflow.clock import Clock, FixedClock, SystemClock, parse_instant
from workflow.loader import load_workflow_files
from workflow.org import Actor, Organisation, load_organisation
from workflow.spec import WorkflowSpec

if TYPE_CHECKING:
    from cases.bulletin_store import BulletinRequirements
    from cases.housekeeping import Housekeeper
    from ledger import LedgerService


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
    auth: AuthService
    notification_config: NotificationConfig
    templates: TemplateStore
    outbox: Outbox
    dispatcher: Dispatcher
    inbox: Inbox
    periodic: Periodic
    scoreboard: Scoreboard

    @cached_property
    def ledger(self) -> "LedgerService":
        """Ledger import and export, built on first use (it brings openpyxl in)."""
        from ledger import LedgerService

        return LedgerService(self.db, self.definitions, self.clock, self.evidence, self.calendar.calendar)

    @cached_property
    def bulletin_requirements(self) -> "BulletinRequirements":
        """The office's 下一步工作要求 of each week's bulletin (the default from notifications.yaml)."""
        from cases.bulletin_store import BulletinRequirements
        from cases.reports import parse_week_period

        return BulletinRequirements(self.db, self.clock, self.periodic.requirements, parse_week_period)

    @cached_property
    def housekeeper(self) -> "Housekeeper":
        """Removes expired idempotency records, tokens, sign-in records and orphaned evidence."""
        from cases.housekeeping import Housekeeper, Retention

        retention = Retention(
            idempotency_hours=self.settings.idempotency_retention_hours,
            token_days=self.settings.token_retention_days,
            signin_days=self.settings.signin_retention_days,
        )
        return Housekeeper(self.db, self.evidence, self.clock, retention)

    def migrate(self) -> None:
        """Upgrade the schema, then give cases from before obligations existed theirs."""
        migrate.upgrade(self.db)
        self.cases.backfill_obligations()

    def add_calendar_day(self, day: str, kind: str, name: str, actor: Actor) -> tuple[DayChange, list[dict[str, Any]]]:
        """Enter a calendar day, then recompute the open deadlines it can move (and every
        provisional one): the calendar and the cases stay consistent."""
        change = self.calendar.add(day, kind, name, actor)
        return change, self.sweeper.recompute_deadlines(change.day)

    def close(self) -> None:
        self.db.dispose()


def load_specs(files: list[Path], org: Organisation) -> dict[str, WorkflowSpec]:
    return load_workflow_files(files, org)


def make_clock(settings: Settings) -> Clock:
    return FixedClock(parse_instant(settings.fake_now)) if settings.fake_now else SystemClock()


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> App:
    settings = settings or Settings()
    clock = clock or make_clock(settings)
    org = load_organisation(settings.departments_file())
    definitions = Definitions(load_specs(settings.workflow_files(), org), org)
    db = Database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    evidence = EvidenceStore(settings.data_dir, settings.max_upload_bytes)
    calendar = CalendarService(
        db, clock, load_package_data(range(MIN_YEAR, MAX_YEAR + 1)), load_calendar_files(settings.calendar_files())
    )
    users = UserService(db, org, clock)
    cases = CaseService(db, definitions, clock, evidence, calendar.calendar)
    sweeper = Sweeper(db, definitions, clock, calendar.calendar)
    config = load_notification_config(settings.notifications_file(), org)
    templates = TemplateStore(override_dir=settings.template_override_dir())
    channels = build_channels(
        smtp_url=settings.smtp_url, mail_from=settings.mail_from,
        sms_url=settings.sms_url or config.sms_url, sms_token=settings.sms_token or config.sms_token,
        timeout=config.timeout_seconds,
    )  # fmt: skip
    outbox = Outbox(org, config, templates, calendar.calendar, set(channels))
    weights = load_weights(settings.assessment_file())
    cases.sinks.append(outbox)
    sweeper.sinks.append(outbox)
    return App(
        settings=settings,
        clock=clock,
        org=org,
        definitions=definitions,
        db=db,
        evidence=evidence,
        cases=cases,
        users=users,
        calendar=calendar,
        sweeper=sweeper,
        auth=AuthService(db, users, clock),
        notification_config=config,
        templates=templates,
        outbox=outbox,
        dispatcher=Dispatcher(db, channels, config, clock, holder=f"{socket.gethostname()}:{os.getpid()}"),
        inbox=Inbox(db, clock),
        periodic=Periodic(db, definitions, outbox, clock, calendar.calendar, weights,
                          requirements=load_bulletin_requirements(settings.notifications_file())),  # fmt: skip
        scoreboard=Scoreboard(db, org, clock, calendar.calendar, weights),
    )
