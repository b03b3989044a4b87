"""The bulletin as an official document (公文 .docx) as users get it: ``caseflow report bulletin
--format docx`` (a real subprocess on a SQLite file, at 2026-09-30 10:00 +08:00), the reports
page's "下载公文（.docx）" link and ``GET /api/bulletin.docx`` (uvicorn on a loopback port, httpx)."""

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from api_support import PASSWORD, TIMEOUT, password_hash, start_server
from cli_support import ENTERPRISE, ENTERPRISE_FIELDS, OFFICE, POWER, Cli, field_args
from docx import Document
from docx.oxml.ns import qn
from helpers import START, build_app, new_enterprise_case, standard_actors
from openpyxl import load_workbook

from caseflow.app import App
from notifications.bulletin_docx import DOCX, cell_text
from notifications.documents import COLUMNS
from web.server import create_web_app
from workflow.clock import FixedClock

WEEK = "2026-W40"
"""2026-09-28 … 10-04: the week of the fixed instant."""


def table_rows(document: Any) -> list[list[str]]:
    units = next(t for t in document.tables if t.rows[0].cells[0].text == "排名")
    return [[c.text for c in row.cells] for row in units.rows[1:-1]]


def expected_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[cell_text(r[key]) for key, _, _ in COLUMNS] for r in data["rows"]]


# --- the command line -------------------------------------------------------------------------------


def test_report_bulletin_as_docx(fresh_db: Cli, tmp_path: Path) -> None:
    cli = fresh_db
    number = cli.json("case", "new", ENTERPRISE, "--as", OFFICE, *field_args(ENTERPRISE_FIELDS))["number"]
    cli.json("case", "advance", number, "assign", "--as", OFFICE, "--field", "lead_unit=市供电公司")
    cli.json("case", "advance", number, "accept", "--as", POWER)
    data = cli.ok("report", "bulletin", "--week", WEEK, "--format", "json").json()
    # the power company's 签收 and the office's 交办 (each discharged on time)
    assert sorted(r["unit_name"] for r in data["rows"]) == ["市供电公司", "市科经局"]

    out = cli.ok("report", "bulletin", "--week", WEEK, "--format", "docx")  # default name, in the cwd
    path = cli.workdir / f"bulletin-{WEEK}.docx"
    assert f"bulletin-{WEEK}.docx" in out.stdout and "第40期" in out.stdout and "桐联办通〔2026〕40号" in out.stdout
    document = Document(str(path))
    lines = [p.text for p in document.paragraphs]
    assert lines[:2] == ["第40期", "桐联办通〔2026〕40号"]
    assert "2026年9月30日" in lines and "特此通报。" in lines
    assert table_rows(document) == expected_rows(data)
    fonts = {r._r.find(qn("w:rPr")).find(qn("w:rFonts")).get(qn("w:eastAsia")) for p in document.paragraphs
             for r in p.runs if r.text and p.style.name == "公文正文"}  # fmt: skip
    assert fonts == {"仿宋_GB2312"}

    chosen = tmp_path / "out" / "通报.docx"
    chosen.parent.mkdir()
    cli.ok("report", "bulletin", "--week", WEEK, "--format", "docx", "--issue", "3", "-o", str(chosen))
    assert [p.text for p in Document(str(chosen)).paragraphs][:2] == ["第3期", "桐联办通〔2026〕3号"]

    # html and xlsx keep working, now with the 期号 and 文号
    cli.ok("report", "bulletin", "--week", WEEK, "--format", "html")
    html = (cli.workdir / f"bulletin-{WEEK}.html").read_text(encoding="utf-8")
    assert "第40期　桐联办通〔2026〕40号" in html and "市供电公司" in html
    cli.ok("report", "bulletin", "--week", WEEK, "--format", "xlsx")
    sheet = load_workbook(cli.workdir / f"bulletin-{WEEK}.xlsx")["通报"]
    assert "第40期" in sheet.cell(1, 1).value and [c.value for c in sheet[2]][:2] == ["排名", "单位"]


def test_a_bad_doc_number_pattern_is_refused(fresh_db: Cli, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "notifications.yaml").write_text("bulletin_doc_number: 桐联办通〔{year}〕{number}号\n", encoding="utf-8")
    cli = Cli(fresh_db.workdir, {**fresh_db.env, "CASEFLOW_CONFIG_DIR": str(config)})
    result = cli.run("report", "bulletin", "--week", WEEK, "--format", "docx")
    assert result.returncode != 0 and "bulletin_doc_number" in result.stderr and "{number}" in result.stderr
    assert not (cli.workdir / f"bulletin-{WEEK}.docx").exists()


# --- the page and the API ---------------------------------------------------------------------------


class Site:
    def __init__(self, app: App, url: str) -> None:
        self.app, self.url = app, url


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("web-bulletin")
    app = build_app(f"sqlite:///{root / 'caseflow.db'}", root / "data", clock=FixedClock(START))
    try:
        app.migrate()
        for username, department, roles in (("office", "sti", ["dispatcher", "collector"]),
                                            ("power_handler", "power", ["handler"]),
                                            ("registrar", "sti", ["collector"])):  # fmt: skip
            app.users.add(username, department, roles, password_hash=password_hash())
        actors = standard_actors(app)
        for lead in ("power", "water"):
            number = new_enterprise_case(app)["number"]
            app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": lead})
        server = start_server(create_web_app(app))
        try:
            yield Site(app, server.url)
        finally:
            server.stop()
    finally:
        app.close()


@contextmanager
def signed_in(site: Site, username: str) -> Iterator[httpx.Client]:
    """A browser's cookies after signing in on the page."""
    with httpx.Client(base_url=site.url, timeout=TIMEOUT, follow_redirects=False) as client:
        login = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert token, login.text
        signed = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1),
                                             "next": "/bulletin"})  # fmt: skip
        assert signed.status_code == 303, signed.text
        yield client


def test_the_reports_page_offers_the_docx(site: Site) -> None:
    with signed_in(site, "office") as browser:
        page = browser.get("/bulletin", params={"week": WEEK})
        assert page.status_code == 200
        assert f'href="/bulletin.docx?week={WEEK}"' in page.text and "下载公文（.docx）" in page.text
        assert "第40期　桐联办通〔2026〕40号" in page.text
        download = browser.get("/bulletin.docx", params={"week": WEEK})
        assert download.status_code == 200, download.text
        assert download.headers["content-type"] == DOCX
        disposition = download.headers["content-disposition"]
        assert disposition.startswith("attachment;") and f'filename="bulletin-{WEEK}.docx"' in disposition
        assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"工作通报第40期（{WEEK}）.docx"
        document = Document(io.BytesIO(download.content))
        assert [p.text for p in document.paragraphs][:2] == ["第40期", "桐联办通〔2026〕40号"]
        data = site.app.periodic.bulletin_data(WEEK)
        assert len(data["rows"]) == 3 and table_rows(document) == expected_rows(data)  # power, water, the office
        assert browser.get("/bulletin.docx", params={"week": "2026-40"}).status_code in (400, 422)
    # the bulletin is addressed to every member unit: its readers (handlers, unit heads) may read it
    # and download it; someone who only registers problems may not
    with signed_in(site, "power_handler") as handler:
        download = handler.get("/bulletin.docx", params={"week": WEEK})
        assert download.status_code == 200 and table_rows(Document(io.BytesIO(download.content))) == expected_rows(data)
        page = handler.get("/bulletin", params={"week": WEEK})
        assert page.status_code == 200 and "本单位情况：市供电公司" in page.text and "requirements-text" not in page.text
    with signed_in(site, "registrar") as collector:
        assert collector.get("/bulletin.docx", params={"week": WEEK}).status_code == 403


def test_the_api_serves_the_docx(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=TIMEOUT) as client:
        token = client.post("/api/auth/token", json={"username": "office", "password": PASSWORD}).json()["access_token"]
        response = client.get("/api/bulletin.docx", params={"week": WEEK}, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200 and response.headers["content-type"] == DOCX
        assert f'filename="bulletin-{WEEK}.docx"' in response.headers["content-disposition"]
        document = Document(io.BytesIO(response.content))
        assert [p.text for p in document.paragraphs][:2] == ["第40期", "桐联办通〔2026〕40号"]
        assert client.get("/api/bulletin.docx", params={"week": WEEK}).status_code == 401
