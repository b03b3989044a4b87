"""Moving running cases of a type to another definition version (``caseflow workflow migrate``,
``POST /api/admin/workflows/{type}/migrate``), like Camunda's process instance migration.

A case is pinned to the definition version it started on (``cases.definitions``); a migration
moves every running case of a type that is on another version to the target version, all in
one transaction: each moved case gets one hash-chained event (``MIGRATE_TRIGGER``, written by
``cases.changes.write_change``, which reconciles its obligations against the target definition),
and its ``definition_version`` changes. A case keeps its state when the target has a state of
that name, or goes to the state the operator maps it to (``old=new``). The migration is refused
as a whole, before anything is written, when a running case's state has no place in the target,
when a state would land in a closed state of the target, or when a case holds checklist items
the target does not know (a dry run is refused the same way: it says what the real run would do).

What a migration leaves alone: closed cases (they stay on the rules they closed under); the
case's running deadline and ladder level (a new version does not give a late unit new time; the
clock's state name follows the mapping); fields and counters; notifications (none are sent).
Whether the old rules and the new ones mean the same for a case is the operator's judgement:
this module only checks that the target can hold the case.
"""

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select

from cases import repository as repo
from cases import supervision
from cases.changes import write_change
from cases.db import Database
from cases.definitions import Definitions
from cases.models import Case, WorkflowDefinition
from workflow.calendar import WorkingCalendar
from workflow.clock import Clock
from workflow.errors import CaseflowError, InvalidInput, PermissionDenied
from workflow.org import Actor
from workflow.rulebook import Rulebook

MIGRATE_TRIGGER = "migrate_definition"
"""The trigger of the event each moved case gets (an engine trigger: no definition has it)."""
CURRENT = "current"
"""``--to current``: the definition loaded from the configuration directory now."""
MIN_PREFIX = 8
SHOWN = 12
"""Hex digits of a version shown to people."""
CASES = Case.__table__
DEFINITIONS = WorkflowDefinition.__table__


class MigrationRefused(CaseflowError):
    """The target version cannot hold some running case (a state with no mapping, a closed
    target state, checklist items it lacks): nothing was changed. ``details`` lists them."""

    code = "migration_refused"
    http_status = 409


@dataclass(frozen=True)
class Move:
    """The running cases of one source version and state, and where they go."""

    from_version: str
    from_state: str
    from_label: str
    to_state: str
    to_label: str
    cases: tuple[str, ...]
    """Their numbers, in id order."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "from_version": self.from_version, "from_state": self.from_state, "from_state_label": self.from_label,
            "to_state": self.to_state, "to_state_label": self.to_label, "count": len(self.cases),
            "cases": list(self.cases),
        }  # fmt: skip


@dataclass(frozen=True)
class MigrationPlan:
    """What a migration moves (``dry_run``: would move)."""

    type: str
    to_version: str
    mapping: Mapping[str, str]
    dry_run: bool
    moves: tuple[Move, ...] = ()
    closed_left: int = 0
    """Closed cases on other versions: not moved."""
    already: int = 0
    """Running cases already on the target version."""
    requested_by: str = ""
    events: list[str] = field(default_factory=list)
    """Numbers of the cases that got a migration event (empty in a dry run)."""

    @property
    def total(self) -> int:
        return sum(len(m.cases) for m in self.moves)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type, "to_version": self.to_version, "mapping": dict(self.mapping),
            "dry_run": self.dry_run, "total": self.total, "moves": [m.to_dict() for m in self.moves],
            "closed_not_moved": self.closed_left, "already_on_target": self.already,
            "requested_by": self.requested_by, "migrated": list(self.events),
        }  # fmt: skip


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``old=new`` pairs (the ``--map`` options); a malformed or repeated old state is refused."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = (part.strip() for part in pair.partition("="))
        if not sep or not old or not new:
            raise InvalidInput("map", f"“{pair}”格式不对，应为 旧状态=新状态")
        if old in mapping:
            raise InvalidInput("map", f"状态“{old}”的映射重复给出")
        mapping[old] = new
    return mapping


def short(version: str) -> str:
    return version[:SHOWN]


class DefinitionMigration:
    def __init__(
        self,
        db: Database,
        definitions: Definitions,
        clock: Clock,
        calendar: Callable[[Connection], WorkingCalendar],
    ) -> None:
        self.db = db
        self.definitions = definitions
        self.clock = clock
        self.calendar = calendar

    def migrate(
        self,
        case_type: str,
        to: str,
        mapping: Mapping[str, str] | None = None,
        *,
        dry_run: bool = False,
        actor: Actor | None = None,
        requested_by: str | None = None,
    ) -> MigrationPlan:
        """Move the running cases of ``case_type`` to version ``to`` (a stored version, a unique
        prefix of at least 8 hex digits, or ``current``); ``mapping`` maps old state names to
        target states. ``actor``, if given, must be an administrator; ``requested_by`` is the
        name recorded as having asked (the actor's by default). One transaction: all or nothing."""
        if actor is not None and not actor.has("admin"):
            raise PermissionDenied("迁移流程版本只能由系统管理员操作", {"roles": ["admin"]})
        who = requested_by or (actor.username if actor is not None else "system")
        mapping = dict(mapping or {})
        now = self.clock.now()
        with self.db.read() if dry_run else self.db.write() as conn:
            self._check_type(conn, case_type)
            target = self._target(conn, case_type, to)
            plan, rows = self._plan(conn, case_type, target, mapping, dry_run, who)
            if dry_run or not rows:
                return plan
            self.definitions.register(conn, now)  # ``current`` may not be stored yet (as ``create`` does)
            calendar = self.calendar(conn)
            for row, rulebook in rows:
                self._move(conn, row, rulebook, target, mapping, who, now, calendar)
                plan.events.append(row["number"])
            return plan

    # --- resolving the inputs ---------------------------------------------------------------------

    def _check_type(self, conn: Connection, case_type: str) -> None:
        stored = {t for (t,) in conn.execute(select(DEFINITIONS.c.type).distinct())}
        known = sorted(set(self.definitions.types) | stored)
        if case_type not in known:
            raise InvalidInput("type", f"未知案件类型“{case_type}”；可选：{'、'.join(known)}")

    def _target(self, conn: Connection, case_type: str, to: str) -> Rulebook:
        wanted = to.strip().lower()
        if wanted == CURRENT:
            return self.definitions.current(case_type)
        if len(wanted) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in wanted):
            raise InvalidInput(
                "to",
                f"“{to}”不是版本号：请给出版本号（至少{MIN_PREFIX}位十六进制数字）或 {CURRENT}（当前配置中的定义）",
            )
        found = {v: t for v, t in conn.execute(
            select(DEFINITIONS.c.version, DEFINITIONS.c.type).where(DEFINITIONS.c.version.startswith(wanted))
        )}  # fmt: skip
        found.update({s.version: s.type for s in self.definitions.specs.values() if s.version.startswith(wanted)})
        if not found:
            versions = self._versions(conn, case_type)
            listed = "、".join(short(v) for v in versions) or "无"
            raise InvalidInput("to", f"没有版本号以“{wanted}”开头的流程定义；{case_type} 已有的版本：{listed}")
        if len(found) > 1:
            listed = "、".join(sorted(short(v) for v in found))
            raise InvalidInput("to", f"版本号前缀“{wanted}”对应多个版本（{listed}），请多给几位")
        ((version, owner),) = found.items()
        if owner != case_type:
            raise InvalidInput("to", f"版本 {short(version)} 是 {owner} 的流程定义，不是 {case_type} 的")
        return self.definitions.pinned(conn, version)

    def _versions(self, conn: Connection, case_type: str) -> list[str]:
        stmt = select(DEFINITIONS.c.version).where(DEFINITIONS.c.type == case_type).order_by(DEFINITIONS.c.loaded_at)
        return [v for (v,) in conn.execute(stmt)]

    # --- planning ---------------------------------------------------------------------------------

    def _plan(
        self, conn: Connection, case_type: str, target: Rulebook, mapping: dict[str, str], dry_run: bool, who: str
    ) -> tuple[MigrationPlan, list[tuple[dict[str, Any], Rulebook]]]:
        """The plan and the rows to move (locked on PostgreSQL), or a refusal."""
        version = target.spec.version
        other = and_(CASES.c.type == case_type, CASES.c.definition_version != version)
        stmt = select(CASES).where(and_(other, CASES.c.closed_at.is_(None))).order_by(CASES.c.id)
        if not dry_run and conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        closed = conn.execute(select(func.count()).where(and_(other, CASES.c.closed_at.is_not(None)))).scalar_one()
        already = conn.execute(
            select(func.count()).where(and_(CASES.c.type == case_type, CASES.c.definition_version == version,
                                            CASES.c.closed_at.is_(None)))
        ).scalar_one()  # fmt: skip
        rows: list[tuple[dict[str, Any], Rulebook]] = []
        for found in conn.execute(stmt):
            rulebook = self.definitions.pinned(conn, found.definition_version)
            if rulebook.spec.states[found.state].is_closed:
                closed += 1
                continue
            rows.append((dict(found._mapping), rulebook))
        self._check_mapping(conn, case_type, target, mapping, [r for _, r in rows])
        self._refuse_unfit(conn, target, mapping, rows)
        groups: dict[tuple[str, str], list[str]] = {}
        labels: dict[tuple[str, str], str] = {}
        for row, rulebook in rows:
            key = (row["definition_version"], row["state"])
            groups.setdefault(key, []).append(row["number"])
            labels[key] = rulebook.spec.states[row["state"]].label
        moves = tuple(
            Move(v, s, labels[(v, s)], mapping.get(s, s), target.spec.states[mapping.get(s, s)].label, tuple(numbers))
            for (v, s), numbers in sorted(groups.items())
        )
        plan = MigrationPlan(case_type, version, mapping, dry_run, moves, int(closed), int(already), who)
        return plan, rows

    def _check_mapping(
        self, conn: Connection, case_type: str, target: Rulebook, mapping: dict[str, str], sources: list[Rulebook]
    ) -> None:
        if not sources:  # nothing runs elsewhere: a mapping still names states some version has
            sources = [self.definitions.pinned(conn, v) for v in self._versions(conn, case_type)
                       if v != target.spec.version]  # fmt: skip
        known = {s for r in sources for s in r.spec.states}
        for old, new in mapping.items():
            if old not in known:
                raise InvalidInput(
                    "map",
                    f"“{old}={new}”：迁移前的版本中没有状态“{old}”；可映射的状态：{'、'.join(sorted(known)) or '无'}",
                )
            if new not in target.spec.states:
                raise InvalidInput(
                    "map", f"“{old}={new}”：目标版本 {short(target.spec.version)} 没有状态“{new}”；"
                    f"可选：{'、'.join(target.spec.states)}",
                )  # fmt: skip

    def _refuse_unfit(
        self, conn: Connection, target: Rulebook, mapping: dict[str, str], rows: list[tuple[dict[str, Any], Rulebook]]
    ) -> None:
        """Refuse (changing nothing) if any running case cannot be held by the target."""
        spec = target.spec
        unmapped: Counter[str] = Counter()
        closing: Counter[str] = Counter()
        items: Counter[str] = Counter()
        for row, rulebook in rows:
            to_state = mapping.get(row["state"], row["state"])
            if to_state not in spec.states:
                unmapped[row["state"]] += 1
            elif spec.states[to_state].is_closed:
                closing[to_state] += 1
            if rulebook.spec.checklists:
                for item in repo.items_of(conn, row["id"]):
                    place = spec.item(item.key)
                    if place is None or place[0].name != item.checklist:
                        items[f"{item.key}（{item.label}）"] += 1
        target_states = "、".join(f"{k}（{s.label}）" for k, s in spec.states.items() if not s.is_closed)
        where = f"目标版本 {short(spec.version)}（{spec.type}）"
        if unmapped:
            listed = "；".join(f"{s} {n} 件" for s, n in sorted(unmapped.items()))
            maps = " ".join(f"--map {s}=<目标状态>" for s in sorted(unmapped))
            raise MigrationRefused(
                f"不能迁移：{where}没有以下办理中案件所处的状态：{listed}。请为每个状态指定目标状态（{maps}），"
                f"可选：{target_states}。未作任何改动",
                {"unmapped": dict(unmapped), "target_states": list(spec.states)},
            )
        if closing:
            listed = "；".join(f"{s} {n} 件" for s, n in sorted(closing.items()))
            raise MigrationRefused(
                f"不能迁移：办理中的案件不能迁入{where}的办结状态：{listed}。请用 --map 指定办理中的状态，"
                f"可选：{target_states}。未作任何改动",
                {"closing": dict(closing)},
            )
        if items:
            listed = "；".join(f"{k} {n} 件" for k, n in sorted(items.items()))
            raise MigrationRefused(
                f"不能迁移：{where}的清单中没有以下事项，而办理中的案件含有这些事项：{listed}。"
                "请在新版本中保留这些事项（可改名称、办理单位），或待这些案件办结后再迁移。未作任何改动",
                {"missing_items": dict(items)},
            )

    # --- moving one case --------------------------------------------------------------------------

    def _move(
        self, conn: Connection, row: dict[str, Any], source: Rulebook, target: Rulebook, mapping: dict[str, str],
        who: str, now: datetime, calendar: WorkingCalendar,
    ) -> None:  # fmt: skip
        items = repo.items_of(conn, row["id"]) if source.spec.checklists or target.spec.checklists else []
        draft = repo.to_draft(row, items)
        draft.state = mapping.get(row["state"], row["state"])
        clock = draft.flags.get("clock")
        if clock:
            draft.flags["clock"] = _renamed(clock, mapping)
        columns: dict[str, Any] = {"definition_version": target.spec.version}
        moved = {**row, "flags": draft.flags}
        moments = supervision.current_schedule(target.spec, moved, calendar)
        if moments:  # the same deadline; the target's ladder may put its next step elsewhere
            unrecorded = supervision.overdue_unrecorded(draft.flags, row["deadline_seq"])
            columns["next_check_at"] = supervision.next_check(row["ladder_level"], moments, unrecorded)
        payload = {
            "from_version": row["definition_version"], "to_version": target.spec.version,
            "from_state": row["state"], "to_state": draft.state, "mapping": dict(mapping), "requested_by": who,
        }  # fmt: skip
        note = f"流程定义由版本 {short(row['definition_version'])} 迁移到 {short(target.spec.version)}"
        write_change(
            conn, row, items, draft, target, trigger=MIGRATE_TRIGGER, actor="system", note=note, payload=payload,
            now=now, calendar=calendar, columns=columns,
        )  # fmt: skip


def _renamed(clock: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """The stored clock basis with its state names mapped (the deadline itself is kept)."""
    renamed = {**clock, "state": mapping.get(clock.get("state", ""), clock.get("state"))}
    if clock.get("extends"):
        renamed["extends"] = _renamed(clock["extends"], mapping)
    return renamed
