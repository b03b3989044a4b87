"""Demo users and cases for a newcomer's first look (``caseflow init --demo``), built through the
real services so that every demo case has a real history. Idempotent: nothing is added twice.
No real person's name is used."""

from typing import Any

from caseflow.app import App
from cases.service import Upload
from workflow.uscc import check_character

DEMO_PASSWORD = "Demo-2026-Tongcheng"
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c49444154789c63d0cadf0a000215014fcdca43b90000000049454e44ae426082"
)

USERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("office", "联席办调度员", "sti", ("dispatcher", "collector")),
    ("collector", "企业服务中心收集员", "enterprise_service", ("collector",)),
    ("power_handler", "供电公司联络员", "power", ("handler",)),
    ("power_head", "供电公司负责人", "power", ("unit_head",)),
    ("water_handler", "供水集团联络员", "water", ("handler",)),
    ("gas_handler", "燃气公司联络员", "gas", ("handler",)),
    ("kongcheng_handler", "孔城镇联络员", "kongcheng", ("handler",)),
    ("shuanggang_handler", "双港镇联络员", "shuanggang", ("handler",)),
    ("ecology_handler", "生态环境分局联络员", "ecology", ("handler",)),
    ("drc_handler", "发改委联络员", "drc", ("handler",)),
    ("market_handler", "市场监管局联络员", "market_regulation", ("handler",)),
    ("resources_handler", "自然资源和规划局联络员", "natural_resources", ("handler",)),
    ("finance_handler", "财政局联络员", "finance", ("handler",)),
    ("supervisor", "督查员", "gov_office", ("supervisor",)),
    ("convenor", "召集人", "gov_office", ("convenor",)),
    ("admin", "系统管理员", "sti", ("admin",)),
)


def demo_uscc(serial: int) -> str:
    prefix = f"91340881MA2T{serial:05d}"
    return prefix + check_character(prefix)


def load_demo(app: App) -> dict[str, int]:
    """Add the demo users and cases that are not there yet."""
    if app.users.exists("office"):
        return {"users": 0, "cases": 0}
    for username, display, dept, roles in USERS:
        app.users.add(username, dept, list(roles), password=DEMO_PASSWORD, display_name=display)
    return {"users": len(USERS), "cases": _enterprise_cases(app) + _site_cases(app)}


def _enterprise(app: App, serial: int, title: str, category: str, town: str, description: str) -> str:
    fields = {
        "title": title, "description": description, "category": category, "source": "走访",
        "enterprise_name": f"桐城市示例企业{serial}号有限公司", "uscc": demo_uscc(serial), "town": town,
        "industry": "绿色包装", "contact": "企业联系人 13800000000",
    }  # fmt: skip
    return str(app.cases.create("enterprise_issue", app.users.actor("collector"), fields)["number"])


def _steps(app: App, number: str, steps: list[tuple[str, str, dict[str, Any]]]) -> None:
    for user, trigger, fields in steps:
        app.cases.advance(number, trigger, app.users.actor(user), fields)


def _enterprise_cases(app: App) -> int:
    assign = (
        "office",
        "assign",
        {"lead_unit": "power", "co_units": "natural_resources", "instructions": "请于期限内答复企业"},
    )
    accept = ("power_handler", "accept", {})
    co = [
        ("resources_handler", "co_accept", {}),
        ("resources_handler", "co_feedback", {"reply": "用地手续已核实，无障碍"}),
    ]
    answer = (
        "power_handler",
        "answer",
        {"result": "resolved", "reply": "已完成线路改造，增容到位", "signed_by": "供电公司负责人"},
    )
    _enterprise(app, 1, "新上生产线需要用电增容", "生产要素", "kongcheng", "企业新上两条生产线，现有变压器容量不足。")
    n = _enterprise(app, 2, "专用变压器报装进度咨询", "生产要素", "shuanggang", "企业申请专变报装已两个月未接电。")
    _steps(app, n, [assign])
    n = _enterprise(app, 3, "厂区周边线路频繁停电", "生产要素", "etdz", "近一个月停电三次，影响连续生产。")
    _steps(app, n, [assign, accept])
    n = _enterprise(app, 4, "技改项目用电负荷核定", "产业发展", "kongcheng", "技改项目需核定新增负荷。")
    _steps(app, n, [assign, accept, *co, answer])
    n = _enterprise(app, 5, "高峰时段限电安排", "生产要素", "lvting", "希望错峰生产安排提前告知。")
    _steps(app, n, [assign, accept, *co, answer, ("office", "approve_answer", {})])
    n = _enterprise(app, 6, "电费结算方式咨询", "政策扶持", "fangang", "咨询两部制电价结算方式。")
    _steps(
        app,
        n,
        [assign, accept, *co, answer, ("office", "approve_answer", {}), ("office", "close", {"satisfaction": "满意"})],
    )
    return 6


def _site(app: App, serial: int, name: str, violations: str) -> str:
    fields = {
        "site_name": name, "operator": f"经营者{serial}", "address": f"孔城镇示例村{serial}组", "town": "kongcheng",
        "village": "示例村", "source": "网格巡查", "violations": violations, "power_account": f"3408810{serial:05d}",
    }  # fmt: skip
    return str(app.cases.create("scattered_polluting", app.users.actor("kongcheng_handler"), fields)["number"])


def _site_cases(app: App) -> int:
    photo = [Upload("现场照片.png", _PNG)]
    verify = ("kongcheng_handler", "start_verification", {})
    ban = ("office", "classify_ban", {"plan": "依法取缔，落实两断三清", "cut_gas": "no"})
    _site(app, 1, "无名塑料颗粒加工点", "环境违法,无证无照")
    n = _site(app, 2, "废旧轮胎堆放点", "环境违法")
    _steps(app, n, [verify, ("kongcheng_handler", "submit_findings", {"notes": "现场堆放废旧轮胎约200吨，无任何手续"})])
    n = _site(app, 3, "露天喷漆作坊", "环境违法,无证无照")
    _steps(app, n, [verify, ban])
    app.cases.complete_item(
        n, "cut_power", app.users.actor("power_handler"), {"meter_reading": "10234.5"}, evidence=photo
    )
    n = _site(app, 4, "小型家具加工厂", "无证无照")
    _steps(
        app,
        n,
        [
            verify,
            (
                "office",
                "classify_rectify",
                {"items": "business_license,pollution_control", "plan": "限期办理营业执照并安装除尘设施"},
            ),
        ],
    )
    # the licence reported by the town, waiting for 市市场监管局's confirmation
    app.cases.complete_item(
        n, "business_license", app.users.actor("kongcheng_handler"), {"notes": "已领取营业执照"}, evidence=photo
    )
    n = _site(app, 5, "废品回收站", "环境违法")
    _steps(app, n, [verify, ban])
    for item, user in (("cut_water", "water_handler"), ("cut_power", "power_handler"), ("clear_materials", "kongcheng_handler"),
                       ("clear_products", "kongcheng_handler"), ("clear_equipment", "kongcheng_handler")):  # fmt: skip
        fields = {"meter_reading": "5321"} if item == "cut_power" else {}
        app.cases.complete_item(n, item, app.users.actor(user), fields, evidence=photo)
    _steps(app, n, [("kongcheng_handler", "submit_clearance", {})])
    # a 不适用 declaration waiting for the office: the site draws water from its own well
    n = _site(app, 6, "自备井洗砂点", "环境违法")
    _steps(app, n, [verify, ban])
    water = app.users.actor("water_handler")
    app.cases.decide_item(
        n, "cut_water", "waive", water, "该场所使用自备井取水，无市政供水户，无水可断", evidence=photo
    )
    return 6
