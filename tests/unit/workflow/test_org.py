"""The organisation (``workflow.org``): the shipped ``config/departments.yaml`` matches DOMAIN.md
§1, departments resolve by code, Chinese name or alias, and broken organisation data is refused
with the file and the key."""

from typing import Any

import pytest

from workflow.errors import DefinitionError, InvalidInput
from workflow.org import Organisation, check_roles, organisation_from_data

STREETS = {
    "longteng": ("龙腾街道", "340881001"),
    "wenchang": ("文昌街道", "340881002"),
    "longmian": ("龙眠街道", "340881003"),
}
TOWNS = [
    "孔城镇",
    "吕亭镇",
    "范岗镇",
    "新渡镇",
    "双港镇",
    "大关镇",
    "青草镇",
    "金神镇",
    "嬉子湖镇",
    "唐湾镇",
    "黄甲镇",
    "鲟鱼镇",
]
PARKS = {
    "经开区": ("桐城经济开发区", "340881400"),
    "双新产业园": ("桐城双新经济开发区", "340881401"),
}
MEMBER_UNITS = [
    "市政府办",
    "经开区",
    "双新产业园",
    "市委组织部",
    "市委宣传部",
    "团市委",
    "市工商联",
    "市发改委",
    "市科经局",
    "市财政局",
    "市自然资源和规划局",
    "市商务局",
    "市应急管理局",
    "市市场监管局",
    "市统计局",
    "市城市管理局",
    "市生态环境分局",
    "市企业服务中心（科技创新服务中心）",
    "市税务局",
    "桐云科技公司",
    "市供电公司",
    "市供水集团公司",
    "市海特燃气公司",
]


def test_shipped_organisation(org: Organisation) -> None:
    kinds = [d.kind for d in org.departments]
    assert (kinds.count("street"), kinds.count("town"), kinds.count("park")) == (3, 12, 2)
    assert org.name(org.office) == "市科经局"
    for code, (name, region) in STREETS.items():
        assert org.get(code).name == name and org.get(code).region == region
    towns = [d for d in org.departments if d.kind == "town"]
    assert [d.name for d in towns] == TOWNS
    assert [d.region for d in towns] == [f"340881{n}" for n in range(100, 112)]
    for alias, (name, region) in PARKS.items():
        park = org.find(alias)
        assert park is not None and (park.name, park.kind, park.region) == (name, "park", region)
    assert set(org.role_names) == {
        "collector",
        "dispatcher",
        "handler",
        "unit_head",
        "supervisor",
        "convenor",
        "admin",
    }


@pytest.mark.parametrize("name", MEMBER_UNITS)
def test_every_member_unit_is_listed(name: str, org: Organisation) -> None:
    code = org.resolve(name)
    assert org.get(code).code == code and code.isascii()


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("water", "water"),
        ("市供水集团公司", "water"),
        ("经开区", "etdz"),
        ("经济技术开发区", "etdz"),
        (" gas ", "gas"),
    ],
)
def test_resolve(key: str, code: str, org: Organisation) -> None:
    assert org.resolve(key) == code


@pytest.mark.parametrize("key", ["", "Water", "供水公司", "340881100", "市长"])
def test_resolve_refuses_unknown(key: str, org: Organisation) -> None:
    with pytest.raises(InvalidInput) as info:
        org.resolve(key, "lead_unit")
    assert info.value.field == "lead_unit"
    assert f"未知单位“{key}”" in info.value.reason


def test_resolve_refuses_wrong_kind(org: Organisation) -> None:
    with pytest.raises(InvalidInput) as info:
        org.resolve("市供电公司", "town", ("street", "town", "park"))
    assert info.value.errors == {"town": "“市供电公司”不是街道、镇或园区"}


def minimal_org(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "office": "sti",
        "departments": [
            {"code": "sti", "name": "市科经局", "kind": "unit"},
            {"code": "kongcheng", "name": "孔城镇", "kind": "town", "region": "340881100"},
        ],
    }
    data.update(extra)
    return data


def test_minimal_organisation_loads() -> None:
    org = organisation_from_data(minimal_org(), "departments.yaml")
    assert org.codes() == ["sti", "kongcheng"] and org.codes(["town"]) == ["kongcheng"]


@pytest.mark.parametrize(
    "duplicate",
    [
        {"code": "sti2", "name": "市科经局", "kind": "unit"},
        {"code": "sti", "name": "科经局", "kind": "unit"},
        {"code": "kc", "name": "孔城", "kind": "town", "aliases": ["孔城镇"]},
    ],
    ids=["name", "code", "alias"],
)
def test_organisation_refuses_duplicates(duplicate: dict[str, Any]) -> None:
    data = minimal_org()
    data["departments"].append(duplicate)
    with pytest.raises(DefinitionError) as info:
        organisation_from_data(data, "departments.yaml")
    assert (info.value.file, info.value.key) == ("departments.yaml", "departments[2]")
    assert "already used" in info.value.reason


def test_organisation_refuses_unknown_office() -> None:
    with pytest.raises(DefinitionError) as info:
        organisation_from_data(minimal_org(office="mayor"), "departments.yaml")
    assert (info.value.file, info.value.key) == ("departments.yaml", "office")


@pytest.mark.parametrize(
    ("change", "key"),
    # roles are configuration (issue 12): a new one is accepted with its Chinese name, refused without
    [({"roles": {"boss": ""}}, "roles.boss"), ({"roles": {"system": "系统"}}, "roles.system"), ({"departments": []}, "departments")],
)
def test_organisation_refuses_other_faults(change: dict[str, Any], key: str) -> None:
    with pytest.raises(DefinitionError) as info:
        organisation_from_data(minimal_org(**change), "departments.yaml")
    assert info.value.key == key


def test_a_configured_role_is_a_role_like_the_others() -> None:
    org = organisation_from_data(minimal_org(roles={"expert": "评审专家"}), "departments.yaml")
    assert org.roles[-1] == "expert" and "dispatcher" in org.roles and org.role_names["expert"] == "评审专家"
    assert check_roles(["expert", "handler"], allowed=org.roles) == {"expert", "handler"}
    with pytest.raises(InvalidInput, match="未知角色“boss”"):
        check_roles(["boss"], allowed=org.roles)


@pytest.mark.parametrize(
    ("department", "key"),
    [
        ({"code": "供电", "name": "市供电公司", "kind": "unit"}, "departments[2].code"),
        ({"code": "power", "name": " ", "kind": "unit"}, "departments[2].name"),
        ({"code": "power", "name": "市供电公司", "kind": "company"}, "departments[2].kind"),
    ],
)
def test_organisation_refuses_bad_department(department: dict[str, Any], key: str) -> None:
    data = minimal_org()
    data["departments"].append(department)
    with pytest.raises(DefinitionError) as info:
        organisation_from_data(data, "departments.yaml")
    assert info.value.key == key


def test_resolve_unknown_town_lists_the_towns(org: Organisation) -> None:
    with pytest.raises(InvalidInput) as info:
        org.resolve("火星镇", "town", ("street", "town", "park"))
    reason = info.value.reason
    assert reason.startswith("没有名为“火星镇”的街道、镇或园区；可选：")
    towns = [d.name for d in org.departments if d.kind in ("street", "town", "park")]
    assert towns and all(name in reason for name in towns)
    assert "市供电公司" not in reason
