"""Ledger (台账) export: the ledger, the import template and one case's history, as .xlsx.

``LedgerExport.export_ledger`` writes the current ledger, one sheet per type (frozen header,
widths, dates): the template's columns, filled from the cases' fields, events and items, then
the due date and the supervision level. ``export_template`` writes the import template with an
explanation sheet and dropdowns; ``export_history`` every event of one case with its hashes.
Files are written to a temporary file and renamed at the end (``cases.ledger_workbook``), so an
interrupted export leaves nothing behind; ``progress(phase, done, total)`` is called as work
advances.

``LedgerExport`` is the export half of ``cases.ledger.LedgerService``: it uses the attributes and
``path`` that the import half (``cases.ledger_import.LedgerImport``) provides. The annotated copy
of a ledger with problems is ``cases.ledger_annotate``'s.
"""

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import Connection, and_, func, or_, select

from cases import repository as repo
from cases.db import Database
from cases.definitions import Definitions
from cases.ledger_annotate import annotated_copy
from cases.ledger_columns import CATEGORY_LABELS, EXAMPLE_MARK, RECTIFICATION, Column, Vocabulary, columns
from cases.ledger_report import ImportReport, Progress
from cases.ledger_workbook import (
    DATE_FORMAT,
    HEADER_FILL,
    HEADER_FONT,
    REQUIRED_FILL,
    TIME_FORMAT,
    atomic_file,
    streamed_workbook,
    styled_cell,
    wall_time,
    write_header,
)
from cases.views import ENGINE_TRIGGER_LABELS
from workflow.clock import SHANGHAI, Clock
from workflow.errors import InvalidInput
from workflow.ladder import LEVEL_LABELS
from workflow.org import Organisation
from workflow.spec import WorkflowSpec

WAIVED = "不适用"
"""What an item column shows for an item declared 不适用 and approved (instead of a day)."""
VALIDATION_ROWS = 5000
HISTORY_HEADERS = (("序号", 6), ("时间", 20), ("操作人", 14), ("操作", 18), ("操作名称", 18), ("原状态", 20),
                   ("新状态", 20), ("备注", 30), ("台账导入", 8), ("内容", 60), ("哈希", 66), ("前一哈希", 66))  # fmt: skip


class _Exporter:
    """Rows of one type's ledger sheet from the stored cases."""

    def __init__(self, service: "LedgerExport", spec: WorkflowSpec) -> None:
        self.service = service
        self.spec = spec
        self.vocab = Vocabulary(spec, service.org)
        self.cols = [c for c in columns(spec.type)]
        self.stored_by = {f for t in spec.transitions for f in t.store}

    def row(self, seq: int, case_row: Any, events: list[Any], items: list[Any]) -> list[Any]:
        spec, org = self.spec, self.service.org
        fields = case_row.fields
        category = (case_row.flags or {}).get("category")
        path = set(self.service.path(spec, case_row.state, category) or ())
        last: dict[str, Any] = {}
        for e in events:
            last[e.trigger] = e
        by_item = {i.key: i for i in items}
        values: list[Any] = []
        for col in self.cols:
            values.append(self._value(col, seq, case_row, fields, category, path, last, by_item, org))
        return values

    def _value(self, col: Column, seq: int, case_row: Any, fields: dict[str, Any], category: str | None,
               path: set[str], last: dict[str, Any], by_item: dict[str, Any], org: Any) -> Any:  # fmt: skip
        role = col.role
        if role == "seq":
            return seq
        if role == "number":
            return case_row.number
        if role == "state":
            return self.spec.states[case_row.state].label
        if role == "export":
            if col.key == "due_date":
                return case_row.due_date
            return LEVEL_LABELS.get(case_row.ladder_level, case_row.ladder_level)
        if role == "category":
            shown = path & {"classify_ban", "classify_rectify"}
            return CATEGORY_LABELS.get(category or "") if shown else None
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
        if role == "item":
            return self._item_day(col, by_item)
        if role == "item_input":
            item = by_item.get(col.item or "")
            return self._shown(
                col, (item.data or {}).get(col.field or "") if item is not None and item.done else None, org
            )
        return None

    def _item_day(self, col: Column, by_item: dict[str, Any]) -> Any:
        if col.item == RECTIFICATION:
            chosen = [i for i in by_item.values() if i.checklist == "rectification"]
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
    """The export half of ``cases.ledger.LedgerService``: the ledger, the template, one case's
    history, and the annotated copy of a ledger with problems. The attributes below and ``path``
    are the import half's (``LedgerImport``), with which ``LedgerService`` combines it."""

    db: Database
    definitions: Definitions
    org: Organisation
    clock: Clock
    path: Callable[[WorkflowSpec, str, str | None], list[str] | None]

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
                    exporter = _Exporter(self, spec)
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
            found = Vocabulary(spec, self.org).state(state)
            if found is not None:
                result.append((spec_type, found))
            elif case_type:
                allowed = "、".join(f"{k}（{s.label}）" for k, s in spec.states.items())
                raise InvalidInput("state", f"{spec.name}没有状态“{state}”；可选：{allowed}")
        if not result:
            raise InvalidInput("state", f"没有哪类案件有状态“{state}”")
        return result

    # --- the template --------------------------------------------------------------------------

    def export_template(self, case_type: str, target: Path) -> dict[str, Any]:
        """The import template: header, one example row (skipped on import), an explanation of
        every column and its allowed values, and dropdowns for enumerations and towns."""
        spec = self.definitions.current(case_type).spec
        vocab = Vocabulary(spec, self.org)
        cols = [c for c in columns(spec.type) if c.role != "export"]
        required = {c.header for c in cols if c.required}
        workbook = Workbook()
        ws = workbook.active
        ws.title = spec.name
        for index, col in enumerate(cols, start=1):
            ws.column_dimensions[get_column_letter(index)].width = col.width
            cell = ws.cell(1, index, col.header)
            cell.font, cell.fill = HEADER_FONT, REQUIRED_FILL if col.required else HEADER_FILL
            cell.comment = Comment(
                ("必填。" if col.required else "") + (col.help or "文本"), "caseflow", width=300, height=100
            )
        example = _example_row(spec, vocab, self.clock.now())
        for index, col in enumerate(cols, start=1):
            cell = ws.cell(2, index, example.get(col.key))
            if col.kind == "date":
                cell.number_format = DATE_FORMAT
            elif col.kind == "code":
                cell.number_format = "@"
        ws.freeze_panes = "A2"
        choices = _choice_lists(spec, vocab, cols)
        lists = workbook.create_sheet("可选值")
        ranges: dict[str, str] = {}
        for index, (key, (title, values)) in enumerate(choices.items(), start=1):
            letter = get_column_letter(index)
            lists.column_dimensions[letter].width = max(12, max((len(v) for v in values), default=4) * 2)
            lists.cell(1, index, title).font = HEADER_FONT
            for row, value in enumerate(values, start=2):
                lists.cell(row, index, value)
            ranges[key] = f"'可选值'!${letter}$2:${letter}${len(values) + 1}"
        for index, col in enumerate(cols, start=1):
            if col.key not in ranges:
                continue
            several = col.kind in ("enum_list", "dept_list")
            dv = DataValidation(type="list", formula1=ranges[col.key], allow_blank=True, showErrorMessage=not several,
                                errorTitle="不在可选范围内", error=f"“{col.header}”请从下拉列表中选择", promptTitle=col.header,
                                prompt="可多选，用顿号分隔" if several else "请从下拉列表中选择", showInputMessage=True)  # fmt: skip
            letter = get_column_letter(index)
            dv.add(f"{letter}2:{letter}{VALIDATION_ROWS}")
            ws.add_data_validation(dv)
        _explanations(workbook.create_sheet("填写说明"), spec, cols, choices)
        workbook.move_sheet("填写说明", offset=-1)
        with atomic_file(Path(target)) as tmp:
            workbook.save(tmp)
        return {
            "file": str(target),
            "type": case_type,
            "columns": [c.header for c in cols],
            "required": sorted(required),
        }

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

    # --- the annotated copy --------------------------------------------------------------------

    def annotate(self, report: ImportReport, source: Path, target: Path) -> Path:
        """A copy of the ledger with every problem marked: the cell filled red with a comment,
        a 问题说明 column, and a 问题清单 sheet listing them all. Small workbooks keep their own
        formatting; large ones are copied value by value (streaming). See ``cases.ledger_annotate``."""
        return annotated_copy(report, source, target)


def _format(col: Column) -> str | None:
    if col.kind == "date":
        return DATE_FORMAT
    if col.kind == "code" or col.role == "number":
        return "@"
    return None


def _example_row(spec: WorkflowSpec, vocab: Vocabulary, now: datetime) -> dict[str, Any]:
    today = now.astimezone(SHANGHAI).date()
    towns = vocab.towns()
    town = "孔城镇" if "孔城镇" in towns else towns[0]
    if spec.type == "enterprise_issue":
        return {
            "seq": EXAMPLE_MARK, "title": "园区企业用电增容审批慢", "description": "企业新上生产线，申请用电增容三个月未办结。",
            "category": "生产要素", "source": "走访", "enterprise_name": "桐城市示例包装有限公司",
            "uscc": "914403001922038216", "town": town, "industry": "绿色包装", "contact": "王经理 13800000000",
            "class": "一般", "state": spec.states["assigned"].label if "assigned" in spec.states else None,
            "date:create": today, "lead_unit": "市供电公司", "instructions": "请于规定时限内答复企业", "date:assign": today,
        }  # fmt: skip
    return {
        "seq": EXAMPLE_MARK, "site_name": "孔城镇某塑料颗粒加工点", "operator": "经营者甲", "address": "孔城镇桐梓村三组",
        "town": town, "village": "桐梓村", "power_account": "340881000123", "source": "网格巡查",
        "violations": "环境违法、无证无照", "state": spec.states["clearing"].label if "clearing" in spec.states else None,
        "date:create": today, "date:start_verification": today, "category": "取缔关闭", "date:classify": today,
        "plan": "依法取缔，实施两断三清", "cut_gas": "否", "item:cut_power": today, "meter_reading": "12345.6",
    }  # fmt: skip


def _choice_lists(spec: WorkflowSpec, vocab: Vocabulary, cols: list[Column]) -> dict[str, tuple[str, list[str]]]:
    """Column key → (title, values) of every enumeration the template offers in a dropdown."""
    result: dict[str, tuple[str, list[str]]] = {}
    for col in cols:
        if col.kind in ("enum", "enum_list", "yes_no"):
            key = "state" if col.role == "state" else (col.field or col.key)
            values = list(vocab.choices(key))
            if values:
                result[col.key] = (col.header, values)
        elif col.kind == "dept" and col.key == "town":
            result[col.key] = (col.header, vocab.towns())
        elif col.kind in ("dept", "dept_list"):
            result[col.key] = (col.header, vocab.department_names())
    return result


def _explanations(ws: Any, spec: WorkflowSpec, cols: list[Column], choices: dict[str, tuple[str, list[str]]]) -> None:
    headers = [("列名", 18), ("是否必填", 10), ("填写说明", 60), ("可选值", 80)]
    for index, (title, width) in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
        cell = ws.cell(1, index, title)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    ws.freeze_panes = "A2"
    for row, col in enumerate(cols, start=2):
        allowed = "、".join(choices[col.key][1]) if col.key in choices else ""
        ws.cell(row, 1, col.header)
        ws.cell(row, 2, "必填" if col.required else "")
        ws.cell(row, 3, col.help or ("日期" if col.kind == "date" else "文本"))
        ws.cell(row, 4, allowed)
    notes = (
        f"本模板用于导入{spec.name}台账。表头可以不在第一行（上方可有标题行），列的顺序不限，可删去不用的列。",
        "“当前状态”不是初始状态时，系统按流程规则从登记起逐步补记各环节（以填写的日期为准，只填日期的按当天 9:00 计），"
        "期限按当时的工作日历计算，办理记录标注为台账导入。",
        "序号填“示例”的行不会导入。导入前可先用 --dry-run 校验；有问题时会生成标注了问题的副本（*.errors.xlsx）。",
    )
    start = len(cols) + 3
    for offset, text in enumerate(notes):
        ws.cell(start + offset, 1, text)
