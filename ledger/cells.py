"""How a clerk's ledger (台账) cells are read: headers matched loosely, codes, dates, numbers.

Headers are matched loosely (``header_key``: full-width folded, spaces and line breaks dropped,
required markers ``*``/``(必填)`` and bracketed notes dropped; ``HeaderIndex`` finds a column by
its header or an alias); ``read_code`` recovers credit codes and account numbers that Excel stored
as numbers; ``read_date`` takes Excel dates, serial numbers and the usual written forms (year
first). Enumerations and departments are ``ledger.vocabulary``'s; which columns a type has is
``ledger.definition``'s. Whether values are valid for a case is ``workflow``'s decision.
"""

import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from ledger.model import Column

EXAMPLE_MARK = "示例"
"""A row whose 序号 is this is the template's example row: it is skipped on import."""


# --- headers --------------------------------------------------------------------------------------

_MARKERS = re.compile(r"[*＊※]|\((必填|选填|必选|可选|非必填)\)")
BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】")
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
            bare = BRACKETED.sub("", key)
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
