"""The columns of a ledger (台账) and how a clerk's cells become field inputs.

One ``Column`` per column of the template and of the export, with the header a clerk usually
writes and its other common names; ``columns(case_type)`` gives them in order. Headers are
matched loosely (``header_key``: full-width folded, spaces and line breaks dropped, required
markers ``*``/``(必填)`` and bracketed notes dropped). ``Vocabulary`` reads enumerations by value
or Chinese label and departments by code, name, alias, region code or an unambiguous short name;
``read_code`` recovers credit codes and account numbers that Excel stored as numbers;
``read_date`` takes Excel dates, serial numbers and the usual written forms (year first).

Finding the sheet, its header row and its data rows is ``cases.ledger_sheet``'s. Whether values
are valid for a case is ``workflow``'s decision; what an import or export does with them is
``cases.ledger``'s (``cases.ledger_import``, ``cases.ledger_export``).
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

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
