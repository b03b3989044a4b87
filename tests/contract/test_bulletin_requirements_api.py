"""``GET|PUT /api/bulletin/{week}/requirements``: the office's 下一步工作要求 of a week's bulletin,
on SQLite and PostgreSQL. Readers of the bulletin read it (with its history); only the office
(dispatchers) and admins change it; an empty text goes back to the default; a text over 5,000
characters, a bad week or an unknown field is refused with a Chinese message and nothing stored;
the saved text is what ``GET /api/bulletin`` (section 七) and the .docx carry."""

import io
from collections.abc import Iterator
from functools import cache

import anyio
import httpx
import pytest
from argon2 import PasswordHasher
from docx import Document

from web.server import create_web_app

PASSWORD = "Api-Test-2026-pass!"
WEEK = "2026-W40"
USERS = {"office": ("sti", ["dispatcher"]), "reader": ("sti", ["supervisor"]), "power_handler": ("power", ["handler"])}


@cache
def password_hash() -> str:
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


class Client:
    """A synchronous face on ``httpx.AsyncClient`` over the ASGI app (no server, no thread)."""

    def __init__(self, web) -> None:
        self.web = web

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.web)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.request(method, url, **kwargs)

        return anyio.run(call)

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def put(self, url: str, **kwargs) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def post(self, url: str, **kwargs) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@pytest.fixture
def client(app) -> Iterator[Client]:
    for name, (department, roles) in USERS.items():
        app.users.add(name, department, roles, password_hash=password_hash())
    yield Client(create_web_app(app))


def auth(client: Client, username: str) -> dict[str, str]:
    response = client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_read_edit_and_go_back_to_the_default(app, client):
    office, reader = auth(client, "office"), auth(client, "reader")
    url = f"/api/bulletin/{WEEK}/requirements"
    first = client.get(url, headers=reader).json()
    assert first["custom"] is False and first["text"] == first["default"] == app.periodic.requirements
    assert first["history"] == [] and first["edited_by"] is None

    saved = client.put(url, json={"text": "一、加快断水断电。\n二、按期回头看。"}, headers=office)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["custom"] is True and body["paragraphs"] == ["一、加快断水断电。", "二、按期回头看。"]
    assert body["edited_by"] == "office" and body["edited_at"]
    assert client.get(url, headers=reader).json()["history"][0]["edited_by"] == "office"

    bulletin = client.get("/api/bulletin", params={"week": WEEK}, headers=reader).json()
    assert bulletin["requirements"]["paragraphs"] == ["一、加快断水断电。", "二、按期回头看。"]
    document = Document(io.BytesIO(client.get("/api/bulletin.docx", params={"week": WEEK}, headers=reader).content))
    lines = [p.text for p in document.paragraphs]
    start = lines.index("七、下一步工作要求")
    assert lines[start + 1 : start + 4] == ["一、加快断水断电。", "二、按期回头看。", "特此通报。"]

    back = client.put(url, json={"text": "   "}, headers=office).json()
    assert back["custom"] is False and back["text"] == app.periodic.requirements
    assert len(back["history"]) == 2


def test_refusals_store_nothing(client):
    office, handler, reader = auth(client, "office"), auth(client, "power_handler"), auth(client, "reader")
    url = f"/api/bulletin/{WEEK}/requirements"
    too_long = client.put(url, json={"text": "要" * 5001}, headers=office)
    assert too_long.status_code == 422 and too_long.json()["error"] == "invalid_input"
    assert "不能超过5000字" in too_long.json()["message"]
    for headers in (handler, reader):
        refused = client.put(url, json={"text": "改一改"}, headers=headers)
        assert refused.status_code == 403 and refused.json()["error"] == "permission_denied"
    assert client.put(url, json={"text": "x", "by": "office"}, headers=office).status_code == 422  # unknown field
    assert client.put("/api/bulletin/2026-40/requirements", json={"text": "x"}, headers=office).status_code == 422
    assert client.put("/api/bulletin/2026-W60/requirements", json={"text": "x"}, headers=office).status_code == 422
    assert client.put(url, json={"text": "x"}).status_code == 401
    assert client.get(url, headers=handler).status_code == 403  # the API's bulletin readers, as GET /api/bulletin
    assert client.get(url, headers=reader).json()["history"] == []
