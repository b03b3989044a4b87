"""Sample template contexts for every event, in the exact shape of ``notifications.events``.

Used to validate templates (``TemplateStore.check`` renders every variant), by the tests and by
the admin's preview. The samples of a case type are data beside its templates:
``config/templates/<type>/samples.yaml`` (a base ``case`` and, per event, samples that change it
and give the event, the recipient and the items); a type without such a file gets samples built
from its definition (``spec_samples``). The digest and the bulletin, which are about many cases,
are built here from the first two sample types' cases (the enterprise problem ``QY-2026-00012``
and the site ``SLW-2026-00003``). All names are invented; people appear only as roles or 某某.

What each event's context holds (as ``notifications.outbox`` and ``notifications.periodic``
build it): per-case events ``case``, ``event``, ``recipient``, ``office`` and ``items`` (empty
except for ``item_request``); ``digest`` has ``digest``, ``recipient``, ``office``; ``bulletin``
has ``bulletin``, ``recipient``, ``office``. The case lists of the digest and the bulletin hold
case briefs (``cases.reports.case_brief``: number, title, type_label, state_label,
lead_unit_name, town_name, due_date, due_at, supervision, supervision_label,
supervision_colour), and bulletin rates are preformatted strings ("87.5%" or "—").
"""

import copy
from functools import cache
from pathlib import Path
from typing import Any

from notifications.events import EVENTS, EventSpec
from workflow.spec import WorkflowSpec
from workflow.yamlfile import load_file

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "config" / "templates"
"""Shipped per-type samples: ``<type>/samples.yaml``."""

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


def _case(base: dict[str, Any], level: str = "normal", **changes: Any) -> dict[str, Any]:
    case = copy.deepcopy(base)
    case.update(changes)
    label, colour = LEVELS[level]
    case.update(supervision=level, supervision_label=label, supervision_colour=colour)
    return case


def brief(case: dict[str, Any]) -> dict[str, Any]:
    """A case as the digest and the bulletin list it (``cases.reports.case_brief``)."""
    keys = ("number", "title", "type_label", "state_label", "lead_unit_name", "town_name", "due_date", "due_at",
            "supervision", "supervision_label", "supervision_colour")  # fmt: skip
    return {k: case[k] for k in keys}


# --- the digest and the bulletin ---------------------------------------------------------------


def _digest() -> list[tuple[str, dict[str, Any]]]:
    warned = brief(_case(_base(ENTERPRISE), "warned"))
    other = brief(_case(_base(ENTERPRISE), number="QY-2026-00015", title="高新技术企业认定申报辅导", due_date="2026-10-27",
                        due_at="2026-10-28 00:00", lead_unit_name="市供电公司"))  # fmt: skip
    site = brief(_case(_base(SITE), "listed"))
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
    overdue = [brief(_case(_base(SITE), "listed")), brief(_case(_base(ENTERPRISE), "listed"))]
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
        (
            "成员单位（本单位情况在前）",
            {"bulletin": {**bulletin, "own": own}, "recipient": dict(_PEOPLE["power_handler"]), "office": dict(OFFICE)},
        ),
    ]


REQUIREMENTS = (
    "一是压实办理责任。各成员单位要严格落实“一把手”负责制，按时签收、按期办结。\n"
    "二是限期清理超期事项。责任单位要于收到通报后3个工作日内办结，并书面说明超期原因。"
)
_TOWN_KEYS = ("found_week", "found_year", "banned", "rectified", "clearing_done", "clearing_owed", "passed", "failed",
              "revisited", "relapsed", "open", "overdue")  # fmt: skip


def _town(unit: str, name: str, *figures: int) -> dict[str, Any]:
    values = dict(zip(_TOWN_KEYS, figures, strict=True))
    return {
        "unit": unit,
        "unit_name": name,
        **values,
        "clearing": f"{values['clearing_done']}/{values['clearing_owed']}",
    }


def _timely(unit: str, name: str, item: str, *figures: Any) -> dict[str, Any]:
    keys = ("owed", "done", "done_week", "on_time", "on_time_rate", "overdue_now", "avg_days")
    return {"unit": unit, "unit_name": name, "item": item, **dict(zip(keys, figures, strict=True))}


# --- per-type samples -----------------------------------------------------------------------


@cache
def _stories() -> dict[str, dict[str, Any]]:
    """Every ``<type>/samples.yaml`` shipped, by type, in the order of the type names."""
    found = {}
    for path in sorted(SAMPLE_DIR.glob("*/samples.yaml")):
        data = load_file(path) or {}
        if isinstance(data, dict) and isinstance(data.get("case"), dict):
            found[path.parent.name] = data
    return found


SAMPLE_TYPES: tuple[str, ...] = tuple(_stories())
"""Types with shipped samples; the first two are the enterprise problem and the site, whose
cases the digest and the bulletin samples list."""
ENTERPRISE, SITE = (SAMPLE_TYPES + ("", ""))[:2]


def _base(case_type: str) -> dict[str, Any]:
    return copy.deepcopy(_stories()[case_type]["case"])


def _story_samples(case_type: str, event: str) -> list[tuple[str, dict[str, Any]]]:
    story = _stories().get(case_type) or {}
    result = []
    for raw in (story.get("events") or {}).get(event) or []:
        case = {**_base(case_type), **copy.deepcopy(raw.get("case") or {})}
        given = copy.deepcopy(raw.get("event") or {})
        fields = dict(given.get("fields") or {})
        label = EVENTS[event].label if event in EVENTS else event
        ev = {"name": event, "label": label, **given, "fields": fields,
              "values": {**fields, **(given.get("values") or {})}, "period": given.get("period") or {}}  # fmt: skip
        context = {"case": case, "event": ev, "recipient": dict(raw.get("recipient") or {}), "office": dict(OFFICE),
                   "items": copy.deepcopy(raw.get("items") or [])}  # fmt: skip
        result.append((str(raw.get("label") or case_type), context))
    return result


CASE_TYPES: dict[str, tuple[str, ...]] = {
    name: tuple(t for t in SAMPLE_TYPES if (_stories()[t].get("events") or {}).get(name)) for name in EVENTS
}
"""Which sample types raise each per-case event (``digest`` and ``bulletin`` are about many)."""


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
        result.extend(_story_samples(case_type, event))
    return result


def sample_context(event: str, case_type: str | None = None) -> dict[str, Any]:
    """The main sample of ``event``; ``case_type`` picks the samples of that type."""
    for _label, context in sample_contexts(event):
        if case_type is None or context.get("case", {}).get("type") == case_type:
            return context
    raise KeyError(f"no {case_type} sample for event {event!r}")


def type_samples(event: str, case_type: str) -> list[tuple[str, dict[str, Any]]]:
    """The shipped samples of ``event`` for cases of ``case_type`` (a per-type template is
    checked with these); empty when the type ships none."""
    return _story_samples(case_type, event)


def spec_samples(spec: WorkflowSpec, event: EventSpec) -> list[tuple[str, dict[str, Any]]]:
    """A sample of ``event`` for a case of ``spec`` built from the definition alone: every field
    filled with a placeholder (a choice with its first label), every state's label in turn not
    needed — the initial state. Used to check a type's own templates (``check_definition``)."""
    from notifications.plan import plan_of

    plan = plan_of(spec)
    fields: dict[str, str] = {}
    for name, f in spec.fields.items():
        if f.choices:
            fields[name] = str(f.choice_labels.get(f.choices[0], f.choices[0]))
        elif f.type in ("integer", "decimal"):
            fields[name] = "100"
        elif f.type == "date":
            fields[name] = "2026-10-19"
        else:
            fields[name] = f"示例{f.label}"
    title_field = getattr(spec, "title_field", None)
    title_field = title_field if title_field in spec.fields else plan.subject.field
    number = f"{spec.number_prefix}-2026-00001"
    case = {
        "number": number, "type": spec.type, "type_label": spec.name,
        "title": fields.get(title_field or "", f"示例{spec.name}"), "title_label": spec.fields[title_field].label if title_field else "",
        "subject_label": plan.subject.label, "subject_name": fields.get(plan.subject.field or "", ""),
        "subject_kind": plan.subject.kind, "summary": "", "state": spec.initial,
        "state_label": spec.states[spec.initial].label, "category": "", "enterprise_name": "", "uscc": "",
        "site_name": "", "operator": "", "address": "", "village": "", "town": "", "town_name": "", "lead_unit": "",
        "lead_unit_name": "", "co_unit_names": [], "instructions": "", "due_date": "2026-10-19",
        "due_at": "2026-10-20 00:00", "due_text": "2026-10-19（5个工作日）", "supervision": "normal",
        "supervision_label": "正常", "supervision_colour": "", "link": f"http://127.0.0.1:8000/cases/{number}",
        "fields": fields,
    }  # fmt: skip
    ev = {"name": event.name, "label": event.label, "at": "2026-10-12 10:00", "actor": "office_dispatcher",
          "actor_name": "联席办调度员", "actor_unit_name": "市科经局", "comment": "", "reason": "", "fields": {},
          "values": {}, "period": {}}  # fmt: skip
    recipient = {"username": "office_dispatcher", "display_name": "联席办调度员", "department_name": "市科经局"}
    return [(spec.name, {"case": case, "event": ev, "recipient": recipient, "office": dict(OFFICE), "items": []})]
