"""The column of a ledger (台账) and the values of a flag column: plain frozen data.

What columns a type has is ``ledger.derive``'s and ``ledger.definition``'s; reading their cells is
``ledger.cells``'s.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FlagValue:
    """One value of a flag column (整治类别: 取缔关闭 …)."""

    value: str
    """The value of the case flag (``ban``)."""
    label: str
    """What the ledger writes (``取缔关闭``)."""
    via: tuple[str, ...]
    """The steps that set it: a row with this value never takes the steps of the other values."""
    known_by: tuple[str, ...] = ()
    """Columns whose being filled implies this value when the row does not say it (empty: the
    inputs of ``via`` and the items of the states ``via`` leads to)."""


@dataclass(frozen=True)
class Column:
    key: str
    """Stable key: a field name, ``date:<step>``, ``<step>.<field>``, ``item:<item>``, ``number``,
    ``state`` … (see ``ledger.derive``) or the name a ``ledger:`` section gives a new column."""
    header: str
    """The header written in templates and exports."""
    aliases: tuple[str, ...] = ()
    """Other headers clerks use for it."""
    role: str = "field"
    """``field`` (registration), ``input`` (a step's input), ``date`` (a step's day), ``item``
    (the day an item was done), ``item_input``, ``items_all`` (the day every chosen item of a
    checklist was done), ``flag`` (a case flag set by the steps it names), ``number``, ``state``,
    ``seq``, ``export`` (computed; ignored on import)."""
    field: str | None = None
    """The workflow field the value is given as (``field``, ``input``, ``item_input``)."""
    triggers: tuple[str, ...] = ()
    """``date``/``input``: the steps it belongs to."""
    item: str | None = None
    """``item``/``item_input``: the item key."""
    checklist: str | None = None
    """``items_all``: the checklist whose chosen items it dates."""
    flag: str | None = None
    """``flag``: the case flag."""
    values: tuple[FlagValue, ...] = ()
    """``flag``: its values."""
    kind: str = "text"
    """How cells are read: text, code, date, enum, enum_list, dept, dept_list, integer, decimal,
    yes_no."""
    required: bool = False
    width: int = 14
    help: str = ""
    """What to write, for the template's explanation sheet."""
    example: Any = None
    """The template's example cell (``today``: the day the template is written)."""
    when_missing: str | None = None
    """``flag``: the reason given when a state after the flag's steps has no value."""
