"""Notifications: templates (sandboxed Jinja2), recipients, the outbox written in the case's
transaction, the dispatcher that delivers it, and the delivery channels.

Layering: this package sits beside ``cases`` (it may import ``workflow`` and read the case
tables through ``cases.models``); the composition root connects the case service to the outbox.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """``notifications.check_definition`` (see ``notifications.plan``), imported on first use."""
    if name == "check_definition":
        from notifications.plan import check_definition

        return check_definition
    raise AttributeError(name)
