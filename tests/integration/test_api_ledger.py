"""The ledger over the API (uvicorn, httpx with bearer tokens), on SQLite and PostgreSQL: a dry
run reports every problem with row and column and stores nothing; an import answers 201 with the
created numbers, or 422 with the whole report when problems kept everything out; ``valid_only``;
refused files and types; a unit exports only what it may see; the template."""

import io
import uuid
from typing import Any

import api_support
import pytest
from api_support import ApiClient, ApiEnv, error_of
from helpers import make_uscc, xlsx_bytes
from openpyxl import load_workbook
from sqlalchemy import func, select

from cases import repository as repo

api_env = api_support.api_env
VALID = (make_uscc("91340881MA2A10001"), make_uscc("91340881MA2A10002"))
BAD = VALID[0][:17] + ("1" if VALID[0][17] != "1" else "2")
HEADERS = ["序号", "问题标题", "问题描述", "问题类别", "企业名称", "统一社会信用代码", "所属镇街"]


@pytest.fixture(scope="module")
def people(api_env: ApiEnv) -> dict[str, ApiClient]:
    spec = {
        "office": ("sti", ("dispatcher", "collector")),
        "power": ("power", ("handler",)),
        "kongcheng": ("kongcheng", ("handler",)),
    }
    return {name: api_env.client(name, dept, roles) for name, (dept, roles) in spec.items()}


def workbook(rows: list[list[Any]]) -> bytes:
    return xlsx_bytes([HEADERS, *rows])


def title(text: str) -> str:
    return f"{text}-{uuid.uuid4().hex[:6]}"


def cases(env: ApiEnv) -> int:
    with env.app.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(repo.CASES)).scalar_one())


def post(client: ApiClient, data: bytes, name: str = "台账.xlsx", key: str | None = None, **params: Any) -> Any:
    query = {"type": "enterprise_issue", **{k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}}
    headers = {"Idempotency-Key": key} if key else {}
    files = {"file": (name, data, "application/octet-stream")}
    return client.post("/api/ledger/import", params=query, files=files, headers=headers)


def test_dry_run_reports_problems_and_stores_nothing(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    before = cases(api_env)
    data = workbook(
        [
            [1, title("增容"), "描述", "生产要素", "企业一", VALID[0], "孔城镇"],
            [2, title("用地"), "描述", "生产要素", "企业二", BAD, "火星镇"],
        ]
    )
    body = error_of(post(people["office"], data, dry_run=True), 422, "invalid_input")
    assert "2 处问题（涉及 1 行），试运行，未导入" in body["message"]
    report = body["details"]
    assert [(p["row"], p["column"], p["header"]) for p in report["problems"]] == [
        (3, "F", "统一社会信用代码"),
        (3, "G", "所属镇街"),
    ]
    assert report["valid_rows"] == 1 and report["dry_run"] and not report["stored"] and "annotated" not in report
    assert cases(api_env) == before

    clean = post(
        people["office"], workbook([[1, title("增容"), "描述", "生产要素", "企业一", VALID[0], "孔城镇"]]), dry_run=True
    )
    assert clean.status_code == 200, clean.text
    assert clean.json()["preview"][0]["state"] == "registered" and cases(api_env) == before


def test_import_stores_in_one_go_or_not_at_all(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    office = people["office"]
    before = cases(api_env)
    good, other = title("增容"), title("融资")
    data = workbook(
        [
            [1, good, "描述", "生产要素", "企业一", VALID[1], "孔城镇"],
            [2, other, "描述", "不存在", "企业二", VALID[1], "孔城镇"],
        ]
    )
    refused = error_of(post(office, data, "十月台账.xlsx"), 422, "invalid_input")
    assert "未导入任何数据" in refused["message"] and cases(api_env) == before

    stored = post(office, data, "十月台账.xlsx", valid_only=True)
    assert stored.status_code == 201, stored.text
    report = stored.json()
    assert report["stored"] and len(report["created"]) == 1 and report["invalid_rows"] == [3]
    number = report["created"][0]["number"]
    case = office.case(number)
    assert case["title"] == good
    first = office.get(f"/api/cases/{number}/history").json()[0]
    assert first["trigger"] == "import" and first["payload"]["source"] == {
        "file": "十月台账.xlsx",
        "sha256": report["sha256"],
        "sheet": "Sheet",
        "row": 2,
    }
    assert cases(api_env) == before + 1


def test_a_retried_import_with_its_idempotency_key_imports_once(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    """A client that lost the answer to an import sends it again with the same key: the same
    201 comes back (marked replayed) and nothing is imported twice; the key with another file
    or other options is refused; a refused import frees its key for the corrected file."""
    office = people["office"]
    before = cases(api_env)
    rows = [[1, title("重试"), "描述", "生产要素", "重试企业", make_uscc("91340881MA2A10009"), "孔城镇"]]
    broken = workbook([[*rows[0][:5], BAD, "孔城镇"]])
    key = f"ledger-{uuid.uuid4().hex}"
    error_of(post(office, broken, key=key), 422, "invalid_input")
    data = workbook(rows)
    first = post(office, data, key=key)
    assert first.status_code == 201, first.text
    again = post(office, data, key=key)  # the same file sent again
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["created"] == first.json()["created"] and cases(api_env) == before + 1
    other = error_of(post(office, data, key=key, valid_only=True), 422, "invalid_input")
    assert "内容不同的请求" in other["message"]
    other_file = error_of(post(office, workbook([[2, *rows[0][1:]]]), key=key), 422, "invalid_input")
    assert "内容不同的请求" in other_file["message"] and cases(api_env) == before + 1


@pytest.mark.parametrize(
    ("name", "data", "params", "field", "reason"),
    [
        ("台账.xls", b"\xd0\xcf\x11\xe0", {}, "file", "只能导入 .xlsx 工作簿"),
        ("台账.xlsx", b"a,b\n1,2\n", {}, "file", "这不是 .xlsx 工作簿"),
        ("台账.xlsx", b"", {}, "file", "上传的文件是空的"),
        ("台账.xlsx", b"PK\x03\x04", {"type": "roads"}, "type", "未知案件类型“roads”"),
    ],
    ids=["xls", "csv", "empty", "unknown-type"],
)
def test_bad_uploads_are_refused(
    api_env: ApiEnv,
    people: dict[str, ApiClient],
    name: str,
    data: bytes,
    params: dict[str, str],
    field: str,
    reason: str,
) -> None:
    before = cases(api_env)
    body = error_of(post(people["office"], data, name, **params), 422, "invalid_input")
    assert reason in body["details"]["fields"][field]
    assert cases(api_env) == before
    assert not any((api_env.data_dir / "ledger-jobs").glob("api-*"))  # nothing left behind


def test_a_broken_workbook_is_refused_with_a_reason(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    body = error_of(post(people["office"], b"PK\x03\x04 not really a zip"), 422, "invalid_input")
    assert body["details"]["fields"]["file"]


def test_rights(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    data = workbook([[1, title("问题"), "描述", "其他", "企业", VALID[0], "孔城镇"]])
    error_of(post(people["power"], data), 403, "permission_denied")
    with api_env.anonymous() as anonymous:
        files = {"file": ("a.xlsx", data)}
        error_of(anonymous.post("/api/ledger/import", params={"type": "enterprise_issue"}, files=files), 401, "not_authenticated")
        error_of(anonymous.get("/api/ledger/export"), 401, "not_authenticated")


def test_export_is_everything_for_the_office_and_its_own_for_a_unit(
    api_env: ApiEnv, people: dict[str, ApiClient]
) -> None:
    office, power = people["office"], people["power"]
    data = workbook([[1, title("供电"), "描述", "生产要素", "企业", make_uscc("91340881MA2A19999"), "新渡镇"]])
    number = post(office, data).json()["created"][0]["number"]
    assert office.act(number, "assign", {"lead_unit": "power"}).status_code == 200

    everything = office.get("/api/ledger/export", params={"type": "enterprise_issue"})
    assert everything.status_code == 200 and everything.headers["content-type"].startswith(
        "application/vnd.openxmlformats"
    )
    rows = list(load_workbook(io.BytesIO(everything.content)).worksheets[0].iter_rows(min_row=2, values_only=True))
    assert len(rows) == cases(api_env) and number in {r[1] for r in rows}

    own = power.get("/api/ledger/export", params={"department": "市供电公司"})
    assert own.status_code == 200, own.text
    seen = {
        r[1]
        for ws in load_workbook(io.BytesIO(own.content)).worksheets
        for r in ws.iter_rows(min_row=2, values_only=True)
    }
    visible = {c["number"] for c in power.get("/api/cases", params={"page_size": 200}).json()["items"]}
    assert seen == visible and number in seen and len(seen) < cases(api_env)
    body = error_of(power.get("/api/ledger/export", params={"department": "water"}), 422, "invalid_input")
    assert body["details"]["fields"] == {"department": "只能导出本单位的台账"}
    error_of(
        office.get("/api/ledger/export", params={"state": "rectifying", "type": "enterprise_issue"}),
        422,
        "invalid_input",
    )


def test_template(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    response = people["kongcheng"].get("/api/ledger/template/scattered_polluting")
    assert response.status_code == 200
    assert 'filename="template-scattered_polluting.xlsx"' in response.headers["content-disposition"]
    assert "场所名称" in [c.value for c in load_workbook(io.BytesIO(response.content)).worksheets[0][1]]
    error_of(people["kongcheng"].get("/api/ledger/template/roads"), 422, "invalid_input")
