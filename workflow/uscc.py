"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015): normalisation and checksum.

``check_uscc`` returns the normalised code or raises ``InvalidInput`` naming the rule that
failed. Whether the code belongs to a real enterprise is left to others.
"""

from workflow.errors import InvalidInput

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {char: index for index, char in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_AUTHORITIES = set("123456789ANY")
_FULL_WIDTH = {
    ord(c): ord(c) - 0xFEE0 for c in "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ"
}
"""Full-width digits and capitals (``str.upper`` already capitalises full-width letters)."""


def normalise_uscc(raw: str) -> str:
    """Strip all white space, fold full-width characters and upper-case."""
    return "".join(raw.upper().translate(_FULL_WIDTH).split())


def check_character(first17: str) -> str:
    """The check character for the first 17 characters (all from ``ALPHABET``)."""
    total = sum(_VALUE[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def check_uscc(raw: str, field: str = "uscc") -> str:
    """Validate a credit code; return it normalised or raise ``InvalidInput`` with the rule."""
    code = normalise_uscc(raw)
    if len(code) != 18:
        raise InvalidInput(field, f"统一社会信用代码应为18位，实际为{len(code)}位")
    for position, char in enumerate(code, start=1):
        if char not in _VALUE:
            raise InvalidInput(
                field,
                f"统一社会信用代码第{position}位“{char}”不是允许的字符（只能是数字和除 I、O、Z、S、V 以外的大写字母）",
            )
    if code[0] not in _AUTHORITIES:
        raise InvalidInput(field, f"统一社会信用代码第1位登记管理部门代码“{code[0]}”无效")
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidInput(field, f"统一社会信用代码校验位错误：第18位应为“{expected}”，实际为“{code[17]}”")
    return code
