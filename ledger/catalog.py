"""What the ledger (台账) knows of each definition version, computed once: its
``LedgerDefinition`` and the replay paths to its states.

``Catalog.path`` is the shortest path of steps from the initial state to a state (breadth first,
in definition order), without the steps a row's flag values exclude: how an import replays a row
and which steps' days and inputs an export shows. Both halves of ``ledger.LedgerService`` share
one catalog; nothing here reads the database.
"""

from collections import deque
from dataclasses import dataclass

from ledger.definition import LedgerDefinition, ledger_of
from ledger.model import Column
from workflow.spec import WorkflowSpec


@dataclass(frozen=True)
class FlagStates:
    """Where a flag column's value comes from in the graph."""

    implied: dict[str, str]
    """A state a value's steps lead to → that value (取缔关闭·两断三清实施中 → ban)."""
    after: frozenset[str]
    """States past those steps that do not imply a value: a row in them must give or imply one."""
    known_by: dict[str, tuple[str, ...]]
    """Value → the columns whose being filled implies it."""


def _reachable(spec: WorkflowSpec, starts: set[str], excluded: set[str]) -> set[str]:
    seen, queue = set(starts), deque(starts)
    while queue:
        state = queue.popleft()
        for t in spec.transitions:
            if state in t.sources and t.dest is not None and t.dest not in seen and t.trigger not in excluded:
                seen.add(t.dest)
                queue.append(t.dest)
    return seen


class Catalog:
    def __init__(self) -> None:
        self._definitions: dict[tuple[str, str], LedgerDefinition] = {}
        self._paths: dict[tuple[str, str, str, frozenset[str]], list[str] | None] = {}
        self._flags: dict[tuple[str, str, str], FlagStates] = {}

    def of(self, spec: WorkflowSpec) -> LedgerDefinition:
        key = (spec.type, spec.version)
        found = self._definitions.get(key)
        if found is None:
            found = self._definitions[key] = ledger_of(spec)
        return found

    def path(self, spec: WorkflowSpec, target: str, excluded: frozenset[str] = frozenset()) -> list[str] | None:
        """The steps from the initial state to ``target`` (None: unreachable)."""
        memo_key = (spec.type, spec.version, target, excluded)
        if memo_key in self._paths:
            return self._paths[memo_key]
        queue: deque[tuple[str, list[str]]] = deque([(spec.initial, [])])
        seen = {spec.initial}
        found: list[str] | None = None
        while queue:
            state, path = queue.popleft()
            if state == target:
                found = path
                break
            for t in spec.transitions:
                if state in t.sources and t.dest is not None and t.dest not in seen and t.trigger not in excluded:
                    seen.add(t.dest)
                    queue.append((t.dest, [*path, t.trigger]))
        self._paths[memo_key] = found
        return found

    def flag_states(self, spec: WorkflowSpec, col: Column) -> FlagStates:
        memo_key = (spec.type, spec.version, col.key)
        found = self._flags.get(memo_key)
        if found is None:
            found = self._flags[memo_key] = _flag_states(self.of(spec), col)
        return found


def _flag_states(definition: LedgerDefinition, col: Column) -> FlagStates:
    spec = definition.spec
    via = {t for v in col.values for t in v.via}
    implied: dict[str, str] = {}
    for value in col.values:
        for t in spec.transitions:
            if t.trigger in value.via and t.dest is not None:
                implied.setdefault(t.dest, value.value)
    free = _reachable(spec, {spec.initial}, via)
    after = _reachable(spec, set(implied), set()) - free - set(implied)
    known_by: dict[str, tuple[str, ...]] = {}
    for value in col.values:
        if value.known_by:
            known_by[value.value] = value.known_by
            continue
        others = {t for v in col.values if v is not value for t in v.via}
        states = {s for s, v in implied.items() if v == value.value}
        lists = {c.name for c in spec.checklists.values() if c.state in states}
        items = {k for c in spec.checklists.values() if c.name in lists for k in c.items}
        known_by[value.value] = tuple(
            c.key for c in definition.columns
            if (c.role == "input" and set(c.triggers) <= set(value.via) and not set(c.triggers) & others)
            or (c.role == "item" and c.item in items) or (c.role == "items_all" and c.checklist in lists)
        )  # fmt: skip
    return FlagStates(implied, frozenset(after), known_by)
