"""The ledger pages over HTTP (uvicorn on a loopback port, httpx with a browser's cookies and
forms), on SQLite and PostgreSQL: upload a workbook, see every problem with its row, column and
reason and what would be created, confirm (all rows, or only the valid ones), export, download
the template; and the refusals — wrong files, other users' jobs, rights, forged forms — each with
nothing stored. Jobs run in worker threads; the tests wait for them through ``LedgerJobs.wait``.
"""

import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from api_support import (
    DATABASES,
    PASSWORD,
    TIMEOUT,
    drop_pg_database,
    new_pg_database,
    password_hash,
    start_server,
)
from helpers import START, build_app, make_uscc, xlsx_bytes
from openpyxl import load_workbook
from sqlalchemy import func, select

from caseflow.app import App
from cases import repository as repo
from web.server import create_web_app
from workflow.clock import FixedClock

VALID = (make_uscc("91340881MA2W10001"), make_uscc("91340881MA2W10002"), make_uscc("91340881MA2W10003"))
BAD_CHECKSUM = VALID[0][:17] + ("1" if VALID[0][17] != "1" else "2")
HEADERS = ["序号", "问题标题", "问题描述", "问题类别", "企业名称", "统一社会信用代码", "所属镇街"]
USERS = {
    "office": ("sti", ("dispatcher", "collector")),
    "collector2": ("sti", ("collector",)),
    "power_handler": ("power", ("handler",)),
    "kongcheng_handler": ("kongcheng", ("handler",)),
}


class Site:
    def __init__(self, app: App, url: str, web: Any) -> None:
        self.app, self.url, self.web = app, url, web

    def jobs(self) -> Any:
        return self.web.state.ledger_jobs

    def cases(self, case_type: str = "enterprise_issue") -> int:
        with self.app.db.read() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(repo.CASES).where(repo.CASES.c.type == case_type)
                ).scalar_one()
            )


@pytest.fixture(scope="module", params=DATABASES)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import os

    root = tmp_path_factory.mktemp("web-ledger")
    dropped = None
    if request.param == "sqlite":
        database_url = f"sqlite:///{root / 'caseflow.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        name, database_url = new_pg_database(server, os.environ["TEST_DATABASE_URL"])
        dropped = (server, name)
    app = build_app(database_url, root / "data", clock=FixedClock(START))
    try:
        app.migrate()
        for username, (department, roles) in USERS.items():
            app.users.add(username, department, list(roles), password_hash=password_hash())
        web = create_web_app(app)
        server_ = start_server(web)
        try:
            yield Site(app, server_.url, web)
        finally:
            server_.stop()
    finally:
        app.close()
        if dropped is not None:
            drop_pg_database(*dropped)


class Browser(httpx.Client):
    """A signed-in user's cookies, with the CSRF token of their session."""

    csrf = ""

    def form_post(self, path: str, data: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return self.post(path, data={"csrf_token": self.csrf, **data}, **kwargs)


@pytest.fixture(scope="module")
def browsers(site: Site) -> Iterator[dict[str, Browser]]:
    opened: dict[str, Browser] = {}
    for username in USERS:
        client = Browser(base_url=site.url, timeout=TIMEOUT, follow_redirects=False)
        login = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert token, login.text
        signed = client.post(
            "/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1), "next": "/ledger"}
        )
        assert signed.status_code == 303, signed.text
        page = client.get("/ledger")
        assert page.status_code == 200
        client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        opened[username] = client
    yield opened
    for client in opened.values():
        client.close()


def workbook(rows: list[list[Any]], headers: list[str] = HEADERS) -> bytes:
    return xlsx_bytes([headers, *rows])


def unique(title: str) -> str:
    return f"{title}-{uuid.uuid4().hex[:6]}"


def text_of(response: httpx.Response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))


def upload(
    browser: Browser, data: bytes, name: str = "台账.xlsx", case_type: str = "enterprise_issue"
) -> httpx.Response:
    return browser.form_post(
        "/ledger/check", {"type": case_type}, files={"file": (name, data, "application/octet-stream")}
    )


def finished(site: Site, browser: Browser, response: httpx.Response) -> tuple[str, httpx.Response]:
    """Follow a job's redirect, wait for the job, and return (job id, its page)."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    job_id = location.rsplit("/", 1)[1]
    site.jobs().wait(job_id, TIMEOUT)
    page = browser.get(location)
    assert page.status_code == 200
    return job_id, page


def test_check_reports_every_problem_and_stores_nothing_then_imports_the_valid_rows(
    site: Site, browsers: dict[str, Browser]
) -> None:
    office = browsers["office"]
    good = unique("用电增容")
    data = workbook([
        [1, good, "需要增容", "生产要素", "企业一", VALID[0], "孔城镇"],
        [2, unique("用地"), "缺少用地", "生产要素", "企业二", BAD_CHECKSUM, "火星镇"],
        [3, unique("融资"), "融资难", "不存在的类别", "企业三", VALID[1], "孔城镇"],
    ])  # fmt: skip
    before = site.cases()
    job_id, page = finished(site, office, upload(office, data, "五月台账.xlsx"))
    text = text_of(page)
    assert "数据 3 行，无误 1 行" in text
    for needle in (
        "3 F 统一社会信用代码 统一社会信用代码校验位错误",
        "3 G 所属镇街 没有名为“火星镇”的街道、镇或园区",
        "4 D 问题类别",
    ):
        assert needle in text, needle
    assert "五月台账.xlsx" in text and good in text and "确认导入 1 件" in text
    assert site.cases() == before  # a check stores nothing

    annotated = office.get(f"/ledger/jobs/{job_id}/problems.xlsx")
    assert annotated.status_code == 200 and "五月台账.errors.xlsx" in unquote(annotated.headers["content-disposition"])
    ws = load_workbook(io.BytesIO(annotated.content))["Sheet"]
    assert "校验位" in ws["F3"].comment.text and "火星镇" in ws["G3"].comment.text

    sha = re.search(r'name="sha256" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    refused = office.form_post(f"/ledger/jobs/{job_id}/import", {"sha256": sha})
    assert refused.status_code == 422 and "只导入无误的行" in text_of(refused)
    wrong = office.form_post(f"/ledger/jobs/{job_id}/import", {"sha256": "0" * 64, "valid_only": "1"})
    assert wrong.status_code == 422
    assert site.cases() == before

    import_id, result = finished(
        site, office, office.form_post(f"/ledger/jobs/{job_id}/import", {"sha256": sha, "valid_only": "1"})
    )
    assert import_id != job_id
    assert "已在一个事务中登记 1 件案件（有问题的 2 行未导入）" in text_of(result)
    assert site.cases() == before + 1
    number = re.search(r'href="/cases/(QY-\d{4}-\d{5})"', result.text).group(1)  # type: ignore[union-attr]
    case = site.app.cases.show(number)
    assert case["title"] == good
    first = site.app.cases.history(number)[0]
    assert first["trigger"] == "import" and first["payload"]["source"]["sha256"] == sha
    assert "五月台账.xlsx" in str(first["payload"])
    assert office.get(f"/cases/{number}").status_code == 200


def test_a_clean_ledger_is_imported_whole(site: Site, browsers: dict[str, Browser]) -> None:
    office = browsers["office"]
    titles = [unique("审批慢"), unique("缺电")]
    data = workbook([[i + 1, t, "描述", "审批服务", f"企业{i}", VALID[2], "吕亭镇"] for i, t in enumerate(titles)])
    before = site.cases()
    job_id, page = finished(site, office, upload(office, data))
    assert "全部 2 行无误，可以导入" in text_of(page) and "valid_only" not in page.text
    sha = re.search(r'name="sha256" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    _, result = finished(site, office, office.form_post(f"/ledger/jobs/{job_id}/import", {"sha256": sha}))
    assert "已在一个事务中登记 2 件案件" in text_of(result)
    assert site.cases() == before + 2
    # the same ledger again: both rows are now duplicates of open cases, nothing is stored
    _, again = finished(site, office, upload(office, data))
    assert "数据 2 行，无误 0 行" in text_of(again) and "确认导入" not in again.text
    assert site.cases() == before + 2


def test_missing_required_column_is_reported_at_the_header(site: Site, browsers: dict[str, Browser]) -> None:
    office = browsers["office"]
    data = workbook([[1, unique("缺列"), "描述", "其他", "企业", VALID[0]]], headers=HEADERS[:-1])
    _, page = finished(site, office, upload(office, data))
    assert "缺少必填列“所属镇街”" in text_of(page) and "确认导入" not in page.text


@pytest.mark.parametrize(
    ("name", "data", "status", "reason"),
    [
        ("台账.xls", b"\xd0\xcf\x11\xe0 old excel", 422, "只能导入 .xlsx 工作簿"),
        ("台账.xlsx", "企业名称,统一社会信用代码\n".encode(), 422, "这不是 .xlsx 工作簿"),
        ("台账.xlsx", b"", 422, "上传的文件是空的"),
    ],
    ids=["xls", "csv-renamed", "empty"],
)
def test_files_that_are_not_workbooks_are_refused(
    site: Site, browsers: dict[str, Browser], name: str, data: bytes, status: int, reason: str
) -> None:
    office = browsers["office"]
    jobs_before = len(site.jobs().of("office"))
    response = upload(office, data, name)
    assert response.status_code == status and reason in text_of(response)
    assert len(site.jobs().of("office")) == jobs_before


def test_too_large_a_workbook_is_refused(site: Site, browsers: dict[str, Browser]) -> None:
    office = browsers["office"]
    data = workbook([[i, f"问题{i}", "描述" * 50, "其他", "企业", VALID[0], "孔城镇"] for i in range(400)])
    site.app.settings.max_ledger_bytes = len(data) // 2
    try:
        response = upload(office, data)
    finally:
        site.app.settings.max_ledger_bytes = 64 * 1024 * 1024
    assert response.status_code == 413 and "上传内容超过大小上限" in text_of(response)


def test_refusals_change_nothing(site: Site, browsers: dict[str, Browser]) -> None:
    office, power = browsers["office"], browsers["power_handler"]
    data = workbook([[1, unique("问题"), "描述", "其他", "企业", VALID[0], "孔城镇"]])
    before = site.cases()
    no_type = office.form_post("/ledger/check", {"type": ""}, files={"file": ("台账.xlsx", data)})
    assert no_type.status_code == 422 and "请选择台账类型" in text_of(no_type)
    forged = office.post("/ledger/check", data={"type": "enterprise_issue"}, files={"file": ("台账.xlsx", data)})
    assert forged.status_code == 403
    # a power company handler registers nothing, so imports nothing; the page offers no upload
    page = power.get("/ledger")
    assert "上传并检查" not in page.text and "不能导入台账" in text_of(page)
    denied = upload(power, data)
    assert denied.status_code == 422 and "您可以导入：无" in text_of(denied)
    # another user's job is not found, and cannot be confirmed
    job_id, checked = finished(site, office, upload(office, data))
    sha = re.search(r'name="sha256" value="([^"]+)"', checked.text).group(1)  # type: ignore[union-attr]
    assert power.get(f"/ledger/jobs/{job_id}").status_code == 404
    assert power.get(f"/ledger/jobs/{job_id}/problems.xlsx").status_code == 404
    assert browsers["collector2"].form_post(f"/ledger/jobs/{job_id}/import", {"sha256": sha}).status_code == 404
    assert site.cases() == before


def test_a_town_imports_only_the_sites_of_its_town(site: Site, browsers: dict[str, Browser]) -> None:
    town = browsers["kongcheng_handler"]
    headers = ["序号", "场所名称", "经营者", "详细地址", "所属镇街", "村(社区)", "问题类型"]
    mine, other = unique("孔城石材点"), unique("吕亭石材点")
    data = workbook([
        [1, mine, "张三", "孔城镇桐溪村一组", "孔城镇", "桐溪村", "环境违法"],
        [2, other, "李四", "吕亭镇某村二组", "吕亭镇", "某村", "环境违法"],
    ], headers=headers)  # fmt: skip
    page = town.get("/ledger")
    assert 'value="scattered_polluting"' in page.text and 'name="type" value="enterprise_issue"' not in page.text
    _, checked = finished(site, town, upload(town, data, case_type="scattered_polluting"))
    text = text_of(checked)
    assert "无误 1 行" in text and "无权登记该案件" in text
    assert mine in text


def test_export_gives_the_office_everything_and_a_unit_its_own_cases(site: Site, browsers: dict[str, Browser]) -> None:
    app = site.app
    office, power = browsers["office"], browsers["power_handler"]
    data = workbook([[1, unique("供电问题"), "描述", "生产要素", "企业", VALID[0], "新渡镇"]])
    job_id, checked = finished(site, office, upload(office, data))
    sha = re.search(r'name="sha256" value="([^"]+)"', checked.text).group(1)  # type: ignore[union-attr]
    finished(site, office, office.form_post(f"/ledger/jobs/{job_id}/import", {"sha256": sha}))
    number = app.cases.list_cases(case_type="enterprise_issue", sort="newest", page_size=1)["items"][0]["number"]
    office_actor = app.users.actor("office")
    app.cases.advance(number, "assign", office_actor, {"lead_unit": "power", "class": "simple"})

    job_id, page = finished(
        site, office, office.form_post("/ledger/export", {"type": "enterprise_issue", "state": "", "department": ""})
    )
    assert "导出完成" in text_of(page)
    download = office.get(f"/ledger/jobs/{job_id}/ledger.xlsx")
    assert download.status_code == 200 and "filename*=UTF-8''" in download.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(download.content)).worksheets[0]
    numbers = {row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert len(numbers) == site.cases() and number in numbers

    job_id, page = finished(site, power, power.form_post("/ledger/export", {"type": "", "state": "", "department": ""}))
    sheets = load_workbook(io.BytesIO(power.get(f"/ledger/jobs/{job_id}/ledger.xlsx").content)).worksheets
    seen = {row[1] for ws in sheets for row in ws.iter_rows(min_row=2, values_only=True)}
    visible = {
        c["number"] for c in app.cases.list_cases(actor=app.users.actor("power_handler"), page_size=200)["items"]
    }
    assert seen == visible and number in seen and len(seen) < site.cases()
    assert office.get(f"/ledger/jobs/{job_id}/ledger.xlsx").status_code == 404  # power's job


def test_export_filters_are_checked(site: Site, browsers: dict[str, Browser]) -> None:
    office, power = browsers["office"], browsers["power_handler"]
    bad_state = office.form_post(
        "/ledger/export", {"type": "enterprise_issue", "state": "rectifying", "department": ""}
    )
    assert bad_state.status_code == 422 and "企业问题没有状态“rectifying”" in text_of(bad_state)
    bad_unit = office.form_post("/ledger/export", {"type": "", "state": "", "department": "火星局"})
    assert bad_unit.status_code == 422 and "未知单位“火星局”" in text_of(bad_unit)
    other_unit = power.form_post("/ledger/export", {"type": "", "state": "", "department": "water"})
    assert other_unit.status_code == 422 and "只能导出本单位的台账" in text_of(other_unit)


def test_template_download(site: Site, browsers: dict[str, Browser]) -> None:
    response = browsers["office"].get("/ledger/template/scattered_polluting.xlsx")
    assert response.status_code == 200
    assert 'filename="template-scattered_polluting.xlsx"' in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    headers = [c.value for c in book.worksheets[0][1]]
    assert "场所名称" in headers and "用电户号" in headers
    assert browsers["office"].get("/ledger/template/nothing.xlsx").status_code == 422


def test_job_ids_are_checked(site: Site, browsers: dict[str, Browser]) -> None:
    office = browsers["office"]
    assert office.get("/ledger/jobs/not-a-job-id-at-all").status_code == 404
    assert office.get("/ledger/jobs/x").status_code == 422
    assert office.get("/ledger/jobs/..%2F..%2Fetc").status_code in (404, 422)


def test_job_files_stay_in_the_job_directory(site: Site, browsers: dict[str, Browser]) -> None:
    office = browsers["office"]
    data = workbook([[1, unique("路径"), "描述", "其他", "企业", VALID[0], "孔城镇"]])
    job_id, _ = finished(site, office, upload(office, data, "../../evil/台账.xlsx"))
    job = site.jobs().get(job_id, "office")
    assert job.source.parent == job.directory and job.source.name == "台账.xlsx"
    assert Path(site.app.settings.data_dir, "ledger-jobs") in job.directory.parents


def test_a_cases_history_downloads_as_a_workbook_for_who_may_see_it(site: Site, browsers: dict[str, Browser]) -> None:
    app = site.app
    office = app.users.actor("office")
    number = app.cases.create(
        "enterprise_issue", office,
        {"title": unique("历史导出"), "description": "描述", "category": "其他", "enterprise_name": "企业",
         "uscc": VALID[0], "town": "kongcheng"},
    )["number"]  # fmt: skip
    page = browsers["office"].get(f"/cases/{number}")
    assert f'href="/cases/{number}/history.xlsx"' in page.text
    response = browsers["office"].get(f"/cases/{number}/history.xlsx")
    assert response.status_code == 200 and f'filename="history-{number}.xlsx"' in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content))["办理记录"]
    events = app.cases.history(number)
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[3]) for r in rows] == [(e["seq"], e["trigger"]) for e in events]
    assert rows[-1][10] == events[-1]["hash"]
    assert browsers["power_handler"].get(f"/cases/{number}/history.xlsx").status_code == 404  # not the power company's
    assert browsers["office"].get("/cases/QY-2026-99999/history.xlsx").status_code == 404
