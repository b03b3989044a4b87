"""Browser tests of the web pages: headless Chromium (Debian's ``/usr/bin/chromium``, driven by
Playwright) against the app served by uvicorn on 127.0.0.1, as ``caseflow serve`` serves it, on a
fresh SQLite database with the demo data (made at 2026-09-30 10:00, Asia/Shanghai) and a fixed
clock two weeks later, after a sweep.

Without Chromium or Playwright the tests are skipped — except under ``CI=true``, where they fail.
Screenshots go to ``test-artifacts/screenshots/`` (see ``web/ui/README.md``).
"""

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_support import CHROMIUM, LAPTOP, SCREENSHOTS, SCRIPT_TITLE, SERVED_AT, photo_png
from helpers import START, make_uscc

from caseflow.app import App, build
from caseflow.demo import DEMO_PASSWORD, load_demo
from cases.service import Upload
from config.settings import Settings
from workflow.clock import FixedClock


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the web pages in headless Chromium (tests/e2e)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright==1.65.2)"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium fonts-wqy-microhei)"
    return None


@dataclass
class Site:
    """The running server and what the tests set up in it."""

    base_url: str
    app: App
    cases: dict[str, str]
    """Name of a prepared case → its number."""

    def url(self, path: str) -> str:
        return self.base_url + path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(app: App) -> dict[str, str]:
    """Cases beyond the demo ones, made through the services like every demo case."""
    actor = app.users.actor
    fields = {
        "site_name": "E2E断电测试点", "operator": "经营者E2E", "address": "孔城镇测试村1组", "town": "kongcheng",
        "village": "测试村", "source": "用电数据", "violations": "环境违法", "power_account": "340881099999",
    }  # fmt: skip
    site = app.cases.create("scattered_polluting", actor("kongcheng_handler"), fields)["number"]
    app.cases.advance(site, "start_verification", actor("kongcheng_handler"), {})
    app.cases.advance(site, "classify_ban", actor("office"), {"plan": "依法取缔，落实两断三清", "cut_gas": "no"})
    script = app.cases.create(
        "enterprise_issue", actor("collector"),
        {"title": SCRIPT_TITLE, "description": "标题里有脚本标签，页面应当原样显示为文字。", "category": "其他",
         "enterprise_name": "<b>示例</b>企业", "uscc": make_uscc("91340881MA2T09999"), "town": "kongcheng"},
    )["number"]  # fmt: skip
    sample = Upload("断水现场照片.png", photo_png(7))
    app.cases.complete_item("SLW-2026-00003", "cut_water", actor("water_handler"), {}, evidence=[sample])
    return {"site": site, "script": script}


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    missing = _missing()
    if missing:
        if _in_ci():
            pytest.fail(f"CI=true but {missing}", pytrace=False)
        pytest.skip(missing)
    import uvicorn

    from web.server import create_web_app

    directory = tmp_path_factory.mktemp("e2e")
    settings = Settings(database_url=f"sqlite:///{directory / 'caseflow.db'}", data_dir=directory / "data", fake_now=None)
    app = build(settings, clock=FixedClock(START))
    app.migrate()
    load_demo(app)
    cases = _prepare(app)
    app.clock.set(SERVED_AT)  # type: ignore[attr-defined]
    app.sweeper.sweep()
    port = _free_port()
    config = uvicorn.Config(create_web_app(app), host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="off",
                            access_log=False)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="e2e-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web server did not start", pytrace=False)
        time.sleep(0.05)
    try:
        yield Site(f"http://127.0.0.1:{port}", app, cases)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.close()


@pytest.fixture(scope="session")
def browser(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield chromium
        finally:
            chromium.close()


class Browser:
    """One person's browser window: a context of its own (cookies), signed in as a demo user."""

    def __init__(self, browser: Any, site: Site, viewport: dict[str, int] = LAPTOP) -> None:
        self.site = site
        self.context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()

    def goto(self, path: str) -> Any:
        return self.page.goto(self.site.url(path))

    def sign_in(self, username: str, password: str = DEMO_PASSWORD) -> None:
        self.goto("/login")
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def csrf(self) -> str:
        return str(self.page.locator("input[name=csrf_token]").first.get_attribute("value"))

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def person(browser: Any, site: Site) -> Iterator[Any]:
    """``person(username, viewport=LAPTOP)`` opens a signed-in window; all are closed after the test."""
    opened: list[Browser] = []

    def open_window(username: str | None = None, viewport: dict[str, int] = LAPTOP) -> Browser:
        window = Browser(browser, site, viewport)
        opened.append(window)
        if username:
            window.sign_in(username)
        return window

    yield open_window
    for window in opened:
        window.close()
