"""Ledger (台账) export: the ledger and one case's history, as .xlsx.

``LedgerExport.export_ledger`` writes the current ledger, one sheet per type (frozen header,
widths, dates): the type's columns (``ledger.definition``), filled from the cases' fields, events
and items, then the due date and the supervision level. ``export_history`` writes every event of
one case with its hashes. Files are written to a temporary file and renamed at the end
(``ledger.workbook``), so an interrupted export leaves nothing behind; ``progress(phase, done,
total)`` is called as work advances. The import template is ``ledger.template``'s; the annotated
copy of a ledger with problems is ``ledger.annotate``'s.
"""

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl.utils import get_column_letter
from sqlalchemy import Connection, and_, func, or_, select

from cases import repository as repo
from cases.db import Database
from cases.definitions import Definitions
from cases.views import ENGINE_TRIGGER_LABELS
from ledger.catalog import Catalog
from ledger.definition import LedgerDefinition
from ledger.model import Column
from ledger.report import Progress
from ledger.vocabulary import Vocabulary
from ledger.workbook import (
    DATE_FORMAT,
    HEADER_FONT,
    TIME_FORMAT,
    atomic_file,
    streamed_workbook,
    styled_cell,
    wall_time,
    write_header,
)
from workflow.errors import InvalidInput
from workflow.ladder import LEVEL_LABELS
from workflow.org import Organisation

WAIVED = "不适用"
"""What an item column shows for an item declared 不适用 and approved (instead of a day)."""
HISTORY_HEADERS = (("序号", 6), ("时间", 20), ("操作人", 14), ("操作", 18), ("操作名称", 18), ("原状态", 20),
                   ("新状态", 20), ("备注", 30), ("台账导入", 8), ("内容", 60), ("哈希", 66), ("前一哈希", 66))  # fmt: skip


class _Exporter:
    """Rows of one type's ledger sheet from the stored cases."""

    def __init__(self, definition: LedgerDefinition, org: Organisation, catalog: Catalog) -> None:
        self.definition = definition
        self.spec = definition.spec
        self.org = org
        self.catalog = catalog
        self.vocab = Vocabulary(definition, org)
        self.cols = list(definition.columns)
        self.stored_by = {f for t in self.spec.transitions for f in t.store}

    def row(self, seq: int, case_row: Any, events: list[Any], items: list[Any]) -> list[Any]:
        flags = case_row.flags or {}
        chosen = {col.key: flags.get(col.flag or "") for col in self.definition.flags}
        path = set(self.catalog.path(self.spec, case_row.state, self.definition.excluded(chosen)) or ())
        last: dict[str, Any] = {}
        for e in events:
            last[e.trigger] = e
        by_item = {i.key: i for i in items}
        return [self._value(col, seq, case_row, case_row.fields, flags, path, last, by_item) for col in self.cols]

    def _value(self, col: Column, seq: int, case_row: Any, fields: dict[str, Any], flags: dict[str, Any],
               path: set[str], last: dict[str, Any], by_item: dict[str, Any]) -> Any:  # fmt: skip
        role, org = col.role, self.org
        if role == "seq":
            return seq
        if role == "number":
            return case_row.number
        if role == "state":
            return self.spec.states[case_row.state].label
        if role == "export":
            if col.key == "due_date":
                return case_row.due_date
            if col.key in self.spec.fields:  # a computed field
                return self._shown(col, fields.get(col.key), org)
            return LEVEL_LABELS.get(case_row.ladder_level, case_row.ladder_level)
        if role == "flag":
            shown = path & {t for v in col.values for t in v.via}
            return self.vocab.label(col.key, flags.get(col.flag or "")) if shown and flags.get(col.flag or "") else None
        if role == "field":
            return self._shown(col, fields.get(col.key), org)
        if role == "date":
            if col.key == "date:create":
                return wall_time(case_row.created_at).date()  # type: ignore[union-attr]
            hits = [last[t] for t in col.triggers if t in path and t in last]
            return wall_time(max(hits, key=lambda e: e.seq).at).date() if hits else None  # type: ignore[union-attr]
        if role == "input":
            if not path & set(col.triggers):
                return None
            assert col.field is not None
            if col.field in self.stored_by and col.field in fields:
                return self._shown(col, fields.get(col.field), org)
            hits = [last[t] for t in col.triggers if t in last]
            if not hits:
                return None
            event = max(hits, key=lambda e: e.seq)
            return self._shown(col, (event.payload.get("fields") or {}).get(col.field), org)
        if role in ("item", "items_all"):
            return self._item_day(col, by_item)
        if role == "item_input":
            item = by_item.get(col.item or "")
            return self._shown(
                col, (item.data or {}).get(col.field or "") if item is not None and item.done else None, org
            )
        return None

    def _item_day(self, col: Column, by_item: dict[str, Any]) -> Any:
        if col.role == "items_all":
            chosen = [i for i in by_item.values() if i.checklist == col.checklist]
            if not chosen or not all(i.done for i in chosen):
                return None
            return max(wall_time(i.done_at).date() for i in chosen)  # type: ignore[union-attr]
        item = by_item.get(col.item or "")
        if item is not None and item.done and ((item.data or {}).get("waiver") or {}).get("status") == "approved":
            return WAIVED  # declared 不适用 and approved: nothing was done on a day
        return wall_time(item.done_at).date() if item is not None and item.done else None  # type: ignore[union-attr]

    def _shown(self, col: Column, value: Any, org: Any) -> Any:
        if value is None or value == "" or value == []:
            return None
        key = col.field or col.key
        if col.kind == "dept":
            return org.name(str(value))
        if col.kind == "dept_list":
            return "、".join(org.name(str(v)) for v in value)
        if col.kind == "date":
            return date.fromisoformat(str(value)) if isinstance(value, str) else value
        if col.kind == "integer":
            return int(value)
        if isinstance(value, list):
            return "、".join(self.vocab.label(key, v) for v in value)
        return self.vocab.label(key, value)


def _conditions(
    spec_type: str, state: str | None, department: str | None, visible_to: tuple[str, str] | None = None
) -> list[Any]:
    """Filters as ``case list`` has them: the department is the lead unit, the town, or the
    executor of an open item; ``visible_to`` (unit, username) keeps what that user may see."""
    cases_, items = repo.CASES, repo.ITEMS
    conditions = [cases_.c.type == spec_type]
    if visible_to is not None:
        unit, username = visible_to
        mine = cases_.c.id.in_(select(repo.UNITS.c.case_id).where(repo.UNITS.c.unit == unit))
        conditions.append(or_(mine, cases_.c.created_by == username))
    if state:
        conditions.append(cases_.c.state == state)
    if department:
        open_items = select(items.c.case_id).where(and_(items.c.executor == department, items.c.done.is_(False)))
        conditions.append(
            or_(cases_.c.lead_unit == department, cases_.c.town == department, cases_.c.id.in_(open_items))
        )
    return conditions


def _export_batches(
    conn: Connection, conditions: list[Any]
) -> Iterator[tuple[list[Any], dict[int, list[Any]], dict[int, list[Any]]]]:
    """Pages of (case rows, events by case, items by case), in id order."""
    cases_, events_, items_ = repo.CASES, repo.EVENTS, repo.ITEMS
    last = 0
    while True:
        rows = list(
            conn.execute(select(cases_).where(and_(*conditions, cases_.c.id > last)).order_by(cases_.c.id).limit(500))
        )
        if not rows:
            return
        ids = [r.id for r in rows]
        events: dict[int, list[Any]] = {i: [] for i in ids}
        wanted = (events_.c.case_id, events_.c.seq, events_.c.at, events_.c.trigger, events_.c.payload)
        for e in conn.execute(
            select(*wanted).where(events_.c.case_id.in_(ids)).order_by(events_.c.case_id, events_.c.seq)
        ):
            events[e.case_id].append(e)
        items: dict[int, list[Any]] = {i: [] for i in ids}
        for i in conn.execute(select(items_).where(items_.c.case_id.in_(ids))):
            items[i.case_id].append(i)
        yield rows, events, items
        last = ids[-1]


class LedgerExport:
    """The ledger and one case's history (and which types and states an export selects)."""

    def __init__(self, db: Database, definitions: Definitions, catalog: Catalog) -> None:
        self.db = db
        self.definitions = definitions
        self.org = definitions.org
        self.catalog = catalog

    # --- the ledger ----------------------------------------------------------------------------

    def export_ledger(
        self,
        target: Path,
        *,
        case_type: str | None = None,
        state: str | None = None,
        department: str | None = None,
        visible_to: tuple[str, str] | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """The current ledger, one sheet per type (or the one type asked for); ``visible_to``
        (unit, username) limits it to the cases that user may see, as ``CaseService`` does."""
        selected = self.selection(case_type, state)
        code = self.org.resolve(department, "department") if department else None
        sheets = []
        with self.db.read() as conn:
            totals = {t: int(conn.execute(select(func.count()).select_from(repo.CASES).where(and_(*_conditions(t, s, code, visible_to)))).scalar_one())
                      for t, s in selected}  # fmt: skip
            grand = sum(totals.values())
            with atomic_file(Path(target)) as tmp, streamed_workbook() as workbook:
                for spec_type, wanted_state in selected:
                    spec = self.definitions.current(spec_type).spec
                    exporter = _Exporter(self.catalog.of(spec), self.org, self.catalog)
                    ws = workbook.create_sheet(spec.name)
                    write_header(ws, [(c.header, c.width) for c in exporter.cols])
                    formats = [_format(c) for c in exporter.cols]
                    seq = 0
                    for rows, events, items in _export_batches(
                        conn, _conditions(spec_type, wanted_state, code, visible_to)
                    ):
                        for r in rows:
                            seq += 1
                            values = exporter.row(seq, r, events[r.id], items[r.id])
                            ws.append(
                                [
                                    styled_cell(ws, v, number_format=f) if f else v
                                    for v, f in zip(values, formats, strict=True)
                                ]
                            )
                        if progress is not None:
                            progress("export", len(rows), grand)
                    ws.auto_filter.ref = f"A1:{get_column_letter(len(exporter.cols))}{seq + 1}"
                    sheets.append({"type": spec_type, "sheet": spec.name, "rows": seq})
                workbook.save(tmp)
        return {"file": str(target), "sheets": sheets, "rows": sum(s["rows"] for s in sheets)}

    def selection(self, case_type: str | None, state: str | None) -> list[tuple[str, str | None]]:
        types = [case_type] if case_type else list(self.definitions.types)
        result = []
        for spec_type in types:
            spec = self.definitions.current(spec_type).spec
            if state is None:
                result.append((spec_type, None))
                continue
            found = Vocabulary(self.catalog.of(spec), self.org).state(state)
            if found is not None:
                result.append((spec_type, found))
            elif case_type:
                allowed = "、".join(f"{k}（{s.label}）" for k, s in spec.states.items())
                raise InvalidInput("state", f"{spec.name}没有状态“{state}”；可选：{allowed}")
        if not result:
            raise InvalidInput("state", f"没有哪类案件有状态“{state}”")
        return result

    # --- one case's history --------------------------------------------------------------------

    def export_history(self, ref: str | int, target: Path) -> dict[str, Any]:
        """Every event of one case: seq, time, actor, trigger, from → to, comment, hash."""
        with self.db.read() as conn:
            row = repo.find_case(conn, ref)
            spec = self.definitions.pinned(conn, row.definition_version).spec
            events = repo.history(conn, row.id)
        labels = {**ENGINE_TRIGGER_LABELS, **{t.trigger: t.label for t in reversed(spec.transitions)}}
        states = {k: f"{s.label}（{k}）" for k, s in spec.states.items()}
        with atomic_file(Path(target)) as tmp, streamed_workbook() as workbook:
            ws = workbook.create_sheet("办理记录")
            write_header(ws, list(HISTORY_HEADERS))
            for e in events:
                payload = e.payload or {}
                name = labels.get(e.trigger, e.trigger)
                if payload.get("item") and (e.trigger == "complete_item" or payload.get("decision")):
                    found = spec.item(payload["item"])
                    what = "完成事项" if e.trigger == "complete_item" else name
                    name = f"{what}：{found[1].label if found else payload['item']}"
                ws.append([
                    e.seq, styled_cell(ws, wall_time(e.at), number_format=TIME_FORMAT), e.actor, e.trigger, name,
                    states.get(e.from_state, e.from_state) if e.from_state else "—", states.get(e.to_state, e.to_state),
                    e.comment, "是" if payload.get("imported") else None,
                    json.dumps(payload, ensure_ascii=False, sort_keys=True), e.hash, e.prev_hash,
                ])  # fmt: skip
            info = workbook.create_sheet("案件信息")
            info.column_dimensions["A"].width, info.column_dimensions["B"].width = 12, 70
            for key, value in (
                ("编号", row.number), ("类型", spec.name), ("标题", row.title), ("当前状态", states[row.state]),
                ("办理期限", row.due_date), ("督办等级", LEVEL_LABELS.get(row.ladder_level, row.ladder_level)),
                ("登记人", row.created_by), ("登记时间", wall_time(row.created_at)), ("事件数", row.event_seq),
                ("链头哈希", row.head_hash),
            ):  # fmt: skip
                fmt = DATE_FORMAT if isinstance(value, date) and not isinstance(value, datetime) else TIME_FORMAT
                info.append(
                    [
                        styled_cell(info, key, font=HEADER_FONT),
                        styled_cell(info, value, number_format=fmt) if isinstance(value, date) else value,
                    ]
                )
            workbook.save(tmp)
        return {"file": str(target), "case": row.number, "events": len(events)}


def _format(col: Column) -> str | None:
    if col.kind == "date":
        return DATE_FORMAT
    if col.kind == "code" or col.role == "number":
        return "@"
    return None
