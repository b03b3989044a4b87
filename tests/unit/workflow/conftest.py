"""Fixtures for the unit tests of the pure ``workflow`` package.

The shipped organisation and workflow definitions are loaded from ``config/`` once per module;
``enterprise_case`` and ``site_case`` build realistic ``CaseDraft`` objects in any state, ready for
the happy path of a given trigger. The content is written by hand from DOMAIN.md (§3, §4), never
read from the YAML under test.
"""

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from workflow.case import CaseDraft, ItemState
from workflow.loader import load_workflows
from workflow.org import Organisation, load_organisation
from workflow.rulebook import Rulebook
from workflow.spec import WorkflowSpec

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "config"

NOW = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
"""Wednesday 2026-09-30, 10:00 in Asia/Shanghai."""
TODAY = date(2026, 9, 30)
"""``NOW`` as a calendar day in Asia/Shanghai."""
CLASSIFIED_ON = TODAY - timedelta(days=20)


def sha(text: str) -> str:
    """A realistic evidence reference: the SHA-256 of some bytes."""
    return hashlib.sha256(text.encode()).hexdigest()


# Item labels and order as listed in DOMAIN.md §4.
CLEARING_ITEMS = {
    "cut_water": ("断水", "water"),
    "cut_power": ("断电", "power"),
    "clear_materials": ("清除原料", "kongcheng"),
    "clear_products": ("清除产品", "kongcheng"),
    "clear_equipment": ("清除设备", "kongcheng"),
}
GAS_ITEM = {"cut_gas": ("断气", "gas")}
RECTIFICATION_LABELS = {"business_license": "营业执照", "pollution_control": "污染治理设施"}
SIGNOFFS = {
    "town_check": ("属地自查", "kongcheng"),
    "department_review": ("部门复核", "ecology"),
    "office_verification": ("联席办核查", "sti"),
}

CO_UNITS = ("natural_resources", "commerce")


def _open_record() -> dict[str, object]:
    return {"accepted_at": None, "feedback_at": None, "feedback": None}


def _fed_back_record() -> dict[str, object]:
    return {
        "accepted_at": (NOW - timedelta(days=2)).isoformat(),
        "feedback_at": (NOW - timedelta(days=1)).isoformat(),
        "feedback": "已按职责提出协办意见",
    }


def enterprise_case(state: str, trigger: str | None = None) -> CaseDraft:
    """An enterprise problem in ``state``: lead unit ``power``, town ``kongcheng``, two co-units
    that have fed back (open or merely accepted when ``trigger`` is co_accept / co_feedback)."""
    case = CaseDraft(
        "enterprise_issue",
        "QY-2026-00001",
        state,
        fields={
            "title": "新建车间用电增容报装进度慢",
            "description": "企业新建车间需增容至800千伏安，报装三周未批复。",
            "category": "生产要素",
            "source": "走访",
            "enterprise_name": "桐城市示例包装材料有限公司",
            "uscc": "91340600MA2PBM9HXD",
            "town": "kongcheng",
            "industry": "包装",
            "contact": "王经理 0556-0000000",
            "class": "complex",
        },
    )
    if state in ("registered", "not_accepted"):
        return case
    case.fields.update(lead_unit="power", co_units=list(CO_UNITS), instructions="五个工作日内答复")
    case.flags["assigned_at"] = (NOW - timedelta(days=3)).isoformat()
    if state == "assigned":
        case.co_units = {code: _open_record() for code in CO_UNITS}
    else:
        case.co_units = {code: _fed_back_record() for code in CO_UNITS}
        case.due_at = NOW + timedelta(days=14)
    if trigger == "co_accept":
        case.co_units["natural_resources"] = _open_record()
    elif trigger == "co_feedback":
        case.co_units["natural_resources"] = {
            **_open_record(),
            "accepted_at": (NOW - timedelta(days=2)).isoformat(),
        }
    if state == "extension_requested":
        case.flags["pending_extension"] = {"days": 5, "reason": "需协调上级电网公司"}
    if state in ("answered", "follow_up", "closed"):
        case.fields.update(result="resolved", reply="已完成增容批复", signed_by="分管副经理")
        case.due_at = None
    if state == "closed":
        case.fields["satisfaction"] = "满意"
    return case


def _item(checklist: str, key: str, label: str, position: int, by: str | None) -> ItemState:
    item = ItemState(checklist, key, label, position)
    if by is not None:
        item.done, item.done_by, item.done_at = True, by, NOW - timedelta(days=1)
        item.evidence = [sha(f"{key}.jpg")]
        if key == "cut_power":
            item.data = {"meter_reading": "10234.5"}
    return item


def add_clearing_items(case: CaseDraft, done: bool, cut_gas: bool = False) -> None:
    entries = {**CLEARING_ITEMS, **(GAS_ITEM if cut_gas else {})}
    for position, (key, (label, dept)) in enumerate(entries.items()):
        case.items[key] = _item(
            "clearing", key, label, position, f"handler@{dept}" if done else None
        )


def add_signoffs(case: CaseDraft, done: int) -> None:
    for position, (key, (label, dept)) in enumerate(SIGNOFFS.items()):
        by = f"signer@{dept}" if position < done else None
        case.items[key] = _item("signoffs", key, label, position, by)


def site_case(
    state: str, trigger: str | None = None, *, category: str = "ban", done: bool = True
) -> CaseDraft:
    """A scattered-polluting site in ``state``: town ``kongcheng``, violations 环境违法 (so the
    review department is ``ecology``) and 无证无照; checklist items done unless ``done=False``."""
    case = CaseDraft(
        "scattered_polluting",
        "SLW-2026-00001",
        state,
        fields={
            "site_name": "孔城镇示例塑料颗粒加工点",
            "operator": "个体经营者",
            "address": "孔城镇示例村三组",
            "town": "kongcheng",
            "village": "示例村",
            "violations": ["环境违法", "无证无照"],
            "source": "群众举报",
            "power_account": "3400000001",
        },
    )
    if state in ("reported", "verifying", "dismissed"):
        return case
    case.flags["classified_on"] = CLASSIFIED_ON.isoformat()
    case.flags["category"] = category
    if category == "ban":
        case.fields.update(plan="断水断电，清除原料产品设备", cut_gas="no")
        add_clearing_items(case, done)
    else:
        case.fields.update(
            items=list(RECTIFICATION_LABELS), deadline=(TODAY + timedelta(days=10)).isoformat()
        )
        for position, (key, label) in enumerate(RECTIFICATION_LABELS.items()):
            case.items[key] = _item(
                "rectification", key, label, position, "handler@kongcheng" if done else None
            )
    if state in ("acceptance", "closed", "revisit_due", "archived"):
        add_signoffs(case, done=3 if done else 0)
    return case


@pytest.fixture(scope="module")
def org() -> Organisation:
    return load_organisation(CONFIG / "departments.yaml")


@pytest.fixture(scope="module")
def specs(org: Organisation) -> dict[str, WorkflowSpec]:
    return load_workflows(CONFIG / "workflows", org)


@pytest.fixture(scope="module")
def enterprise_book(org: Organisation, specs: dict[str, WorkflowSpec]) -> Rulebook:
    return Rulebook(specs["enterprise_issue"], org)


@pytest.fixture(scope="module")
def site_book(org: Organisation, specs: dict[str, WorkflowSpec]) -> Rulebook:
    return Rulebook(specs["scattered_polluting"], org)


@pytest.fixture(scope="module")
def books(enterprise_book: Rulebook, site_book: Rulebook) -> dict[str, Rulebook]:
    return {"enterprise_issue": enterprise_book, "scattered_polluting": site_book}


KIT = SimpleNamespace(
    NOW=NOW,
    TODAY=TODAY,
    CLASSIFIED_ON=CLASSIFIED_ON,
    CLEARING_ITEMS=CLEARING_ITEMS,
    SIGNOFFS=SIGNOFFS,
    sha=sha,
    enterprise_case=enterprise_case,
    site_case=site_case,
    add_signoffs=add_signoffs,
)
"""Everything above, handed to tests through the ``kit`` fixture (test modules never import
this conftest: with several ``conftest.py`` in the tree that import is ambiguous)."""


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    return KIT
