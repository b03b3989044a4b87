"""Preview of a notification for a real case: the context ``outbox`` would build, rendered by
the templates in force (``caseflow templates preview NAME CASE``)."""

from typing import Any

from cases import repository as repo
from cases.db import Database
from cases.definitions import Definitions
from notifications.config import NotificationConfig
from notifications.context import action_context, case_context, event_context, items_context, recipient_context
from notifications.events import EVENTS
from notifications.plan import plan_of
from notifications.render import Rendered, TemplateStore
from notifications.samples import sample_context
from workflow.clock import Clock
from workflow.errors import InvalidInput


def preview(
    db: Database, definitions: Definitions, config: NotificationConfig, templates: TemplateStore, clock: Clock,
    event: str, case_ref: str | None = None,
) -> Rendered:  # fmt: skip
    if case_ref is None:
        if event not in EVENTS:
            raise InvalidInput("name", f"未知模板“{event}”；可选：{'、'.join(EVENTS)}")
        return templates.preview(event)
    if event in EVENTS and not EVENTS[event].per_case:
        return templates.preview(event)
    with db.read() as conn:
        row = repo.find_case(conn, case_ref)
        rulebook = definitions.pinned(conn, row.definition_version)
        draft = repo.to_draft(row, repo.items_of(conn, row.id))
        history = repo.history(conn, row.id)
    events = plan_of(rulebook.spec).events
    if event not in events:
        raise InvalidInput("name", f"未知模板“{event}”；此类案件可用：{'、'.join(events)}")
    last = history[-1]
    sample = sample_context(event) if event in EVENTS else {}
    context: dict[str, Any] = {
        **sample,
        "case": case_context(dict(row._mapping), draft, rulebook, config),
        "event": event_context(
            event,
            events[event].label,
            clock.now(),
            last.actor,
            last.actor,
            "",
            last.comment,
            last.payload or {},
            definitions.org,
        ),  # fmt: skip
        "office": dict(config.office),
        "recipient": recipient_context("preview", "预览", row.lead_unit or row.town or "", definitions.org),
        "items": items_context(draft, rulebook, None),
    }
    context["event"].update(action_context(rulebook.spec, last.payload or {}))
    return templates.render(event, context)
