"""Sample template contexts for every event, in the exact shape of ``notifications.events``.

Used to validate templates (``TemplateStore.check`` renders every variant), by the tests and by
the admin's preview. Two cases run through them: the Tongcheng enterprise problem
``QY-2026-00012`` (power capacity for a new production line, lead 市供电公司) and the
scattered-polluting site ``SLW-2026-00003`` in 孔城镇 (an unlicensed plastics-washing yard to be
banned and cleared). Dates follow the 2026 working-day calendar. All names are invented; people
appear only as roles or as 某某.

What each event's context holds (as ``notifications.outbox`` and ``notifications.periodic``
build it): per-case events ``case``, ``event``, ``recipient``, ``office`` and ``items`` (empty
except for ``item_request``); ``digest`` has ``digest``, ``recipient``, ``office``; ``bulletin``
has ``bulletin``, ``recipient``, ``office``. The case lists of the digest and the bulletin hold
case briefs (``cases.reports.case_brief``: number, title, type_label, state_label,
lead_unit_name, town_name, due_date, due_at, supervision, supervision_label,
supervision_colour), and bulletin rates are preformatted strings ("87.5%" or "—").
"""

import copy
from typing import Any

from notifications.events import EVENTS

ENTERPRISE = "enterprise_issue"
SITE = "scattered_polluting"

OFFICE = {
    "name": "桐城市传统产业转型升级联席会商会议办公室",
    "host": "市科经局",
    "contact": "联席办（设在市科经局），工作日 08:30–17:30，电话 0556-6120000",
}

LEVELS = {
    "normal": ("正常", ""),
    "warned": ("临期预警", "蓝"),
    "overdue": ("逾期催办", "黄"),
    "supervised": ("督办", "橙"),
    "listed": ("挂牌督办", "红"),
}

_ENTERPRISE_CASE: dict[str, Any] = {
    "number": "QY-2026-00012",
    "type": ENTERPRISE,
    "type_label": "企业问题",
    "title": "新建生产线用电增容报装及配套仓储用地规划调整",
    "summary": (
        "企业投资1.2亿元新建食品级塑料包装生产线，需新增2台1250kVA变压器。用电增容报装已于7月提交，"
        "至今未明确接入方案；厂区东侧配套仓储用地需调整规划条件。企业计划10月底通电试产，请求协调加快办理。"
    ),
    "state": "in_progress",
    "state_label": "办理中",
    "category": "生产要素",
    "enterprise_name": "安徽桐兴塑业包装有限公司",
    "uscc": "91340881MA2TK7LQ5X",
    "site_name": "",
    "operator": "",
    "address": "",
    "village": "",
    "town": "etdz",
    "town_name": "桐城经济开发区",
    "lead_unit": "power",
    "lead_unit_name": "市供电公司",
    "co_unit_names": ["市自然资源和规划局", "桐城经济开发区"],
    "instructions": (
        "请市供电公司牵头，会同市自然资源和规划局、经开区到企业现场办公，明确增容接入方案和送电时间节点；"
        "涉及用地规划调整的，由市自然资源和规划局依法依规办理。办结后书面答复联席办，答复须经单位负责人签发。"
    ),
    "due_date": "2026-10-19",
    "due_at": "2026-10-20 00:00",
    "due_text": "2026-10-19（10个工作日）",
    "supervision": "normal",
    "supervision_label": "正常",
    "supervision_colour": "",
    "link": "http://127.0.0.1:8000/cases/QY-2026-00012",
}

_SITE_CASE: dict[str, Any] = {
    "number": "SLW-2026-00003",
    "type": SITE,
    "type_label": "散乱污整治",
    "title": "孔城镇桐梓村废旧塑料清洗加工点",
    "summary": (
        "该点无营业执照、无环评手续，露天破碎清洗废旧塑料，清洗废水未经处理直排沟渠。认定为取缔关闭类："
        "市供水集团公司、市供电公司实施断水断电，孔城镇负责清除原料、产品和生产设备，"
        "市生态环境分局、市市场监管局依职责查处。"
    ),
    "state": "clearing",
    "state_label": "取缔关闭·两断三清实施中",
    "category": "环境违法、无证无照",
    "enterprise_name": "",
    "uscc": "",
    "site_name": "孔城镇桐梓村废旧塑料清洗加工点",
    "operator": "张某某",
    "address": "孔城镇桐梓村王屋组",
    "village": "桐梓村",
    "town": "kongcheng",
    "town_name": "孔城镇",
    "lead_unit": "",
    "lead_unit_name": "",
    "co_unit_names": [],
    "instructions": "",
    "due_date": "2026-10-10",
    "due_at": "2026-10-11 00:00",
    "due_text": "2026-10-10（15天）",
    "supervision": "normal",
    "supervision_label": "正常",
    "supervision_colour": "",
    "link": "http://127.0.0.1:8000/cases/SLW-2026-00003",
}

_PEOPLE: dict[str, dict[str, str]] = {
    "power_handler": {
        "username": "power_handler",
        "display_name": "市供电公司联络员",
        "department_name": "市供电公司",
    },
    "power_head": {
        "username": "power_head",
        "display_name": "市供电公司负责人",
        "department_name": "市供电公司",
    },
    "office": {
        "username": "office_dispatcher",
        "display_name": "联席办调度员",
        "department_name": "市科经局",
    },
    "convenor": {
        "username": "convenor_1",
        "display_name": "第一召集人",
        "department_name": "市政府办",
    },
    "town_handler": {
        "username": "kongcheng_handler",
        "display_name": "孔城镇联络员",
        "department_name": "孔城镇",
    },
    "town_head": {
        "username": "kongcheng_head",
        "display_name": "孔城镇负责人",
        "department_name": "孔城镇",
    },
    "ecology_handler": {
        "username": "ecology_handler",
        "display_name": "市生态环境分局联络员",
        "department_name": "市生态环境分局",
    },
    "water_handler": {
        "username": "water_handler",
        "display_name": "市供水集团公司联络员",
        "department_name": "市供水集团公司",
    },
    "market_handler": {
        "username": "market_handler",
        "display_name": "市市场监管局联络员",
        "department_name": "市市场监管局",
    },
    "nr_handler": {
        "username": "nr_handler",
        "display_name": "市自然资源和规划局联络员",
        "department_name": "市自然资源和规划局",
    },
}

_ACTORS: dict[str, tuple[str, str, str]] = {
    "office": ("office_dispatcher", "联席办调度员", "市科经局"),
    "power": ("power_handler", "市供电公司联络员", "市供电公司"),
    "town": ("kongcheng_handler", "孔城镇联络员", "孔城镇"),
    "water": ("water_handler", "市供水集团公司联络员", "市供水集团公司"),
    "market": ("market_handler", "市市场监管局联络员", "市市场监管局"),
    "system": ("system", "系统", ""),
}


def _case(base: dict[str, Any], level: str = "normal", **changes: Any) -> dict[str, Any]:
    case = copy.deepcopy(base)
    case.update(changes)
    label, colour = LEVELS[level]
    case.update(supervision=level, supervision_label=label, supervision_colour=colour)
    return case


def _event(
    name: str,
    at: str,
    actor: str = "office",
    *,
    comment: str = "",
    reason: str = "",
    fields: dict[str, str] | None = None,
) -> dict[str, Any]:
    username, display, unit = _ACTORS[actor]
    fields = dict(fields or {})
    if reason:
        fields.setdefault("reason", reason)
    return {
        "name": name,
        "label": EVENTS[name].label,
        "at": at,
        "actor": username,
        "actor_name": display,
        "actor_unit_name": unit,
        "comment": comment,
        "reason": reason,
        "fields": fields,
    }


def _context(
    case: dict[str, Any],
    event: dict[str, Any],
    recipient: str,
    items: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "case": case,
        "event": event,
        "recipient": dict(_PEOPLE[recipient]),
        "office": dict(OFFICE),
        "items": items or [],
    }


def brief(case: dict[str, Any]) -> dict[str, Any]:
    """A case as the digest and the bulletin list it (``cases.reports.case_brief``)."""
    keys = ("number", "title", "type_label", "state_label", "lead_unit_name", "town_name", "due_date", "due_at",
            "supervision", "supervision_label", "supervision_colour")  # fmt: skip
    return {k: case[k] for k in keys}


def _item(key: str, label: str, executor: str, done: bool = False) -> dict[str, Any]:
    return {"key": key, "label": label, "executor_name": executor, "done": done}


# --- the enterprise problem, step by step ---------------------------------------------------


def _enterprise(event: str) -> list[tuple[str, dict[str, Any]]]:
    e = _ENTERPRISE_CASE
    if event == "assigned":
        case = _case(e, state="assigned", state_label="已交办·待签收", due_date="2026-09-30", due_at="2026-10-01 00:00",
                     due_text="2026-09-30（1个工作日）")  # fmt: skip
        ev = _event("assigned", "2026-09-29 10:15", fields={
            "lead_unit": "power", "co_units": "natural_resources、etdz", "class": "general", "instructions": e["instructions"],
        })  # fmt: skip
        return [
            ("企业问题·主办单位", _context(case, ev, "power_handler")),
            ("企业问题·协办单位", _context(case, ev, "nr_handler")),
        ]
    if event == "returned":
        case = _case(e, state="registered", state_label="已登记", due_date="2026-10-08", due_at="2026-10-09 00:00",
                     due_text="2026-10-08（1个工作日）")  # fmt: skip
        ev = _event(
            "returned",
            "2026-09-30 09:40",
            "power",
            reason="该问题主要涉及仓储用地规划条件调整，不属我单位职责，建议改由市自然资源和规划局主办，我单位协办用电接入事项。",
        )
        return [("企业问题", _context(case, ev, "office"))]
    if event == "extension_decided":
        approved = _event(
            "extension_decided",
            "2026-10-15 16:20",
            comment="同意延期，请于新期限内办结，不再延期。",
            fields={"days": "5"},
        )
        rejected = _event(
            "extension_decided",
            "2026-10-15 16:20",
            reason="变压器供货周期不是延期理由，请先行明确临时接电方案，按原期限答复。",
        )
        case_a = _case(e, due_date="2026-10-26", due_at="2026-10-27 00:00", due_text="2026-10-26（15个工作日）")
        return [
            ("企业问题·批准延期", _context(case_a, approved, "power_handler")),
            ("企业问题·不予延期", _context(_case(e), rejected, "power_handler")),
        ]
    if event == "answered":
        case = _case(e, state="answered", state_label="已答复·待审核", due_date="2026-10-27", due_at="2026-10-28 00:00",
                     due_text="2026-10-27（2个工作日）")  # fmt: skip
        ev = _event("answered", "2026-10-23 15:30", "power", fields={
            "result": "resolved",
            "reply": "经现场办公，确定由开发区10kV桐兴线新建专线接入，10月28日前完成变压器安装调试，10月30日前送电；"
                     "仓储用地规划条件调整已由市自然资源和规划局受理，预计11月中旬完成论证。",
            "signed_by": "分管负责人 陈某某",
        })  # fmt: skip
        return [("企业问题", _context(case, ev, "office"))]
    if event == "sent_back":
        case = _case(e, due_date="2026-11-02", due_at="2026-11-03 00:00", due_text="2026-11-02（5个工作日）")
        back = _event(
            "sent_back",
            "2026-10-26 10:00",
            reason="答复未附协办单位市自然资源和规划局的反馈意见，送电时间节点缺少责任人，请补充后重新答复。",
        )
        reopen = _event("sent_back", "2026-10-29 11:00", reason="回访企业：变压器已安装，但至今未送电，企业不满意。",
                        fields={"satisfaction": "不满意"})  # fmt: skip
        return [
            ("企业问题·驳回重办", _context(case, back, "power_handler")),
            ("企业问题·回访不满意重办", _context(case, reopen, "power_handler")),
        ]
    if event == "follow_up_due":
        case = _case(e, state="follow_up", state_label="待回访", due_date="2026-10-29", due_at="2026-10-30 00:00",
                     due_text="2026-10-29（2个工作日）")  # fmt: skip
        return [("企业问题", _context(case, _event("follow_up_due", "2026-10-27 09:00"), "office"))]
    if event == "closed":
        case = _case(e, state="closed", state_label="已销号", due_date="", due_at="", due_text="")
        ev = _event("closed", "2026-10-28 16:00", fields={"satisfaction": "满意"})
        return [("企业问题", _context(case, ev, "power_handler"))]
    if event == "warned":
        return [
            (
                "企业问题",
                _context(
                    _case(e, "warned"),
                    _event("warned", "2026-10-19 00:00", "system"),
                    "power_handler",
                ),
            )
        ]
    if event == "overdue":
        return [
            (
                "企业问题",
                _context(
                    _case(e, "overdue"),
                    _event("overdue", "2026-10-20 00:00", "system"),
                    "power_head",
                ),
            )
        ]
    if event == "supervised":
        auto = _event("supervised", "2026-10-23 00:00", "system")
        by_hand = _event(
            "supervised",
            "2026-10-22 09:30",
            reason="企业反映送电时间一再推迟，影响试产，提请督办。",
        )
        return [
            ("企业问题·到期自动督办", _context(_case(e, "supervised"), auto, "power_head")),
            ("企业问题·联席办督办", _context(_case(e, "supervised"), by_hand, "office")),
        ]
    if event == "listed":
        return [
            (
                "企业问题",
                _context(_case(e, "listed"), _event("listed", "2026-10-27 00:00", "system"), "convenor"),
            )
        ]
    if event == "raised":
        case = _case(e, due_date="2026-11-26", due_at="2026-11-27 00:00", due_text="2026-11-26（5个工作日）")
        ev = _event("raised", "2026-11-19 10:00", reason="第二次回访企业仍不满意：专线已送电，但仓储用地规划调整仍无进展。",
                    fields={"satisfaction": "非常不满意"})  # fmt: skip
        return [("企业问题", _context(case, ev, "convenor"))]
    return []


# --- the scattered-polluting site ------------------------------------------------------------


def _site(event: str) -> list[tuple[str, dict[str, Any]]]:
    s = _SITE_CASE
    if event == "assigned":
        ev = _event("assigned", "2026-09-25 10:00", fields={"plan": s["summary"], "cut_gas": "no"})
        return [("散乱污", _context(_case(s), ev, "town_handler"))]
    if event == "item_request":
        ban = _event("item_request", "2026-09-25 10:00", fields={"plan": s["summary"], "cut_gas": "no"})
        power = [_item("cut_power", "断电", "市供电公司")]
        town = [_item("clear_materials", "清除原料", "孔城镇"), _item("clear_products", "清除产品", "孔城镇"),
                _item("clear_equipment", "清除设备", "孔城镇")]  # fmt: skip
        rectify_case = _case(s, state="rectifying", state_label="整顿规范·限期整改中", due_date="2026-10-25", due_at="2026-10-26 00:00",
                             due_text="2026-10-25（30天）", category="无证无照")  # fmt: skip
        rectify = _event(
            "item_request",
            "2026-09-25 10:00",
            fields={"items": "business_license、pollution_control", "deadline": "2026-10-25"},
        )
        rectify_items = [
            _item("business_license", "营业执照", "孔城镇"),
            _item("pollution_control", "污染治理设施", "孔城镇"),
        ]
        return [
            ("散乱污·断电（市供电公司）", _context(_case(s), ban, "power_handler", power)),
            ("散乱污·三清（孔城镇）", _context(_case(s), ban, "town_handler", town)),
            ("散乱污·整顿规范", _context(rectify_case, rectify, "town_handler", rectify_items)),
        ]
    if event in ("item_decision_requested", "item_decided"):
        return _item_decisions(event)
    if event == "acceptance":
        case = _case(s, state="acceptance", state_label="验收中", due_date="2026-10-15", due_at="2026-10-16 00:00",
                     due_text="2026-10-15（5个工作日）")  # fmt: skip
        ev = _event(
            "acceptance",
            "2026-10-09 15:00",
            "town",
            fields={"notes": "已断水断电（电表读数 10234.6），原料、产品和设备已全部清运。"},
        )
        return [
            ("散乱污·属地", _context(case, ev, "town_handler")),
            ("散乱污·复核部门", _context(case, ev, "ecology_handler")),
        ]
    if event == "closed":
        case = _case(
            s,
            state="closed",
            state_label="已销号",
            due_date="2026-11-13",
            due_at="2026-11-14 00:00",
            due_text="2026-11-13（30天）",
        )
        return [("散乱污", _context(case, _event("closed", "2026-10-14 11:00"), "town_handler"))]
    if event == "revisit_due":
        case = _case(s, state="revisit_due", state_label="待回头看", due_date="2026-11-20", due_at="2026-11-21 00:00",
                     due_text="2026-11-20（5个工作日）")  # fmt: skip
        return [
            (
                "散乱污",
                _context(case, _event("revisit_due", "2026-11-14 00:00", "system"), "town_handler"),
            )
        ]
    moments = {
        "warned": "2026-10-10 00:00",
        "overdue": "2026-10-11 00:00",
        "supervised": "2026-10-15 00:00",
        "listed": "2026-10-17 00:00",
    }
    if event in moments:
        recipient = {
            "warned": "town_handler",
            "overdue": "town_head",
            "supervised": "town_head",
            "listed": "convenor",
        }[event]
        return [
            (
                "散乱污",
                _context(_case(s, event), _event(event, moments[event], "system"), recipient),
            )
        ]
    return []


def _item_decisions(event: str) -> list[tuple[str, dict[str, Any]]]:
    """A well's 断水 declared 不适用 and ruled on; a licence reported and confirmed or sent back."""
    s = _SITE_CASE
    rectify = _case(s, state="rectifying", state_label="整顿规范·限期整改中", due_date="2026-10-25",
                    due_at="2026-10-26 00:00", due_text="2026-10-25（30天）", category="无证无照")  # fmt: skip

    def item(ev: dict[str, Any], key: str, label: str, decision: str, decider: str) -> dict[str, Any]:
        return {**ev, "item": {"key": key, "label": label}, "decision": decision, "decider_name": decider}

    if event == "item_decision_requested":
        waive = item(_event(event, "2026-09-25 09:30", "water", reason="该场所使用自备井取水，未接入公共供水管网，无水可断。"),
                     "cut_water", "断水", "waive", "市科经局")  # fmt: skip
        report = item(_event(event, "2026-10-20 15:00", "town", fields={"notes": "已取得营业执照，见附件。"}),
                      "business_license", "营业执照", "report", "市市场监管局")  # fmt: skip
        ruling = _case(s, due_date="2026-09-28", due_at="2026-09-29 00:00", due_text="2026-09-28（审批不适用申请（断水））")
        confirming = _case(rectify, due_date="2026-10-27", due_at="2026-10-28 00:00", due_text="2026-10-27（确认营业执照）")
        return [
            ("散乱污·不适用申请（联席办审批）", _context(ruling, waive, "office")),
            ("散乱污·营业执照待确认（市市场监管局）", _context(confirming, report, "market_handler")),
        ]
    approve = item(_event(event, "2026-09-26 14:00", "office"), "cut_water", "断水", "approve_waiver", "市科经局")
    reject = item(_event(event, "2026-10-22 10:00", "market", reason="营业执照经营范围与现场生产内容不符，请补充材料后重新上报。"),
                  "business_license", "营业执照", "reject", "市市场监管局")  # fmt: skip
    return [
        ("散乱污·不适用申请已批准", _context(_case(s), approve, "water_handler")),
        ("散乱污·营业执照退回重办", _context(rectify, reject, "town_handler")),
    ]


# --- the digest and the bulletin ---------------------------------------------------------------


def _digest() -> list[tuple[str, dict[str, Any]]]:
    warned = brief(_case(_ENTERPRISE_CASE, "warned"))
    other = brief(_case(_ENTERPRISE_CASE, number="QY-2026-00015", title="高新技术企业认定申报辅导", due_date="2026-10-27",
                        due_at="2026-10-28 00:00", lead_unit_name="市供电公司"))  # fmt: skip
    site = brief(_case(_SITE_CASE, "listed"))
    digest = {
        "unit_name": "市供电公司",
        "date": "2026-10-19",
        "todo": [warned, other, site],
        "due_soon": [warned],
        "overdue": [site],
    }
    empty = {
        "unit_name": "市商务局",
        "date": "2026-10-19",
        "todo": [],
        "due_soon": [],
        "overdue": [],
    }
    return [
        (
            "市供电公司",
            {"digest": digest, "recipient": dict(_PEOPLE["power_handler"]), "office": dict(OFFICE)},
        ),
        (
            "无待办",
            {
                "digest": empty,
                "recipient": {
                    "username": "commerce_handler",
                    "display_name": "市商务局联络员",
                    "department_name": "市商务局",
                },
                "office": dict(OFFICE),
            },
        ),
    ]


def _row(rank: int, unit: str, name: str, *figures: Any) -> dict[str, Any]:
    keys = ("assigned", "on_time_accept_rate", "returned", "completed", "on_time_rate", "current_overdue", "total_overdue",
            "avg_days", "extensions", "satisfaction_rate", "reworks", "warned", "overdue", "supervised", "listed")  # fmt: skip
    return {"rank": rank, "rank_label": str(rank), "unit": unit, "unit_name": name,
            **dict(zip(keys, figures, strict=True))}  # fmt: skip


def _bulletin() -> list[tuple[str, dict[str, Any]]]:
    # fmt: off
    rows = [
        _row(1, "natural_resources", "市自然资源和规划局", 4, "100.0%", 0, 3, "100.0%", 0, 0, 6.3, 0, "100.0%", 0, 0, 0, 0, 0),
        _row(2, "market_regulation", "市市场监管局", 3, "100.0%", 0, 2, "100.0%", 0, 1, 4.5, 1, "100.0%", 0, 1, 0, 0, 0),
        _row(3, "etdz", "桐城经济开发区", 5, "80.0%", 1, 3, "66.7%", 1, 1, 8.0, 0, "66.7%", 1, 1, 1, 0, 0),
        _row(4, "ecology", "市生态环境分局", 2, "100.0%", 0, 0, "—", 0, 0, "—", 0, "—", 0, 0, 0, 0, 0),
        _row(5, "power", "市供电公司", 6, "83.3%", 1, 2, "50.0%", 1, 2, 11.5, 1, "50.0%", 2, 2, 1, 1, 1),
        _row(6, "kongcheng", "孔城镇", 3, "100.0%", 0, 1, "0.0%", 1, 1, 12.0, 0, "—", 0, 1, 1, 1, 1),
    ]
    # fmt: on
    overdue = [brief(_case(_SITE_CASE, "listed")), brief(_case(_ENTERPRISE_CASE, "listed"))]
    overdue[0].update(obligation="cut_power", obligation_label="断电", unit="power", unit_name="市供电公司")
    overdue[1].update(obligation="handle", obligation_label="办理并答复", unit="kongcheng", unit_name="孔城镇")
    towns = [
        _town("etdz", "桐城经济开发区", 0, 1, 1, 0, 4, 4, 1, 0, 0, 0, 0, 0),
        _town("kongcheng", "孔城镇", 1, 3, 1, 1, 2, 5, 0, 0, 0, 0, 2, 1),
    ]
    towns.append(_town("", "合计", *(sum(t[k] for t in towns) for k in _TOWN_KEYS)))
    bulletin = {
        "week": "2026-W43",
        "period": "2026-10-19 至 2026-10-25",
        "year": 2026,
        "rows": rows,
        "overall": [
            {"key": "registered", "label": "新登记企业问题（件）", "week": 12, "year": 310},
            {"key": "sites_found", "label": "新发现“散乱污”场所（处）", "week": 1, "year": 4},
            {"key": "assigned", "label": "交办（件）", "week": 23, "year": 402},
            {"key": "accepted", "label": "签收（件）", "week": 21, "year": 398},
            {"key": "completed", "label": "办结（件）", "week": 11, "year": 356},
            {"key": "on_time_rate", "label": "按期办结率", "week": "81.8%", "year": "93.2%"},
            {"key": "overdue_open", "label": "当前超期（项）", "week": 4, "year": 4},
            {"key": "supervised", "label": "督办（项）", "week": 2, "year": 9},
            {"key": "listed", "label": "挂牌督办（项）", "week": 2, "year": 3},
        ],
        "towns": towns,
        "timeliness": {
            "utilities": [
                _timely("water", "市供水集团公司", "断水", 2, 2, 1, 2, "100.0%", 0, 1.5),
                _timely("power", "市供电公司", "断电", 2, 1, 0, 0, "0.0%", 1, 4.0),
                _timely("gas", "市海特燃气公司", "断气", 0, 0, 0, 0, "—", 0, "—"),
            ],
            "co_units": [_timely("ecology", "市生态环境分局", "协办反馈", 3, 2, 1, 2, "100.0%", 1, 2.5)],
        },
        "overdue_cases": overdue,
        "red": ["市自然资源和规划局", "市市场监管局", "桐城经济开发区"],
        "black": ["孔城镇", "市供电公司", "市生态环境分局"],
        "requirements": {
            "text": REQUIREMENTS, "paragraphs": REQUIREMENTS.split("\n"), "custom": False, "edited_by": None,
            "edited_at": None,
        },
    }  # fmt: skip
    quiet = {
        "week": "2026-W44",
        "period": "2026-10-26 至 2026-11-01",
        "rows": [],
        "overdue_cases": [],
    }
    own = {
        "unit": "power", "unit_name": "市供电公司", "row": rows[4], "overdue": [overdue[0]], "town": None,
        "timeliness": [bulletin["timeliness"]["utilities"][1]], "ranked": len(rows),
    }  # fmt: skip
    return [
        (
            "第43周",
            {"bulletin": bulletin, "recipient": dict(_PEOPLE["convenor"]), "office": dict(OFFICE)},
        ),
        ("空周", {"bulletin": quiet, "recipient": dict(_PEOPLE["office"]), "office": dict(OFFICE)}),
        ("成员单位（本单位情况在前）", {"bulletin": {**bulletin, "own": own}, "recipient": dict(_PEOPLE["power_handler"]), "office": dict(OFFICE)}),
    ]


REQUIREMENTS = (
    "一是压实办理责任。各成员单位要严格落实“一把手”负责制，按时签收、按期办结。\n"
    "二是限期清理超期事项。责任单位要于收到通报后3个工作日内办结，并书面说明超期原因。"
)
_TOWN_KEYS = ("found_week", "found_year", "banned", "rectified", "clearing_done", "clearing_owed", "passed", "failed",
              "revisited", "relapsed", "open", "overdue")  # fmt: skip


def _town(unit: str, name: str, *figures: int) -> dict[str, Any]:
    values = dict(zip(_TOWN_KEYS, figures, strict=True))
    return {"unit": unit, "unit_name": name, **values, "clearing": f"{values['clearing_done']}/{values['clearing_owed']}"}


def _timely(unit: str, name: str, item: str, *figures: Any) -> dict[str, Any]:
    keys = ("owed", "done", "done_week", "on_time", "on_time_rate", "overdue_now", "avg_days")
    return {"unit": unit, "unit_name": name, "item": item, **dict(zip(keys, figures, strict=True))}


CASE_TYPES: dict[str, tuple[str, ...]] = {
    "assigned": (ENTERPRISE, SITE),
    "returned": (ENTERPRISE,),
    "extension_decided": (ENTERPRISE,),
    "answered": (ENTERPRISE,),
    "sent_back": (ENTERPRISE,),
    "follow_up_due": (ENTERPRISE,),
    "closed": (ENTERPRISE, SITE),
    "warned": (ENTERPRISE, SITE),
    "overdue": (ENTERPRISE, SITE),
    "supervised": (ENTERPRISE, SITE),
    "listed": (ENTERPRISE, SITE),
    "raised": (ENTERPRISE,),
    "item_request": (SITE,),
    "item_decision_requested": (SITE,),
    "item_decided": (SITE,),
    "acceptance": (SITE,),
    "revisit_due": (SITE,),
    "digest": (),
    "bulletin": (),
}
"""Which workflows raise each per-case event (``digest`` and ``bulletin`` are about many)."""


def sample_contexts(event: str) -> list[tuple[str, dict[str, Any]]]:
    """Every sample of ``event`` as (label, context), fresh copies; the first is the main one."""
    if event not in EVENTS:
        raise KeyError(f"unknown event {event!r}")
    if event == "digest":
        return _digest()
    if event == "bulletin":
        return _bulletin()
    result = []
    for case_type in CASE_TYPES[event]:
        result.extend(_enterprise(event) if case_type == ENTERPRISE else _site(event))
    return result


def sample_context(event: str, case_type: str | None = None) -> dict[str, Any]:
    """The main sample of ``event``; ``case_type`` picks the enterprise or the site case."""
    for _label, context in sample_contexts(event):
        if case_type is None or context.get("case", {}).get("type") == case_type:
            return context
    raise KeyError(f"no {case_type} sample for event {event!r}")
