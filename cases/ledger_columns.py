"""The columns of a ledger (台账), how a clerk's cells become field inputs, and reading the sheet.

One ``Column`` per column of the template and of the export, with the header a clerk usually
writes and its other common names; ``columns(case_type)`` gives them in order. Headers are
matched loosely (``header_key``: full-width folded, spaces and line breaks dropped, required
markers ``*``/``(必填)`` and bracketed notes dropped). ``Vocabulary`` reads enumerations by value
or Chinese label and departments by code, name, alias, region code or an unambiguous short name;
``read_code`` recovers credit codes and account numbers that Excel stored as numbers;
``read_date`` takes Excel dates, serial numbers and the usual written forms (year first).

``LedgerSheet`` finds the sheet and its header row (title rows above it, two-row headers,
merged cells — read from the sheet XML, which read-only openpyxl skips — filled in as a clerk
sees them) and yields the data rows; for large sheets it does all of that in a child process
so that parsing overlaps with validation. Whether values are valid for a case is ``workflow``'s
decision; what an import or export does with them is ``cases.ledger``'s.
"""

import multiprocessing
import re
import threading
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from queue import Empty
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter, range_boundaries

from workflow.org import LOCAL_KINDS, Organisation
from workflow.spec import WorkflowSpec

ENTERPRISE = "enterprise_issue"
SITE = "scattered_polluting"

CLASS_LABELS = {"simple": "简单", "general": "一般", "complex": "复杂"}
RESULT_LABELS = {"resolved": "已解决", "partially_resolved": "部分解决", "explained": "解释说明"}
CATEGORY_LABELS = {"ban": "取缔关闭", "rectify": "整顿规范"}
YES_NO_LABELS = {"yes": "是", "no": "否"}
RECTIFICATION = "*rectification"
"""``Column.item`` of the one date that completes every chosen rectification item."""
EXAMPLE_MARK = "示例"
"""A row whose 序号 is this is the template's example row: it is skipped on import."""


@dataclass(frozen=True)
class Column:
    key: str
    """Stable key: a field name, ``date:<step>``, ``item:<item>``, ``number``, ``state`` …"""
    header: str
    """The header written in templates and exports."""
    aliases: tuple[str, ...] = ()
    """Other headers clerks use for it."""
    role: str = "field"
    """``field`` (registration), ``input`` (a step's input), ``date`` (a step's day), ``item``
    (the day an item was done), ``item_input``, ``number``, ``state``, ``category``, ``seq``,
    ``export`` (computed; ignored on import)."""
    field: str | None = None
    """The workflow field the value is given as (``field``, ``input``, ``item_input``)."""
    triggers: tuple[str, ...] = ()
    """``date``/``input``: the triggers it belongs to."""
    item: str | None = None
    """``item``/``item_input``: the item key (``RECTIFICATION``: every chosen rectification item)."""
    kind: str = "text"
    """How cells are read: text, code, date, enum, enum_list, dept, dept_list, integer, decimal,
    yes_no."""
    required: bool = False
    width: int = 14
    help: str = ""
    """What to write, for the template's explanation sheet."""


def _c(key: str, header: str, *aliases: str, **kw: Any) -> Column:
    return Column(key, header, tuple(aliases), **kw)


_DATE_HELP = "日期，如 2026-09-30（也可写 2026/9/30、2026年9月30日，或 Excel 日期）"
_COMMON_HEAD = (
    _c("seq", "序号", "编号序号", "No", "No.", role="seq", width=6, help="可不填；填“示例”的行不导入"),
    _c("number", "编号", "案件编号", "问题编号", "台账编号", role="number", width=16,
       help="可不填，系统自动编号；填本系统格式的编号（如 QY-2026-00001）且未被占用时沿用"),
)  # fmt: skip
_TOWN = _c("town", "所属镇街", "镇街", "所属镇(街道)", "所在镇街", "所属乡镇", "乡镇", "镇(街道)",
           "所属镇街(园区)", "镇街园区", "所属镇街园区", "属地", "属地镇街", kind="dept", required=True, width=14,
           help="镇、街道或园区：中文名称、代码或区划代码，如 孔城镇 / kongcheng / 340881100")  # fmt: skip
_STATE = _c("state", "当前状态", "状态", "办理状态", "办理进度", "目前状态", role="state", kind="enum", width=22,
            help="不填为初始状态；可填状态中文名称或代码，见“可选值”")  # fmt: skip
_CREATED = _c("date:create", "登记日期", "收集日期", "录入日期", "发现日期", "排查日期", "反映日期", role="date",
              kind="date", width=12, help=_DATE_HELP + "；不填时取最早的办理日期，都不填为导入时间")  # fmt: skip
_EXPORT_TAIL = (
    _c("due_date", "办理期限", "当前期限", "期限", role="export", kind="date", width=12, help="导出时填写，导入时忽略"),
    _c("ladder", "督办等级", "督办级别", role="export", width=10, help="导出时填写，导入时忽略"),
)  # fmt: skip

ENTERPRISE_COLUMNS: tuple[Column, ...] = (
    *_COMMON_HEAD,
    _c("title", "问题标题", "标题", "问题名称", "问题简述", required=True, width=30),
    _c("description", "问题描述", "问题内容", "具体问题", "问题详情", "问题情况", "存在问题", required=True, width=50),
    _c("category", "问题类别", "问题分类", "类别", "问题类型", kind="enum", required=True, width=12),
    _c("source", "来源渠道", "问题来源", "来源", "收集渠道", kind="enum", width=16),
    _c("enterprise_name", "企业名称", "企业", "企业全称", "单位名称", required=True, width=28),
    _c("uscc", "统一社会信用代码", "信用代码", "社会信用代码", "统一代码", "统一社会信用代码证号", kind="code",
       required=True, width=22, help="18位，按 GB 32100-2015 校验；请把该列设为文本格式"),
    _TOWN,
    _c("industry", "所属行业", "行业"),
    _c("contact", "联系人及电话", "联系人", "联系方式", "联系人电话", "联系人及联系方式", width=20),
    _c("class", "办理类别", "办理难度", "复杂程度", kind="enum", width=10, help="简单（5个工作日）、一般（10个工作日）或复杂（20个工作日）"),
    _STATE,
    _CREATED,
    _c("lead_unit", "主办单位", "牵头单位", "责任单位", "主办", role="input", field="lead_unit", triggers=("assign",), kind="dept",
       width=18, help="已交办的问题必填：单位中文名称或代码"),
    _c("co_units", "协办单位", "配合单位", "协办", role="input", field="co_units", triggers=("assign",), kind="dept_list",
       width=22, help="可多个，用顿号或逗号分隔"),
    _c("instructions", "办理要求", "交办要求", role="input", field="instructions", triggers=("assign",), width=24),
    _c("date:assign", "交办日期", "交办时间", role="date", triggers=("assign",), kind="date", width=12, help=_DATE_HELP),
    _c("date:accept", "签收日期", "签收时间", role="date", triggers=("accept",), kind="date", width=12, help=_DATE_HELP),
    _c("date:request_extension", "申请延期日期", role="date", triggers=("request_extension",), kind="date", width=12, help=_DATE_HELP),
    _c("extension_reason", "延期理由", "申请延期理由", role="input", field="reason", triggers=("request_extension",), width=20),
    _c("extension_days", "申请延期天数", "延期天数", "申请延期工作日", role="input", field="days", triggers=("request_extension",),
       kind="integer", width=10, help="工作日，1–15"),
    _c("date:answer", "答复日期", "答复时间", role="date", triggers=("answer",), kind="date", width=12, help=_DATE_HELP),
    _c("result", "办理结果", role="input", field="result", triggers=("answer",), kind="enum", width=10, help="已解决、部分解决或解释说明"),
    _c("reply", "答复内容", "办理情况", "答复意见", "办理情况说明", role="input", field="reply", triggers=("answer",), width=40),
    _c("signed_by", "签发领导", "签发人", role="input", field="signed_by", triggers=("answer",), width=10),
    _c("date:approve_answer", "审核日期", "审核通过日期", role="date", triggers=("approve_answer",), kind="date", width=12, help=_DATE_HELP),
    _c("date:close", "销号日期", "办结日期", "销号时间", role="date", triggers=("close",), kind="date", width=12, help=_DATE_HELP),
    _c("satisfaction", "企业满意度", "满意度", "回访满意度", role="input", field="satisfaction", triggers=("close",), kind="enum", width=10),
    _c("date:decline", "不予受理日期", role="date", triggers=("decline",), kind="date", width=12, help=_DATE_HELP),
    _c("decline_reason", "不予受理理由", "不予受理原因", role="input", field="reason", triggers=("decline",), width=20),
    *_EXPORT_TAIL,
)  # fmt: skip

SITE_COLUMNS: tuple[Column, ...] = (
    *_COMMON_HEAD,
    _c("site_name", "场所名称", "点位名称", "场所(企业)名称", "企业(场所)名称", "作坊名称", "名称", required=True, width=28),
    _c("operator", "经营者", "经营者姓名", "经营业主", "业主", "负责人", width=12),
    _c("address", "详细地址", "地址", "场所地址", "具体地址", "经营地址", required=True, width=30),
    _TOWN,
    _c("village", "村(社区)", "村（社区）", "所属村(社区)", "村居", "村/社区", "行政村", "社区", "村", width=12),
    _c("uscc", "统一社会信用代码", "信用代码", "社会信用代码", "统一代码", kind="code", width=22, help="无证无照场所不填"),
    _c("power_account", "用电户号", "电表户号", "用电户号码", "电力户号", kind="code", width=16),
    _c("water_account", "用水户号", "水表户号", "用水户号码", kind="code", width=16),
    _c("source", "线索来源", "来源", "来源渠道", "问题来源", "发现途径", kind="enum", width=12),
    _c("violations", "问题类型", "违法类型", "主要问题", "存在问题类型", kind="enum_list", required=True, width=24,
       help="可多选，用顿号或逗号分隔"),
    _STATE,
    _CREATED,
    _c("date:start_verification", "核查日期", "开始核查日期", role="date", triggers=("start_verification",), kind="date", width=12, help=_DATE_HELP),
    _c("category", "整治类别", "整治方式", "处置方式", "认定类别", "整治类型", role="category", kind="enum", width=10,
       help="取缔关闭或整顿规范；取缔关闭、整顿规范之后的状态必填"),
    _c("date:classify", "认定日期", "认定时间", role="date", triggers=("classify_ban", "classify_rectify", "dismiss"), kind="date",
       width=12, help=_DATE_HELP),
    _c("plan", "整治方案", "一企一策", "整治措施", "整治方案(一企一策)", role="input", field="plan",
       triggers=("classify_ban", "classify_rectify"), width=30, help="认定取缔关闭时必填"),
    _c("cut_gas", "是否断气", "需断气", role="input", field="cut_gas", triggers=("classify_ban",), kind="yes_no", width=8, help="是或否"),
    _c("dismiss_reason", "不属于散乱污理由", "不予认定理由", "核查结论", role="input", field="reason", triggers=("dismiss",), width=20),
    _c("items", "整改事项", role="input", field="items", triggers=("classify_rectify",), kind="enum_list", width=24,
       help="认定整顿规范时必填，可多选"),
    _c("other_item", "其他整改事项说明", role="input", field="other_item", triggers=("classify_rectify",), width=20),
    _c("deadline", "整改期限", "整改时限", "限期整改日期", role="input", field="deadline", triggers=("classify_rectify",), kind="date",
       width=12, help="自认定之日起不超过90天；不填为30天"),
    _c("item:cut_water", "断水日期", role="item", item="cut_water", kind="date", width=12, help=_DATE_HELP),
    _c("item:cut_power", "断电日期", role="item", item="cut_power", kind="date", width=12, help=_DATE_HELP),
    _c("meter_reading", "断电电表读数", "电表读数", "断电时电表读数", role="item_input", field="meter_reading", item="cut_power",
       kind="decimal", width=12, help="填了断电日期时必填"),
    _c("item:clear_materials", "清除原料日期", role="item", item="clear_materials", kind="date", width=12, help=_DATE_HELP),
    _c("item:clear_products", "清除产品日期", role="item", item="clear_products", kind="date", width=12, help=_DATE_HELP),
    _c("item:clear_equipment", "清除设备日期", role="item", item="clear_equipment", kind="date", width=12, help=_DATE_HELP),
    _c("item:cut_gas", "断气日期", role="item", item="cut_gas", kind="date", width=12, help=_DATE_HELP),
    _c("item:rectification", "整改完成日期", role="item", item=RECTIFICATION, kind="date", width=12,
       help="全部整改事项完成的日期"),
    _c("date:submit", "提交验收日期", "申请验收日期", role="date", triggers=("submit_clearance", "submit_rectification"), kind="date",
       width=12, help=_DATE_HELP),
    _c("item:town_check", "属地自查日期", role="item", item="town_check", kind="date", width=12, help=_DATE_HELP),
    _c("item:department_review", "部门复核日期", role="item", item="department_review", kind="date", width=12, help=_DATE_HELP),
    _c("item:office_verification", "联席办核查日期", role="item", item="office_verification", kind="date", width=12, help=_DATE_HELP),
    _c("date:pass_acceptance", "验收通过日期", "销号日期", "验收日期", role="date", triggers=("pass_acceptance",), kind="date",
       width=12, help=_DATE_HELP),
    _c("date:confirm_revisit", "回头看日期", role="date", triggers=("confirm_revisit",), kind="date", width=12, help=_DATE_HELP),
    _c("notes", "回头看情况", "回头看情况说明", role="input", field="notes", triggers=("confirm_revisit",), width=24),
    *_EXPORT_TAIL,
)  # fmt: skip

_BY_TYPE = {ENTERPRISE: ENTERPRISE_COLUMNS, SITE: SITE_COLUMNS}


def columns(case_type: str) -> tuple[Column, ...]:
    return _BY_TYPE[case_type]


# --- headers --------------------------------------------------------------------------------------

_MARKERS = re.compile(r"[*＊※]|\((必填|选填|必选|可选|非必填)\)")
_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】")
_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """NFKC (full-width → half-width), no white space at all (line breaks included)."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


def header_key(text: Any) -> str:
    """The loose form of a header: folded, lower-case, without required markers."""
    if text is None:
        return ""
    return _MARKERS.sub("", fold(str(text))).lower()


class HeaderIndex:
    """Finds the column a header names, for one workflow type."""

    def __init__(self, cols: Iterable[Column]) -> None:
        self.exact: dict[str, Column] = {}
        for col in cols:
            for name in (col.header, *col.aliases):
                self.exact.setdefault(header_key(name), col)

    def match(self, text: Any) -> Column | None:
        key = header_key(text)
        if not key:
            return None
        found = self.exact.get(key)
        if found is None:
            # "交办日期(yyyy-mm-dd)", "所属镇街【必填】": drop bracketed notes and try again
            bare = _BRACKETED.sub("", key)
            found = self.exact.get(bare) if bare else None
        return found


# --- cell values ------------------------------------------------------------------------------------


class CellError(ValueError):
    """A cell that cannot be read; the message is for the clerk."""


_QUOTES = str.maketrans("", "", "\"'“”‘’「」『』＂")
_DOTS = str.maketrans("", "", "·•・．.-—_/／、")
_DATE_TEXT = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]*(\d{1,2})[:：时](\d{1,2})(?:[:：分](\d{1,2})秒?)?分?)?$"
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_EXCEL_EPOCH = datetime(1899, 12, 30)
_FLOAT_DIGITS = 15


def loose(text: str) -> str:
    """Folded, lower-case, without quotes and separators: for enumerations and names."""
    return fold(text).translate(_QUOTES).translate(_DOTS).lower()


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def as_text(value: Any) -> str:
    """A cell as text: whole numbers without ``.0``, dates as ISO."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer() and abs(value) < 10**_FLOAT_DIGITS:
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != time(0) else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


_SCIENTIFIC = re.compile(r"\d+(\.\d+)?[eE]\+?\d+")


def read_code(value: Any) -> str:
    """A code (credit code, account number) as text, even when Excel stored it as a number.

    A number of more than 15 digits is kept by Excel to 15 significant digits only; it is read
    as Excel shows it (``914403001922038000``). Whether digits were lost is ``lossy``'s question.
    """
    if isinstance(value, bool):
        raise CellError("应为代码文本")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 10**_FLOAT_DIGITS:
            return str(int(value))
        if value.is_integer():
            return str(int(Decimal(format(value, f".{_FLOAT_DIGITS}g"))))
        return str(value)
    text = fold(str(value)).lstrip("'")
    if _SCIENTIFIC.fullmatch(text):
        return str(int(Decimal(format(float(text), f".{_FLOAT_DIGITS}g"))))
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".")[0]
    return text


def lossy(value: Any) -> bool:
    """Whether a code cell is a number too long for Excel to have kept every digit."""
    if isinstance(value, float):
        return abs(value) >= 10**_FLOAT_DIGITS
    return isinstance(value, str) and _SCIENTIFIC.fullmatch(fold(value)) is not None


LOST_DIGITS = "Excel 把它存成了数字（显示为 {shown}），超过15位的部分已丢失，无法还原；请把该列设为“文本”格式后重新填写"


def read_date(value: Any) -> tuple[date, time | None]:
    """A day (and its time of day, when one is given) from an Excel date or text."""
    if isinstance(value, datetime):
        return value.date(), (value.time() if value.time() != time(0) else None)
    if isinstance(value, date):
        return value, None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:  # an Excel serial day number in a cell formatted as a number
            at = _EXCEL_EPOCH + timedelta(days=float(value))
            return at.date(), None
        raise CellError(f"“{value}”不是有效日期")
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", str(value))).strip()
    match = _DATE_TEXT.match(text) or _COMPACT_DATE.match(text)
    if match is not None:
        y, m, d = (int(g) for g in match.groups()[:3])
        try:
            day = date(y, m, d)
            parts = match.groups()[3:] if len(match.groups()) > 3 else ()
            clock = time(int(parts[0]), int(parts[1]), int(parts[2] or 0)) if parts and parts[0] else None
            return day, clock
        except ValueError:
            pass
    raise CellError(f"“{text}”不是有效日期；请写成 2026-09-30、2026/9/30 或 2026年9月30日（年在前）")


class Vocabulary:
    """Enumerations and departments of one workflow type, matched loosely."""

    def __init__(self, spec: WorkflowSpec, org: Organisation) -> None:
        self.spec = spec
        self.org = org
        self.labels: dict[str, dict[str, str]] = {
            "class": CLASS_LABELS,
            "result": RESULT_LABELS,
            "cut_gas": YES_NO_LABELS,
        }
        if "category" not in spec.fields:
            self.labels["category"] = CATEGORY_LABELS
        checklists = spec.checklists
        if "rectification" in checklists:
            self.labels["items"] = {k: i.label for k, i in checklists["rectification"].items.items()}
        self.states = self._state_words()
        self.departments = self._department_words()
        self._tables: dict[str, dict[str, str]] = {}

    # enumerations
    def choices(self, key: str) -> tuple[str, ...]:
        """The values of an enumeration column as a clerk writes them (labels)."""
        if key == "state":
            return tuple(s.label for s in self.spec.states.values())
        if key in self.labels:
            return tuple(self.labels[key].values())
        field = self.spec.fields.get(key)
        return field.choices if field is not None else ()

    def label(self, key: str, value: Any) -> str:
        """The label a clerk reads for a stored value."""
        if key == "state":
            return self.spec.states[value].label
        return self.labels.get(key, {}).get(str(value), str(value))

    def choice(self, key: str, raw: Any) -> str:
        """The stored value for a cell of an enumeration, or the text itself when unknown (the
        workflow's own check then says what is allowed)."""
        text = as_text(raw)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = self._choice_table(key)
        found = table.get(text)
        if found is not None:
            return found
        found = table.get(loose(text)) or table.get(loose(_BRACKETED.sub("", fold(text))))
        return found or text

    def choice_list(self, key: str, raw: Any) -> list[str]:
        parts = re.split(r"[,，、;；\n]+", as_text(raw))
        return [self.choice(key, p) for p in parts if p.strip()]

    def _choice_table(self, key: str) -> dict[str, str]:
        table: dict[str, str] = {}
        field = self.spec.fields.get(key)
        for value in field.choices if field is not None else ():
            table[loose(value)] = value
        for value, label in self.labels.get(key, {}).items():
            table[loose(value)] = value
            table[loose(label)] = value
        for value in list(table.values()):
            table[value] = value  # the exact value, without folding
        for value, label in self.labels.get(key, {}).items():
            table[label] = value
        return table

    def state(self, raw: Any) -> str | None:
        return self.states.get(loose(as_text(raw)))

    def _state_words(self) -> dict[str, str]:
        words: dict[str, str] = {}
        parts: dict[str, set[str]] = {}
        for key, state in self.spec.states.items():
            words[loose(key)] = key
            words[loose(state.label)] = key
            for part in re.split(r"[·•・]", state.label):
                parts.setdefault(loose(part), set()).add(key)
        for part, keys in parts.items():
            if len(keys) == 1 and part not in words:
                words[part] = next(iter(keys))
        for word, key in _STATE_SYNONYMS.get(self.spec.type, {}).items():
            if key in self.spec.states:
                words.setdefault(loose(word), key)
        return words

    # departments
    def department(self, raw: Any, kinds: tuple[str, ...] = ()) -> str:
        """The department code for a cell, or the text itself when unknown."""
        text = as_text(raw)
        found = self.org.find(text)
        if found is None:
            candidates = self.departments.get(loose(text), [])
            if not candidates and len(loose(text)) >= 2:
                wanted = loose(text)
                candidates = sorted(
                    {code for word, codes in self.departments.items() if word.startswith(wanted) for code in codes}
                )
            if kinds:
                candidates = [c for c in candidates if self.org.get(c).kind in kinds]
            return candidates[0] if len(set(candidates)) == 1 else text
        return found.code

    def department_list(self, raw: Any) -> list[str]:
        parts = re.split(r"[,，、;；\n]+", as_text(raw))
        return [self.department(p) for p in parts if p.strip()]

    def _department_words(self) -> dict[str, list[str]]:
        words: dict[str, list[str]] = {}
        for dept in self.org.departments:
            for name in (dept.code, dept.name, *dept.aliases, *([dept.region] if dept.region else [])):
                words.setdefault(loose(name), []).append(dept.code)
        return words

    def towns(self) -> list[str]:
        return [d.name for d in self.org.departments if d.kind in LOCAL_KINDS]

    def department_names(self) -> list[str]:
        return [d.name for d in self.org.departments]


_STATE_SYNONYMS: dict[str, dict[str, str]] = {
    ENTERPRISE: {
        "已收集": "registered", "待交办": "registered", "已交办": "assigned", "待签收": "assigned",
        "已签收": "in_progress", "正在办理": "in_progress", "办理中": "in_progress", "在办": "in_progress",
        "申请延期": "extension_requested", "延期审批中": "extension_requested", "已答复": "answered",
        "待审核": "answered", "回访中": "follow_up", "已办结": "closed", "办结": "closed", "已销号": "closed",
        "销号": "closed", "不予受理": "not_accepted",
    },
    SITE: {
        "待核查": "reported", "核查中": "verifying", "核查认定中": "verifying", "取缔关闭": "clearing",
        "两断三清": "clearing", "两断三清实施中": "clearing", "取缔中": "clearing", "整顿规范": "rectifying",
        "限期整改": "rectifying", "整改中": "rectifying", "限期整改中": "rectifying", "待验收": "acceptance",
        "验收中": "acceptance", "已销号": "closed", "已整治": "closed", "整治完成": "closed", "销号": "closed",
        "待回头看": "revisit_due", "已归档": "archived", "归档": "archived", "不属于散乱污": "dismissed",
        "不予认定": "dismissed",
    },
}  # fmt: skip


# --- reading a sheet --------------------------------------------------------------------------------

HEADER_SEARCH_ROWS = 30
"""The header row is looked for among this many rows at the top of a sheet (title rows above)."""
MIN_HEADER_SCORE = 2
MAX_FILLED_CELLS = 1_000_000
"""Merged ranges larger than this are not filled in (a whole-column merge is a drawing, not data)."""
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Found:
    """A column found in a sheet."""

    column: Column
    index: int
    """0-based position in the row."""
    header: str
    """The header as written (white space removed)."""

    @property
    def letter(self) -> str:
        return get_column_letter(self.index + 1)


@dataclass
class Layout:
    sheet: str
    first_row: int
    """The first header row (1-based)."""
    header_row: int
    """The last header row; data starts below it."""
    found: dict[str, Found]
    unknown: list[tuple[str, str]]
    """(letter, header) of headers that name no column."""
    repeated: list[tuple[str, str]]
    """(letter, header) of second headers for a column already found."""
    score: int


def merged_ranges(path: Path, member: str) -> list[tuple[int, int, int, int]]:
    """The merged ranges (min_row, min_col, max_row, max_col) of one sheet, read from its XML
    (read-only workbooks do not parse them). Streams the part: memory stays flat."""
    found: list[tuple[int, int, int, int]] = []
    with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
        tail = b""
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            data = tail + chunk
            if b"mergeCell" in data:
                last = 0
                for match in _MERGE.finditer(data):
                    min_col, min_row, max_col, max_row = range_boundaries(match.group(1).decode())
                    found.append((min_row, min_col, max_row, max_col))
                    last = match.end()
                tail = data[max(last, len(data) - 300) :]
            else:
                tail = data[-300:]
    return sorted(set(found))


class Sheet:
    """One worksheet of a read-only workbook; rows come with merged cells filled in (every cell
    of a merged range reads as its top-left cell, as a clerk sees it)."""

    def __init__(self, worksheet: Any, merges: list[tuple[int, int, int, int]]) -> None:
        self.ws = worksheet
        self.title: str = worksheet.title
        self.size_hint: int | None = worksheet.max_row if isinstance(worksheet.max_row, int) else None
        # the <dimension> a writer put in the file may be wrong: read every row that is there
        worksheet.reset_dimensions()
        self.anchors: dict[int, list[int]] = {}
        self.followers: dict[int, list[tuple[int, tuple[int, int]]]] = {}
        for min_row, min_col, max_row, max_col in merges:
            if (max_row - min_row + 1) * (max_col - min_col + 1) > MAX_FILLED_CELLS:
                continue
            anchor = (min_row, min_col - 1)
            self.anchors.setdefault(min_row, []).append(min_col - 1)
            for r in range(min_row, max_row + 1):
                for c in range(min_col - 1, max_col):
                    if (r, c) != anchor:
                        self.followers.setdefault(r, []).append((c, anchor))

    def rows(self, first: int = 1) -> Iterator[tuple[int, list[Any]]]:
        """(row number, values) from row ``first`` on."""
        cache: dict[tuple[int, int], Any] = {}
        rows = self.ws.iter_rows(values_only=True)
        try:
            for number, raw in enumerate(rows, start=1):
                values = list(raw)
                for c in self.anchors.get(number, ()):
                    cache[(number, c)] = values[c] if c < len(values) else None
                for c, anchor in self.followers.get(number, ()):
                    if c >= len(values):
                        values.extend([None] * (c + 1 - len(values)))
                    if values[c] is None:
                        values[c] = cache.get(anchor)
                if number >= first:
                    yield number, values
        finally:
            rows.close()

    def top(self, count: int = HEADER_SEARCH_ROWS) -> list[tuple[int, list[Any]]]:
        result = []
        rows = self.rows()
        try:
            for item in rows:
                result.append(item)
                if len(result) >= count:
                    break
        finally:
            rows.close()
        return result


def _matched(values: list[Any], index: HeaderIndex) -> set[str]:
    return {col.key for col in (index.match(v) for v in values) if col is not None}


def find_layout(title: str, top: list[tuple[int, list[Any]]], index: HeaderIndex) -> Layout | None:
    """The header row among the top rows: the row naming the most columns (a two-row header
    — group titles above, column names below — counts as one)."""
    best: tuple[int, int, int, list[Any]] | None = None
    for i, (number, values) in enumerate(top):
        candidates = [(len(_matched(values, index)), number, number, values)]
        if i + 1 < len(top):
            below_number, below = top[i + 1]
            width = max(len(values), len(below))
            padded = values + [None] * (width - len(values))
            under = below + [None] * (width - len(below))
            combined = [u if index.match(u) is not None else v for v, u in zip(padded, under, strict=True)]
            score = len(_matched(combined, index))
            if score > max(candidates[0][0], len(_matched(below, index))):
                candidates.append((score, number, below_number, combined))
        for candidate in candidates:
            if best is None or candidate[0] > best[0]:
                best = candidate
    if best is None or best[0] < MIN_HEADER_SCORE:
        return None
    score, first, last, values = best
    found: dict[str, Found] = {}
    unknown: list[tuple[str, str]] = []
    repeated: list[tuple[str, str]] = []
    for i, value in enumerate(values):
        if blank(value):
            continue
        written = _SPACE.sub("", str(value))
        col = index.match(value)
        if col is None:
            unknown.append((get_column_letter(i + 1), written))
        elif col.key in found:
            if found[col.key].header != written or not _is_merged_twin(values, i, found[col.key].index):
                repeated.append((get_column_letter(i + 1), written))
        else:
            found[col.key] = Found(col, i, written)
    return Layout(title, first, last, found, unknown, repeated, score)


def _is_merged_twin(values: list[Any], i: int, first: int) -> bool:
    """A header merged across columns reads the same in each: only the first one counts."""
    return all(values[j] == values[first] for j in range(first, i + 1))


def open_workbook(path: Path) -> Any:
    """A read-only workbook (values of formulas as last computed); warnings about features
    openpyxl drops (WPS extensions, data validation) are not the clerk's problem."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_workbook(path, read_only=True, data_only=True)


def choose_sheet(workbook: Any, path: Path, index: HeaderIndex, preferred: str) -> tuple[Sheet, Layout] | None:
    """The sheet holding the ledger: the one named like the type if it has a header, else the
    sheet whose header names the most columns."""
    best: tuple[Sheet, Layout] | None = None
    for ws in workbook.worksheets:
        if not hasattr(ws, "iter_rows"):
            continue
        member = getattr(ws, "_worksheet_path", None)
        merges = merged_ranges(path, member) if member else []
        sheet = Sheet(ws, merges)
        layout = find_layout(ws.title, sheet.top(), index)
        if layout is None:
            continue
        if fold(ws.title) == fold(preferred):
            return sheet, layout
        if best is None or layout.score > best[1].score:
            best = (sheet, layout)
    return best


# --- a ledger sheet, read here or in a second process ---------------------------------------------

BACKGROUND_XML_BYTES = 4_000_000
"""Sheets with more XML than this (about 5,000 rows) are parsed in a child process while the
caller validates: openpyxl is pure Python, so on a second core parsing and validating overlap."""
_BATCH = 2000
_POLL_SECONDS = 1.0


def largest_sheet_bytes(path: Path) -> int:
    """The size of the largest worksheet XML in the file (without parsing anything)."""
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = [
                i.file_size
                for i in archive.infolist()
                if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")
            ]
    except (zipfile.BadZipFile, OSError):
        return 0
    return max(sizes, default=0)


class LedgerSheet:
    """The sheet of a workbook that holds a ledger of one type: its layout (``None`` when no
    header was found) and its data rows. Use as a context manager; ``rows()`` once."""

    def __init__(self, path: Path, case_type: str, preferred: str, *, background: bool = False) -> None:
        self.path = path
        self.case_type = case_type
        self.preferred = preferred
        self.layout: Layout | None = None
        self.size_hint: int | None = None
        self.background = background
        self._workbook: Any = None
        self._sheet: Sheet | None = None
        self._child: Any = None
        self._queue: Any = None

    def __enter__(self) -> "LedgerSheet":
        if self.background:
            self._start_child()
        else:
            self._workbook = open_workbook(self.path)
            chosen = choose_sheet(self._workbook, self.path, HeaderIndex(columns(self.case_type)), self.preferred)
            if chosen is not None:
                self._sheet, self.layout = chosen
                self.size_hint = self._sheet.size_hint
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        assert self.layout is not None
        if self._sheet is not None:
            yield from self._sheet.rows(self.layout.header_row + 1)
            return
        while True:
            message = self._receive()
            if message is None:
                return
            yield from message

    def close(self) -> None:
        if self._workbook is not None:
            self._workbook.close()
            self._workbook = None
        if self._child is not None:
            if self._child.is_alive():
                self._child.terminate()
            self._child.join()
            self._queue.close()
            self._queue.join_thread()
            self._child = None

    def _start_child(self) -> None:
        # fork is quick, but forking a process with other threads (the web server's) can copy a
        # lock held by one of them into the child: spawn there.
        methods = multiprocessing.get_all_start_methods()
        alone = threading.active_count() == 1
        context = multiprocessing.get_context("fork" if "fork" in methods and alone else "spawn")
        self._queue = context.Queue(maxsize=8)
        args = (str(self.path), self.case_type, self.preferred, self._queue)
        self._child = context.Process(target=_produce, args=args, daemon=True)
        self._child.start()
        first = self._receive()
        if first is not None:
            self.layout, self.size_hint = first

    def _receive(self) -> Any:
        while True:
            try:
                message = self._queue.get(timeout=_POLL_SECONDS)
            except Empty:
                if not self._child.is_alive():
                    raise RuntimeError("the sheet reader stopped unexpectedly") from None
                continue
            if isinstance(message, str):
                raise RuntimeError(f"reading the sheet failed: {message}")
            return message


def _produce(path: str, case_type: str, preferred: str, queue: Any) -> None:
    """The child process: find the sheet and its header, send (layout, size hint), then batches
    of rows, then ``None``. Errors are sent as text."""
    try:
        with LedgerSheet(Path(path), case_type, preferred) as sheet:
            if sheet.layout is None:
                queue.put(None)
                return
            queue.put((sheet.layout, sheet.size_hint))
            batch: list[tuple[int, list[Any]]] = []
            for item in sheet.rows():
                batch.append(item)
                if len(batch) >= _BATCH:
                    queue.put(batch)
                    batch = []
            if batch:
                queue.put(batch)
            queue.put(None)
    except KeyboardInterrupt:
        return
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which raises it
        queue.put(f"{type(exc).__name__}: {exc}")
