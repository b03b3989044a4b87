"""Ledger imports and exports as jobs over the API (``Prefer: respond-async``), on SQLite and
PostgreSQL: 202 with ``Location`` at once; the job's state, progress and report when it is done;
the annotated copy and the exported ledger to download; a cancelled import leaves the database as
it was; jobs are their user's; a retried start with its ``Idempotency-Key`` starts nothing new;
bad input is refused before any job starts. The tests wait for a job on its own ``finished``
event (``LedgerJobs.wait``), never on the clock."""

import io
import threading
import uuid
from typing import Any

import api_support
import pytest
from api_support import ApiClient, ApiEnv, error_of
from helpers import make_uscc, xlsx_bytes
from openpyxl import load_workbook
from sqlalchemy import func, select

from cases import repository as repo
from web.ledger_jobs import LedgerJobs

api_env = api_support.api_env
HEADERS = ["序号", "问题标题", "问题描述", "问题类别", "企业名称", "统一社会信用代码", "所属镇街"]
ASYNC = {"Prefer": "respond-async"}


@pytest.fixture(scope="module")
def people(api_env: ApiEnv) -> dict[str, ApiClient]:
    spec = {"j_office": ("sti", ("dispatcher", "collector")), "j_power": ("power", ("handler",))}
    return {name: api_env.client(name, dept, roles) for name, (dept, roles) in spec.items()}


def rows(count: int, tag: str) -> list[list[Any]]:
    return [
        [i + 1, f"后台导入{tag}-{i}", "描述", "生产要素", f"后台企业{tag}{i}", make_uscc(f"91340881MA2B{tag}{i:04d}"), "孔城镇"]
        for i in range(count)
    ]


def cases(env: ApiEnv) -> int:
    with env.app.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(repo.CASES)).scalar_one())


def jobs(env: ApiEnv) -> LedgerJobs:
    return env.web.state.ledger_jobs  # type: ignore[no-any-return]


def start(client: ApiClient, data: bytes, headers: dict[str, str] | None = None, **params: Any) -> Any:
    query = {"type": "enterprise_issue", **{k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}}
    files = {"file": ("后台台账.xlsx", data, "application/octet-stream")}
    return client.post("/api/ledger/import", params=query, files=files, headers={**ASYNC, **(headers or {})})


def finished(env: ApiEnv, client: ApiClient, job_id: str) -> dict[str, Any]:
    jobs(env).wait(job_id, 120)
    response = client.get(f"/api/ledger/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_an_import_runs_as_a_job_and_reports_when_done(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    office = people["j_office"]
    before = cases(api_env)
    response = start(office, xlsx_bytes([HEADERS, *rows(3, "A")]))
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["Location"] == job["href"] == f"/api/ledger/jobs/{job['id']}"
    assert response.headers["Preference-Applied"] == "respond-async"
    assert (job["kind"], job["type"], job["file"]) == ("import", "enterprise_issue", "后台台账.xlsx")
    done = finished(api_env, office, job["id"])
    assert (done["state"], done["phase"], done["done"], done["total"], done["percent"]) == ("done", "write", 3, 3, 100)
    assert done["report"]["stored"] and len(done["report"]["created"]) == 3 and done["problems_href"] is None
    assert done["finished_at"].endswith("+08:00") and "annotated" not in done["report"]
    assert cases(api_env) == before + 3
    assert job["id"] in [j["id"] for j in office.get("/api/ledger/jobs").json()]
    assert office.delete(job["href"]).status_code == 200  # it had ended: nothing to cancel
    error_of(people["j_power"].get(job["href"]), 404, "not_found")  # another user's job


def test_a_check_job_gives_the_problems_and_the_annotated_copy(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    office = people["j_office"]
    before = cases(api_env)
    good = rows(2, "C")
    bad = [*good[1][:5], good[1][5][:17] + ("0" if good[1][5][17] != "0" else "1"), "火星镇"]
    job = start(office, xlsx_bytes([HEADERS, good[0], bad]), dry_run=True).json()
    done = finished(api_env, office, job["id"])
    assert done["kind"] == "check" and done["state"] == "done" and not done["report"]["stored"]
    assert [(p["row"], p["column"]) for p in done["report"]["problems"]] == [(3, "F"), (3, "G")]
    assert done["problems_href"] == f"{job['href']}/problems.xlsx"
    annotated = office.get(done["problems_href"])
    assert annotated.status_code == 200 and "ledger.errors.xlsx" in annotated.headers["content-disposition"]
    assert "问题清单" in load_workbook(io.BytesIO(annotated.content)).sheetnames
    assert cases(api_env) == before


def test_a_cancelled_import_leaves_the_database_as_it_was(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    """The job is held at its first batch of the write phase, cancelled through the API, then
    let go: its transaction rolls back."""
    office = people["j_office"]
    before = cases(api_env)
    office.get("/api/ledger/jobs")  # the store is made on first use
    store = jobs(api_env)
    writing, release = threading.Event(), threading.Event()
    original = store.start

    def start_held(job: Any, work: Any) -> None:
        progress = job.progress

        def held(phase: str, done: int, total: int | None) -> None:
            if phase == "write" and not writing.is_set():
                writing.set()
                assert release.wait(60)
            progress(phase, done, total)

        job.progress = held
        original(job, work)

    store.start = start_held  # type: ignore[method-assign]
    try:
        job = start(office, xlsx_bytes([HEADERS, *rows(700, "D")])).json()
        assert writing.wait(60)
        cancelling = office.delete(job["href"])
        assert cancelling.status_code == 202 and cancelling.json()["state"] == "running"
        release.set()
        done = finished(api_env, office, job["id"])
    finally:
        store.start = original  # type: ignore[method-assign]
        release.set()
    assert done["state"] == "cancelled" and done["report"] is None
    assert cases(api_env) == before


def test_an_export_runs_as_a_job_and_is_downloaded(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    office = people["j_office"]
    response = office.get("/api/ledger/export", params={"type": "enterprise_issue"}, headers=ASYNC)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["Location"] == job["href"] and job["kind"] == "export"
    done = finished(api_env, office, job["id"])
    assert done["state"] == "done" and done["download_href"] == f"{job['href']}/ledger.xlsx"
    assert done["result"]["rows"] == cases(api_env) and "file" not in done["result"]  # no server path
    download = office.get(done["download_href"])
    assert download.status_code == 200
    sheet = load_workbook(io.BytesIO(download.content)).worksheets[0]
    assert sheet.max_row == cases(api_env) + 1
    error_of(office.get(f"{job['href']}/problems.xlsx"), 422, "invalid_input")


def test_a_retried_start_with_its_key_starts_nothing_new(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    office = people["j_office"]
    data = xlsx_bytes([HEADERS, *rows(2, "E")])
    key = {"Idempotency-Key": f"job-{uuid.uuid4().hex}"}
    first = start(office, data, key)
    assert first.status_code == 202, first.text
    again = start(office, data, key)
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true" and again.headers["Location"] == first.json()["href"]
    assert finished(api_env, office, first.json()["id"])["report"]["stored"]
    sync = office.post("/api/ledger/import", params={"type": "enterprise_issue"}, headers=key,
                       files={"file": ("后台台账.xlsx", data, "application/octet-stream")})  # fmt: skip
    assert "内容不同的请求" in error_of(sync, 422, "invalid_input")["message"]


def test_bad_requests_start_no_job(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    office = people["j_office"]
    office.get("/api/ledger/jobs")
    running_before = len(jobs(api_env).of("j_office"))
    error_of(start(office, b"not a workbook"), 422, "invalid_input")
    error_of(start(office, xlsx_bytes([HEADERS]), type="roads"), 422, "invalid_input")
    refused = office.get("/api/ledger/export", params={"state": "火星"}, headers=ASYNC)
    error_of(refused, 422, "invalid_input")
    error_of(people["j_power"].get("/api/ledger/export", params={"department": "water"}, headers=ASYNC), 422, "invalid_input")
    assert len(jobs(api_env).of("j_office")) == running_before
    error_of(office.get("/api/ledger/jobs/not-a-job-id"), 404, "not_found")
    error_of(office.get("/api/ledger/jobs/x"), 422, "invalid_input")
