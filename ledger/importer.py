"""Ledger (台账) import: a clerk's workbook in, cases out, all in one transaction.

``LedgerImport.import_ledger`` reads the sheet (``ledger.sheet``; large sheets in a child
process), validates every row and replays it through the rulebook (``ledger.replay``), and
unless it is a dry run writes the cases. Nothing is written unless every row is valid (or
``valid_only``); all cases are written in ONE transaction with batched inserts, each event
hash-chained as ``cases.audit`` does it, and the source ledger is stored content-addressed like
any evidence file (imported items cite it: the live rule is unchanged, no item is done without a
stored document). Rows are planned outside the write lock; duplicates and kept numbers are checked
again inside it. An interrupted import rolls back; Ctrl-C at the commit waits until the commit is
recorded.

Imported history sends no notifications (they would announce events of the past); the next
sweep climbs the supervision ladder of imported cases whose deadlines have passed. The columns
and the replay paths come from the shared ``ledger.catalog.Catalog``.
"""

import hashlib
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, case, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from cases import audit, obligations, staffing
from cases import repository as repo
from cases.db import Database
from cases.definitions import Definitions
from cases.evidence import EvidenceStore
from ledger.catalog import Catalog
from ledger.cells import EXAMPLE_MARK, as_text, blank, fold, loose
from ledger.context import ImportContext, MemoCalendar, Planned, is_open
from ledger.definition import LedgerDefinition
from ledger.planner import RowPlanner
from ledger.report import ImportReport, Problem, Progress
from ledger.sheet import BACKGROUND_XML_BYTES, Layout, LedgerSheet, largest_sheet_bytes
from workflow.calendar import WorkingCalendar
from workflow.clock import Clock
from workflow.errors import CaseflowError, InvalidInput, PermissionDenied
from workflow.obligations import owed
from workflow.org import Actor
from workflow.rulebook import Rulebook
from workflow.spec import WorkflowSpec

_SPACES = re.compile(r"\s+")
CHUNK = 1000
FOOTER_WORDS = ("制表", "填表", "填报", "审核人", "负责人", "注:", "注：", "说明:", "说明：", "备注:", "备注：")


class _CommitGuard:
    """Holds Ctrl-C (SIGINT) back from just before a commit until the caller has recorded it,
    so that an interrupt never leaves "committed but reported as not" (main thread only)."""

    def __init__(self) -> None:
        self.received = False
        self._previous: Any = None
        self._held = False

    def hold(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._note)
            self._held = True

    def _note(self, signum: int, frame: Any) -> None:
        self.received = True

    def release(self) -> None:
        if self._held:
            signal.signal(signal.SIGINT, self._previous)
            self._held = False


class LedgerImport:
    """Ledger import: validate every row, replay it, write the cases in one transaction."""

    def __init__(
        self,
        db: Database,
        definitions: Definitions,
        clock: Clock,
        evidence: EvidenceStore,
        calendar: Callable[[Connection], WorkingCalendar],
        catalog: Catalog,
    ) -> None:
        self.db = db
        self.definitions = definitions
        self.org = definitions.org
        self.clock = clock
        self.evidence = evidence
        self.calendar = calendar
        self.catalog = catalog
        self.background = True
        """Parse large sheets in a child process (see ``ledger.sheet.LedgerSheet``)."""

    # --- import --------------------------------------------------------------------------------

    def import_ledger(
        self,
        path: Path,
        case_type: str,
        actor: Actor,
        *,
        dry_run: bool = False,
        valid_only: bool = False,
        progress: Progress | None = None,
    ) -> ImportReport:
        """Validate every row and, unless ``dry_run``, store the cases in one transaction (all
        rows valid, or ``valid_only``). The report lists every problem; ``stored`` says whether
        anything was written."""
        rulebook = self.definitions.current(case_type)
        spec = rulebook.spec
        if not any(actor.has(rule.role) for rule in spec.create.actors):
            raise PermissionDenied(f"导入{spec.name}台账只能由{rulebook.describe(spec.create.actors)}办理")
        path = Path(path)
        data = _read_file(path)
        report = ImportReport(
            path.name, hashlib.sha256(data).hexdigest(), case_type, dry_run=dry_run, valid_only=valid_only
        )
        plans = self._plan_file(path, spec, rulebook, actor, report, progress)
        report.valid_rows = len(plans)
        if dry_run or not plans or (report.problems and not valid_only):
            report.preview = [_preview(p, spec) for p in plans][:1000] if dry_run else []
            return report
        self._store(plans, data, path.name, actor, report, valid_only, progress)
        return report

    def _plan_file(self, path: Path, spec: WorkflowSpec, rulebook: Rulebook, actor: Actor,
                   report: ImportReport, progress: Progress | None) -> list[Planned]:  # fmt: skip
        background = self.background and largest_sheet_bytes(path) > BACKGROUND_XML_BYTES
        definition = self.catalog.of(spec)
        with _open(path, definition, background) as source:
            layout = source.layout
            if layout is None:
                examples = "、".join(c.header for c in definition.columns[2:6])
                raise InvalidInput("file", f"在“{path.name}”中找不到{spec.name}台账的表头行（如：{examples}）")
            report.sheet, report.header_row = layout.sheet, layout.header_row
            columns_missing = self._header_problems(definition, layout, report)
            total = max(0, source.size_hint - layout.header_row) if source.size_hint else None
            with self.db.read() as conn:
                calendar = MemoCalendar(self.calendar(conn))
                ctx = ImportContext(
                    definition, self.catalog, rulebook, actor, layout, report, calendar, self.clock.now()
                )
                ctx.open_keys = self._open_keys(conn, definition)
                ctx.unstaffed = set(staffing.unstaffed(conn, self.org.codes()))
                plans = self._plan_rows(conn, RowPlanner(ctx), source.rows(), layout, report, progress, total)
        # Rows are still checked (every fault is reported at once), but without a required
        # column no row is complete: none may be stored, not even with valid_only.
        return [] if columns_missing else plans

    def _header_problems(self, definition: LedgerDefinition, layout: Layout, report: ImportReport) -> bool:
        """Report missing required columns (True if any) and ignored ones."""
        missing, spec = False, definition.spec
        for col in definition.columns:
            if col.role == "field" and col.key in spec.create.required and col.key not in layout.found:
                report.problems.append(Problem(layout.header_row, None, col.header, f"缺少必填列“{col.header}”"))
                missing = True
        for letter, header in layout.unknown:
            report.notices.append(f"{letter}列“{header}”不是台账的列，已忽略")
        for letter, header in layout.repeated:
            report.notices.append(f"{letter}列“{header}”与前面的列重复，已忽略")
        return missing

    def _plan_rows(self, conn: Connection, planner: RowPlanner, rows: Iterator[tuple[int, list[Any]]], layout: Layout, report: ImportReport,
                   progress: Progress | None, total: int | None) -> list[Planned]:  # fmt: skip
        plans: list[Planned] = []
        batch: list[tuple[int, list[Any]]] = []
        headers = [(f.index, f.header) for f in layout.found.values()][:3]

        ctx = planner.ctx

        def flush() -> None:
            self._load_existing(conn, ctx, batch)
            for number, values in batch:
                plan, problems = planner.plan(number, values)
                if plan is not None:
                    plans.append(plan)
                report.problems.extend(problems)
            report.rows += len(batch)
            if progress is not None:
                progress("read", len(batch), total)
            batch.clear()

        for number, values in rows:
            if _skip_row(values, ctx, headers, report, number):
                continue
            batch.append((number, values))
            if len(batch) >= CHUNK:
                flush()
        flush()
        report.problems.sort(key=lambda p: (p.row, p.column is not None, len(p.column or ""), p.column or ""))
        return plans

    def _load_existing(self, conn: Connection, ctx: ImportContext, batch: list[tuple[int, list[Any]]]) -> None:
        """Numbers of this batch already taken in the database."""
        numbers = set()
        number_col = ctx.found.get("number")
        for _, values in batch:
            if number_col is not None and number_col.index < len(values) and not blank(values[number_col.index]):
                numbers.add(fold(as_text(values[number_col.index])).upper())
        if numbers:
            found = conn.execute(select(repo.CASES.c.number).where(repo.CASES.c.number.in_(sorted(numbers))))
            ctx.taken.update(r.number for r in found)

    def _open_keys(self, conn: Connection, definition: LedgerDefinition) -> dict[tuple[str, ...], str]:
        """Duplicate key → number of every open case of the type (the values of the definition's
        duplicate fields, compared loosely); empty when the ledger has no duplicate key."""
        spec, duplicates = definition.spec, definition.duplicates
        if duplicates is None:
            return {}
        cases_ = repo.CASES
        closed = [s for s, st in spec.states.items() if st.is_closed]
        wanted = [cases_.c.number, cases_.c.state, cases_.c.definition_version, cases_.c.fields]
        rows = conn.execute(select(*wanted).where(and_(cases_.c.type == spec.type, cases_.c.state.notin_(closed))))
        result = {}
        for r in rows:
            if not is_open(r.state, self.definitions.pinned(conn, r.definition_version).spec):
                continue
            fields = r.fields or {}
            result[tuple(loose(str(fields.get(name) or "")) for name in duplicates.fields)] = r.number
        return result

    # --- writing -------------------------------------------------------------------------------

    def _store(self, plans: list[Planned], data: bytes, name: str, actor: Actor, report: ImportReport,
               valid_only: bool, progress: Progress | None) -> None:  # fmt: skip
        now = self.clock.now()
        guard = _CommitGuard()
        try:
            created = self._write(plans, data, name, actor, report, valid_only, progress, now, guard)
            if created is not None:
                report.created, report.stored = created, True
        finally:
            guard.release()
        if guard.received:
            report.notices.append("提交时收到了中断请求（Ctrl-C）：导入已经完成，没有中断")

    def _write(self, plans: list[Planned], data: bytes, name: str, actor: Actor, report: ImportReport,
               valid_only: bool, progress: Progress | None, now: datetime, guard: "_CommitGuard") -> list[dict[str, Any]] | None:  # fmt: skip
        """The one write transaction; the created cases, or None when nothing was written. If
        it fails or is interrupted, the copy of the ledger it stored as evidence goes too."""
        with self.db.write() as conn:
            conflicts = self._recheck(conn, plans)
            if conflicts:
                report.problems.extend(conflicts)
                report.problems.sort(key=lambda p: p.row)
                bad = {p.row for p in conflicts}
                plans = [p for p in plans if p.row not in bad]
                report.valid_rows = len(plans)
                if not valid_only or not plans:
                    return None
            self.definitions.register(conn, now)
            source = self.evidence.path(hashlib.sha256(data).hexdigest())
            repo.lock_evidence(conn, source.parent.name + source.name)
            new_file = not source.exists()
            try:
                stored = self._keep_source(data, name)
                repo.save_evidence(conn, {"sha256": stored.sha256, "size": stored.size, "media_type": stored.media_type,
                                          "original_name": stored.original_name, "created_by": actor.username, "created_at": now})  # fmt: skip
                numbers = self._numbers(conn, plans)
                for start in range(0, len(plans), CHUNK):
                    chunk = plans[start : start + CHUNK]
                    self._insert(conn, chunk, numbers, now)
                    if progress is not None:
                        progress("write", len(chunk), len(plans))
            except BaseException:
                # Still inside the transaction, holding the file's lock: no other transaction
                # can have come to rely on the copy this one wrote.
                if new_file:
                    source.unlink(missing_ok=True)
                raise
            created = [{"row": p.row, "number": numbers[id(p)], "state": p.meta["state"]} for p in plans]
            guard.hold()  # from the commit until it is recorded, Ctrl-C waits
        return created

    def _recheck(self, conn: Connection, plans: list[Planned]) -> list[Problem]:
        """Inside the write transaction: a case registered or numbered meanwhile wins."""
        if not plans:
            return []
        spec = self.definitions.current(plans[0].meta["type"]).spec
        problems = []
        open_keys = self._open_keys(conn, self.catalog.of(spec))
        kept = [p.number for p in plans if p.number]
        taken: set[str] = set()
        for start in range(0, len(kept), 500):
            found = conn.execute(select(repo.CASES.c.number).where(repo.CASES.c.number.in_(kept[start : start + 500])))
            taken.update(r.number for r in found)
        for p in plans:
            if p.key is not None and p.key in open_keys:
                problems.append(Problem(p.row, None, "—", f"导入期间已有人登记了相同的未办结案件 {open_keys[p.key]}"))
            if p.number in taken:
                problems.append(Problem(p.row, None, "编号", f"编号 {p.number} 已在导入期间被占用"))
        return problems + self._recheck_staffing(conn, plans)

    def _recheck_staffing(self, conn: Connection, plans: list[Planned]) -> list[Problem]:
        """Inside the write transaction: a unit whose last handler was deactivated meanwhile."""
        rulebook = self.definitions.current(plans[0].meta["type"])
        named = {
            id(p): [p.draft.fields.get("lead_unit"), *(p.draft.fields.get("co_units") or [])]
            for p in plans
            if is_open(p.meta["state"], rulebook.spec)
        }
        missing = set(staffing.unstaffed(conn, {u for units in named.values() for u in units if u}))
        problems = []
        for p in plans:
            lost = [u for u in named.get(id(p), []) if u in missing]
            if lost:
                reason = f"{staffing.message(self.org, lost)}，然后重新导入"
                problems.append(Problem(p.row, None, "主办/协办单位", reason))
        return problems

    def _keep_source(self, data: bytes, name: str) -> Any:
        """Store the ledger as an evidence file: imported items cite it, events name its hash."""
        store = (
            self.evidence
            if len(data) <= self.evidence.max_bytes
            else EvidenceStore(self.evidence.root.parent, len(data))
        )
        return store.put(data, name)

    def _numbers(self, conn: Connection, plans: list[Planned]) -> dict[int, str]:
        """Kept ledger numbers raise their counters; the others take blocks per year."""
        spec_type = plans[0].meta["type"]
        prefix = self.definitions.current(spec_type).spec.number_prefix
        result: dict[int, str] = {}
        highest: dict[int, int] = {}
        for p in plans:
            if p.number is not None:
                year, seq = int(p.number.split("-")[1]), int(p.number.split("-")[2])
                highest[year] = max(highest.get(year, 0), seq)
                result[id(p)] = p.number
        for year, seq in sorted(highest.items()):
            _counter(conn, spec_type, year, at_least=seq)
        by_year: dict[int, list[Planned]] = {}
        for p in plans:
            if p.number is None:
                by_year.setdefault(p.year, []).append(p)
        for year, group in sorted(by_year.items()):
            last = _counter(conn, spec_type, year, count=len(group))
            for offset, p in enumerate(group):
                result[id(p)] = f"{prefix}-{year}-{last - len(group) + 1 + offset:05d}"
        return result

    def _insert(self, conn: Connection, plans: list[Planned], numbers: dict[int, str], now: datetime) -> None:
        case_rows, chains, owed_by_plan = [], [], []
        rulebooks: dict[str, Rulebook] = {}
        for p in plans:
            version = p.meta["definition_version"]
            rulebook = rulebooks.get(version) or rulebooks.setdefault(version, self.definitions.pinned(conn, version))
            wanted = owed(rulebook, p.draft)  # the imported case is in its units' 待办 at once
            p.draft.flags["units"] = obligations.marks(rulebook, p.draft, wanted)
            p.meta["flags"] = p.draft.flags
            p.meta["supervision"] = p.meta.get("ladder_level") or "normal"  # its obligations open at normal
            owed_by_plan.append((rulebook, wanted))
            number = numbers[id(p)]
            prev, events = audit.GENESIS, []
            for seq, (at, actor, trigger, from_state, to_state, comment, payload) in enumerate(p.events, start=1):
                content = audit.event_content(number, seq, at, actor, trigger, from_state, to_state, comment, payload)
                digest = audit.chain_hash(prev, content)
                events.append({"seq": seq, "at": at, "actor": actor, "trigger": trigger, "from_state": from_state,
                               "to_state": to_state, "comment": comment, "payload": payload, "prev_hash": prev, "hash": digest})  # fmt: skip
                prev = digest
            case_rows.append({**p.meta, "number": number, "event_seq": len(events), "head_hash": prev})
            chains.append(events)
        try:
            conn.execute(insert(repo.CASES), case_rows)  # executemany; ids are read back by number
        except IntegrityError:
            raise CaseflowError("编号冲突：导入期间有其他案件使用了相同编号，请重新导入；数据库未作任何改动") from None
        by_number = dict(
            conn.execute(
                select(repo.CASES.c.number, repo.CASES.c.id).where(
                    repo.CASES.c.number.in_([r["number"] for r in case_rows])
                )
            ).all()
        )
        ids = [by_number[r["number"]] for r in case_rows]
        event_rows, item_rows = [], []
        for case_id, p, events in zip(ids, plans, chains, strict=True):
            event_rows += [{**e, "case_id": case_id} for e in events]
            for key, item in p.draft.items.items():
                item_rows.append({
                    "case_id": case_id, "checklist": item.checklist, "key": key, "label": item.label,
                    "position": item.position, "executor": p.executors.get(key), "done": item.done,
                    "done_by": item.done_by, "done_at": item.done_at, "evidence": list(item.evidence), "data": dict(item.data),
                })  # fmt: skip
        if item_rows:
            conn.execute(insert(repo.ITEMS), item_rows)
        conn.execute(insert(repo.EVENTS), event_rows)
        calendar = self.calendar(conn)
        unit_rows, obligation_rows = [], []
        for case_id, row, (rulebook, wanted) in zip(ids, case_rows, owed_by_plan, strict=True):
            unit_rows += [{"case_id": case_id, "unit": u, "waiting": w} for u, w in row["flags"]["units"].items()]
            obligation_rows += obligations.opening_rows(
                rulebook, {**row, "id": case_id}, wanted, "import", now, calendar
            )
        if unit_rows:
            conn.execute(insert(repo.UNITS), unit_rows)
        if obligation_rows:
            conn.execute(insert(obligations.OBLIGATIONS), obligation_rows)


def _counter(conn: Connection, case_type: str, year: int, *, count: int = 0, at_least: int = 0) -> int:
    """Take ``count`` numbers (or make sure ``at_least`` is taken) atomically; the last one."""
    table = repo.COUNTERS
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    if count:
        stmt = dialect_insert(table).values(type=case_type, year=year, last=count)
        update = {"last": table.c.last + count}
    else:
        stmt = dialect_insert(table).values(type=case_type, year=year, last=at_least)
        update = {"last": case((table.c.last < at_least, at_least), else_=table.c.last)}
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.type, table.c.year], set_=update).returning(table.c.last)
    return int(conn.execute(stmt).scalar_one())


def _read_file(path: Path) -> bytes:
    if not path.is_file():
        raise InvalidInput("file", f"文件不存在：{path}")
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise InvalidInput("file", f"只能导入 .xlsx 工作簿；“{path.name}”请先在 Excel 或 WPS 中另存为 .xlsx")
    return path.read_bytes()


@contextmanager
def _open(path: Path, definition: LedgerDefinition, background: bool) -> Iterator[LedgerSheet]:
    source = LedgerSheet(path, definition.columns, definition.spec.name, background=background)
    try:
        source.__enter__()
    except Exception as exc:  # noqa: BLE001 - zipfile, openpyxl and XML errors all mean "not a workbook"
        source.close()
        raise InvalidInput("file", f"“{path.name}”不是有效的 .xlsx 工作簿（{type(exc).__name__}）") from None
    try:
        yield source
    finally:
        source.close()


def _skip_row(
    values: list[Any], ctx: ImportContext, headers: list[tuple[int, str]], report: ImportReport, number: int
) -> bool:
    """Empty rows, the template's example row, a footer (制表人：…) and a repeated header."""
    filled = [v for v in values if v is not None and (v.__class__ is not str or v.strip())]
    if not filled:
        return True
    seq = ctx.found.get("seq")
    if seq is not None and seq.index < len(values) and values[seq.index] == EXAMPLE_MARK:
        report.notices.append(f"第{number}行是示例行，已跳过")
        return True
    if len(filled) == 1 and isinstance(filled[0], str) and fold(filled[0]).startswith(FOOTER_WORDS):
        report.notices.append(f"第{number}行“{filled[0].strip()[:20]}”不是数据行，已跳过")
        return True
    same = sum(
        1 for i, h in headers if i < len(values) and isinstance(values[i], str) and _SPACES.sub("", values[i]) == h
    )
    if same >= 2:
        report.notices.append(f"第{number}行是重复的表头，已跳过")
        return True
    return False


def _preview(p: Planned, spec: WorkflowSpec) -> dict[str, Any]:
    return {"row": p.row, "number": p.number, "title": p.meta["title"], "state": p.meta["state"],
            "state_label": spec.states[p.meta["state"]].label, "events": len(p.events),
            "due_date": p.meta["due_date"].isoformat() if p.meta["due_date"] else None}  # fmt: skip
