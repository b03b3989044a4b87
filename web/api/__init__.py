"""The HTTP API under ``/api`` (INTERFACES.md): sign-in, cases, actions, items with evidence,
history, the to-do list, the inbox, the bulletin, audit, users and calendar administration."""
