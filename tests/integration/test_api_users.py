"""Deactivating and reactivating users through the API (``POST /api/users/{name}/deactivate``,
``…/activate``), on SQLite and PostgreSQL: only an administrator may; the user's tokens stop
working at once; repeating changes nothing; an administrator cannot lock themselves out; an
unknown user is 404 and a refusal changes nothing."""

import api_support
from api_support import PASSWORD, ApiEnv, error_of, sign_in

api_env = api_support.api_env
OTHER = "sti"


def test_an_administrator_deactivates_and_reactivates_a_handler(api_env: ApiEnv) -> None:
    admin = api_env.client("u_admin", OTHER, ("admin",))
    handler = api_env.client("u_power_handler", "power", ("handler",))
    assert handler.get("/api/me").status_code == 200

    refused = error_of(handler.post("/api/users/u_admin/deactivate"), 403, "permission_denied")
    assert refused["message"] == "无权操作：此功能仅限系统管理员使用"
    assert api_env.app.users.actor("u_admin").username == "u_admin"

    done = admin.post("/api/users/u_power_handler/deactivate")
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["username"], body["active"], body["changed"], body["revoked_tokens"]) == ("u_power_handler", False, True, 1)
    error_of(handler.get("/api/me"), 401, "not_authenticated")  # its token stopped working at once
    error_of(sign_in(api_env.url, "u_power_handler", PASSWORD), 401, "account_disabled")
    again = admin.post("/api/users/u_power_handler/deactivate").json()
    assert (again["changed"], again["revoked_tokens"]) == (False, 0)

    back = admin.post("/api/users/u_power_handler/activate").json()
    assert (back["active"], back["changed"]) == (True, True)
    assert sign_in(api_env.url, "u_power_handler", PASSWORD).status_code == 200
    api_env.clients.pop("u_power_handler").close()


def test_refusals_change_nothing(api_env: ApiEnv) -> None:
    admin = api_env.client("u_admin2", OTHER, ("admin",))
    error_of(admin.post("/api/users/nobody_here/deactivate"), 404, "not_found")
    refused = error_of(admin.post("/api/users/u_admin2/deactivate"), 422, "invalid_input")
    assert "不能停用自己的账号" in refused["message"]
    assert admin.get("/api/me").json()["active"] is True
    error_of(admin.post("/api/users/" + "x" * 65 + "/deactivate"), 422, "invalid_input")
