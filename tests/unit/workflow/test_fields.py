"""Field validation and normalisation (``workflow.fields``), one field type at a time.

Field specifications are built here by hand, so these tests do not depend on the shipped YAML;
departments come from the shipped ``config/departments.yaml``.
"""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from workflow.errors import InvalidInput
from workflow.fields import check_inputs, normalise
from workflow.org import Organisation
from workflow.spec import FieldSpec

TITLE = FieldSpec("title", "问题标题", "text", max_length=10)
NOTES = FieldSpec("notes", "情况说明", "text")
CATEGORY = FieldSpec("category", "问题类别", "choice", choices=("生产要素", "政策扶持", "其他"))
VIOLATIONS = FieldSpec(
    "violations", "问题类型", "choice_list", choices=("环境违法", "无证无照", "违法用地")
)
UNIT = FieldSpec("lead_unit", "主办单位", "department")
TOWN = FieldSpec("town", "所属镇街", "department", kinds=("street", "town", "park"))
CO_UNITS = FieldSpec("co_units", "协办单位", "department_list")
DEADLINE = FieldSpec("deadline", "整改期限", "date")
DAYS = FieldSpec("days", "天数（工作日）", "integer", min=1, max=15)
METER = FieldSpec("meter_reading", "断电时电表读数", "decimal")
CUT_GAS = FieldSpec("cut_gas", "是否断气", "yes_no", default="no")
USCC = FieldSpec("uscc", "统一社会信用代码", "uscc")
SOURCE = FieldSpec("source", "来源渠道", "choice", choices=("走访", "其他"), default="其他")
FIELDS = {
    f.name: f
    for f in (
        TITLE,
        NOTES,
        CATEGORY,
        VIOLATIONS,
        UNIT,
        TOWN,
        CO_UNITS,
        DEADLINE,
        DAYS,
        METER,
        CUT_GAS,
        USCC,
        SOURCE,
    )
}


def refused(spec: FieldSpec, raw: Any, org: Organisation) -> str:
    with pytest.raises(InvalidInput) as info:
        normalise(spec, raw, org)
    assert info.value.field == spec.name
    assert list(info.value.errors) == [spec.name]
    return info.value.reason


# --- text ---------------------------------------------------------------------------------------


def test_text_is_stripped_and_limited(org: Organisation) -> None:
    assert normalise(TITLE, "  十个字以内的标题  ", org) == "十个字以内的标题"
    assert normalise(TITLE, "一二三四五六七八九十", org) == "一二三四五六七八九十"
    reason = refused(TITLE, "一二三四五六七八九十一", org)
    assert "最多10个字" in reason and "实际11个字" in reason


def test_text_without_max_length_has_a_default_limit(org: Organisation) -> None:
    assert normalise(NOTES, "字" * 5000, org) == "字" * 5000
    assert "最多5000个字" in refused(NOTES, "字" * 5001, org)


@pytest.mark.parametrize("raw", [True, None, {"a": 1}, ["a"], "含\x00控制字符"])
def test_text_refuses_non_text(raw: Any, org: Organisation) -> None:
    refused(NOTES, raw, org)


# --- choices ------------------------------------------------------------------------------------


def test_choice(org: Organisation) -> None:
    assert normalise(CATEGORY, " 政策扶持 ", org) == "政策扶持"
    reason = refused(CATEGORY, "人才", org)
    assert "“人才”" in reason and "生产要素、政策扶持、其他" in reason


@pytest.mark.parametrize(
    "raw",
    [
        "环境违法、无证无照",
        "环境违法，无证无照",
        "环境违法,无证无照",
        " 环境违法 ；无证无照 ",
        ["环境违法", "无证无照"],
        "环境违法、无证无照、环境违法",
    ],
)
def test_choice_list_separators_and_duplicates(raw: Any, org: Organisation) -> None:
    assert normalise(VIOLATIONS, raw, org) == ["环境违法", "无证无照"]


def test_choice_list_refuses_unknown_and_empty(org: Organisation) -> None:
    assert "“噪声扰民”" in refused(VIOLATIONS, "环境违法、噪声扰民", org)
    assert "至少选择一项" in refused(VIOLATIONS, "、，", org)


# --- departments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("power", "power"),
        ("市供电公司", "power"),
        (" 市供电公司 ", "power"),
        ("经开区", "etdz"),
        ("桐城经济开发区", "etdz"),
        ("双新产业园", "shuangxin"),
        ("市企业服务中心", "enterprise_service"),
    ],
)
def test_department_by_code_name_and_alias(raw: str, code: str, org: Organisation) -> None:
    assert normalise(UNIT, raw, org) == code


def test_department_unknown(org: Organisation) -> None:
    assert "未知单位“市供热公司”" in refused(UNIT, "市供热公司", org)


@pytest.mark.parametrize(
    ("raw", "code"), [("kongcheng", "kongcheng"), ("龙腾街道", "longteng"), ("经开区", "etdz")]
)
def test_department_kinds_allow(raw: str, code: str, org: Organisation) -> None:
    assert normalise(TOWN, raw, org) == code


@pytest.mark.parametrize("raw", ["power", "市科经局", "sti"])
def test_department_kinds_restrict(raw: str, org: Organisation) -> None:
    reason = refused(TOWN, raw, org)
    assert "不是街道、镇或园区" in reason


def test_department_list(org: Organisation) -> None:
    assert normalise(CO_UNITS, "water、市海特燃气公司，经开区,water", org) == [
        "water",
        "gas",
        "etdz",
    ]
    assert "未知单位“自来水厂”" in refused(CO_UNITS, "water、自来水厂", org)


# --- dates and numbers ----------------------------------------------------------------------------


def test_date_iso_only(org: Organisation) -> None:
    assert normalise(DEADLINE, " 2026-10-31 ", org) == "2026-10-31"
    assert normalise(DEADLINE, date(2026, 2, 28), org) == "2026-02-28"


@pytest.mark.parametrize(
    "raw",
    [
        "2026/10/31",
        "20261031",
        "2026-10-31T00:00",
        "31.10.2026",
        "2026-02-30",
        "2026-13-01",
        "2026-1-5",
        "２０２６-１０-３１",
        "tomorrow",
        "",
    ],
)
def test_date_refused(raw: str, org: Organisation) -> None:
    assert "YYYY-MM-DD" in refused(DEADLINE, raw, org)


def test_date_given_a_datetime_is_never_stored_with_a_time(org: Organisation) -> None:
    # an instant has no single calendar day (UTC vs Asia/Shanghai): refuse rather than guess
    assert "不含时间" in refused(DEADLINE, datetime(2026, 10, 31, 9, 30, tzinfo=UTC), org)


@pytest.mark.parametrize(("raw", "value"), [("1", 1), (" 15 ", 15), (7, 7), ("１２", 12)])
def test_integer_within_bounds(raw: Any, value: int, org: Organisation) -> None:
    assert normalise(DAYS, raw, org) == value


@pytest.mark.parametrize("raw", ["0", "16", "-3", 100])
def test_integer_out_of_bounds(raw: Any, org: Organisation) -> None:
    assert "应在1到15之间" in refused(DAYS, raw, org)


@pytest.mark.parametrize("raw", ["7.5", "five", True, "", "1e1"])
def test_integer_refuses_non_integers(raw: Any, org: Organisation) -> None:
    assert "应为整数" in refused(DAYS, raw, org)


@pytest.mark.parametrize(
    ("raw", "value"), [("10234.5", "10234.5"), (" 0 ", "0"), (12, "12"), ("0.75", "0.75")]
)
def test_decimal(raw: Any, value: str, org: Organisation) -> None:
    assert normalise(METER, raw, org) == value


@pytest.mark.parametrize("raw", ["-1", "abc", "NaN", "Infinity", ""])
def test_decimal_refused(raw: str, org: Organisation) -> None:
    refused(METER, raw, org)


@pytest.mark.parametrize("raw", ["yes", "YES", " y ", "true", "1", "是", True])
def test_yes(raw: Any, org: Organisation) -> None:
    assert normalise(CUT_GAS, raw, org) == "yes"


@pytest.mark.parametrize("raw", ["no", "No", "n", "false", "0", "否", False])
def test_no(raw: Any, org: Organisation) -> None:
    assert normalise(CUT_GAS, raw, org) == "no"


@pytest.mark.parametrize("raw", ["maybe", "对", "2"])
def test_yes_no_refused(raw: str, org: Organisation) -> None:
    assert "yes 或 no" in refused(CUT_GAS, raw, org)


def test_uscc_field_normalises_and_names_the_field(org: Organisation) -> None:
    assert normalise(USCC, " 91340600ma2pbm9hxd ", org) == "91340600MA2PBM9HXD"
    assert "校验位" in refused(USCC, "914403001922038217", org)


# --- check_inputs: a whole action -----------------------------------------------------------------


def inputs(
    given: dict[str, Any],
    required: tuple[str, ...],
    optional: tuple[str, ...],
    org: Organisation,
    **kw: Any,
) -> dict[str, Any]:
    return check_inputs(FIELDS, given, required, optional, org, **kw)


def test_valid_inputs_are_normalised(org: Organisation) -> None:
    given = {"lead_unit": "市供电公司", "co_units": "water，gas", "days": "5", "title": " 标题 "}
    result = inputs(given, ("lead_unit", "days"), ("co_units", "title"), org)
    assert result == {
        "lead_unit": "power",
        "co_units": ["water", "gas"],
        "days": 5,
        "title": "标题",
    }


def test_unknown_key_is_rejected(org: Organisation) -> None:
    with pytest.raises(InvalidInput) as info:
        inputs(
            {"lead_unit": "power", "colour": "red"}, ("lead_unit",), ("days",), org, what="“交办”"
        )
    assert list(info.value.errors) == ["colour"]
    assert "“交办”不接受字段“colour”" in info.value.errors["colour"]
    assert "lead_unit、days" in info.value.errors["colour"]




@pytest.mark.parametrize(
    "blank",
    [
        None,
        "",
        "   ",
        [],
        ["", " "],
    ],
)
def test_missing_or_blank_required_is_named(blank: Any, org: Organisation) -> None:
    given = {} if blank is None else {"category": blank}
    with pytest.raises(InvalidInput) as info:
        inputs(given, ("category",), (), org)
    assert info.value.errors == {"category": "缺少必填字段“问题类别”（category）"}


def test_several_errors_reported_at_once(org: Organisation) -> None:
    given = {"lead_unit": "火星局", "days": "99", "deadline": "2026/10/01", "bogus": "1"}
    with pytest.raises(InvalidInput) as info:
        inputs(given, ("lead_unit", "days", "deadline", "category"), ("title",), org)
    errors = info.value.errors
    assert set(errors) == {"lead_unit", "days", "deadline", "bogus", "category"}
    assert "未知单位" in errors["lead_unit"] and "应在1到15之间" in errors["days"]
    assert "缺少必填字段" in errors["category"]
    assert all(f"{name}：" in info.value.message for name in errors)


def test_defaults_applied_only_when_not_given(org: Organisation) -> None:
    assert inputs({}, (), ("cut_gas", "source", "title"), org) == {
        "cut_gas": "no",
        "source": "其他",
    }
    assert inputs({"cut_gas": "是", "source": " "}, (), ("cut_gas", "source"), org) == {
        "cut_gas": "yes",
        "source": "其他",
    }
    assert inputs({}, (), ("title",), org) == {}  # no default, nothing invented


def test_allowed_values_narrow_a_choice(org: Organisation) -> None:
    narrow = {"category": ("生产要素",)}
    assert inputs({"category": "生产要素"}, ("category",), (), org, allowed_values=narrow) == {
        "category": "生产要素"
    }
    with pytest.raises(InvalidInput) as info:
        inputs({"category": "政策扶持"}, ("category",), (), org, allowed_values=narrow)
    assert list(info.value.errors) == ["category"]
    assert "在此操作中不可用" in info.value.errors["category"]
