"""Pure workflow logic: definitions, validation, the rulebook machines, the organisation model,
field validation (credit codes included) and the clock protocol.

Nothing here touches a database, a scheduler, templates or the network; ``cases/`` persists what
this package decides.
"""
