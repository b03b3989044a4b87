"""Sign-in, the caller, the inbox, the bulletin, audit, users, calendar and definitions."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field

from cases import audit
from cases.views import local
from notifications.bulletin_docx import DOCX, bulletin_docx, bulletin_issue
from notifications.documents import bulletin_xlsx
from web.api.deps import ActorDep, AppDep, bearer_token, client_address, require
from web.api.schemas import ERRORS, Strict, TokenRequest, TokenResponse
from workflow.graph import mermaid
from workflow.org import Actor

router = APIRouter(prefix="/api", responses=ERRORS)
WeekQuery = Annotated[str | None, Query(pattern=r"^\d{4}-W\d{2}$", description="ISO 周，如 2026-W40；默认上一周")]


@router.post("/auth/token", response_model=TokenResponse, tags=["auth"], summary="登录，取得访问令牌")
def sign_in(body: TokenRequest, app: AppDep, request: Request) -> Any:
    token = app.auth.sign_in(body.username, body.password, client_address(request), "api")
    return {"access_token": token.value, "token_type": "bearer", "expires_at": local(token.expires_at)}


@router.post("/auth/revoke", status_code=204, tags=["auth"], summary="注销当前令牌")
def revoke(request: Request, app: AppDep, actor: ActorDep) -> Response:
    app.auth.revoke(bearer_token(request))
    return Response(status_code=204)


@router.get("/me", tags=["auth"], summary="当前用户")
def me(app: AppDep, actor: ActorDep) -> Any:
    user = next(u for u in app.users.all() if u["username"] == actor.username)
    return {**user, "roles": sorted(actor.roles)}


@router.get("/inbox", tags=["inbox"], summary="站内通知")
def inbox(app: AppDep, actor: ActorDep, unread: bool = False, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Any:
    return app.inbox.messages(user=actor.username, unread=unread, limit=limit, channel="inapp")


@router.post("/inbox/{notification_id}/read", status_code=204, tags=["inbox"], summary="标为已读")
def read(notification_id: Annotated[int, Path(ge=1, le=2**31 - 1)], app: AppDep, actor: ActorDep) -> Response:
    app.inbox.mark_read(notification_id, actor.username)
    return Response(status_code=204)


Reader = Annotated[Actor, Depends(require("dispatcher", "supervisor", "convenor", "admin"))]


@router.get("/bulletin", tags=["reports"], summary="专项工作通报（数据）")
def bulletin(app: AppDep, actor: Reader, week: WeekQuery = None) -> Any:
    from cases.reports import previous_week

    return app.periodic.bulletin_data(week or previous_week(app.clock.now()))


class RequirementsBody(Strict):
    text: str = Field(max_length=20000, description="下一步工作要求，每段一行；空字符串恢复默认文字；不超过5000字")


WeekPath = Annotated[str, Path(pattern=r"^\d{4}-W\d{2}$", description="ISO 周，如 2026-W49")]
Editor = Annotated[Actor, Depends(require("dispatcher", "admin"))]


@router.get("/bulletin/{week}/requirements", tags=["reports"], summary="通报的下一步工作要求（含修改记录）")
def bulletin_requirements(app: AppDep, actor: Reader, week: WeekPath) -> Any:
    return app.bulletin_requirements.get(week)


@router.put("/bulletin/{week}/requirements", tags=["reports"], summary="修改本周通报的下一步工作要求（联席办）")
def put_bulletin_requirements(app: AppDep, actor: Editor, week: WeekPath, body: RequirementsBody) -> Any:
    return app.bulletin_requirements.save(week, body.text, actor)


@router.get("/bulletin.xlsx", tags=["reports"], summary="专项工作通报（Excel）", response_class=Response)
def bulletin_workbook(app: AppDep, actor: Reader, week: WeekQuery = None) -> Response:
    from cases.reports import previous_week

    week = week or previous_week(app.clock.now())
    issue = bulletin_issue(week, app.notification_config)
    data = bulletin_xlsx(app.periodic.bulletin_data(week), issue_no=issue.issue_no, doc_number=issue.doc_number)
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="bulletin-{week}.xlsx"'},
    )


@router.get(
    "/bulletin.docx", tags=["reports"], summary="专项工作通报（公文 .docx，含期号、文号）", response_class=Response
)
def bulletin_document(app: AppDep, actor: Reader, week: WeekQuery = None) -> Response:
    from cases.reports import previous_week
    from workflow.clock import SHANGHAI

    week = week or previous_week(app.clock.now())
    issue = bulletin_issue(week, app.notification_config)
    data = bulletin_docx(
        app.periodic.bulletin_data(week), office_name=app.notification_config.office["name"],
        issue_no=issue.issue_no, doc_number=issue.doc_number, issued_on=app.clock.now().astimezone(SHANGHAI).date(),
    )  # fmt: skip
    return Response(
        data, media_type=DOCX, headers={"Content-Disposition": f'attachment; filename="bulletin-{week}.docx"'}
    )


@router.get("/audit/verify", tags=["audit"], summary="核验全部哈希链")
def audit_verify(app: AppDep, actor: Annotated[Actor, Depends(require("supervisor", "admin"))]) -> Any:
    with app.db.read() as conn:
        result = audit.verify(conn)
    broken = result.first_break
    return {
        "ok": result.ok,
        "cases": result.cases,
        "events": result.events,
        "first_break": None if broken is None else {"case": broken.case, "seq": broken.seq, "reason": broken.reason},
    }


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=64)
    department: str = Field(min_length=1, max_length=64)
    roles: list[str] = Field(min_length=1, max_length=7)
    password: str | None = Field(default=None, max_length=200)
    display_name: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=32)


Admin = Annotated[Actor, Depends(require("admin"))]


@router.get("/users", tags=["admin"], summary="用户列表")
def users(app: AppDep, actor: Admin) -> Any:
    return app.users.all()


@router.post("/users", status_code=201, tags=["admin"], summary="添加用户")
def add_user(body: UserCreate, app: AppDep, actor: Admin) -> Any:
    return app.users.add(
        body.username, body.department, body.roles, password=body.password, display_name=body.display_name,
        email=body.email, phone=body.phone,
    )  # fmt: skip


UserName = Annotated[str, Path(min_length=1, max_length=64, description="用户名")]


@router.post("/users/{username}/deactivate", tags=["admin"], summary="停用用户（注销其全部登录凭据；可重复执行）")
def deactivate_user(username: UserName, app: AppDep, actor: Admin) -> Any:
    return app.users.set_active(username, False, by=actor)


@router.post("/users/{username}/activate", tags=["admin"], summary="重新启用用户")
def activate_user(username: UserName, app: AppDep, actor: Admin) -> Any:
    return app.users.set_active(username, True, by=actor)


@router.get("/calendar/{year}", tags=["admin"], summary="工作日历")
def calendar(year: Annotated[int, Path(ge=2000, le=2099)], app: AppDep, actor: ActorDep) -> Any:
    return app.calendar.show(year)


class CalendarDayIn(Strict):
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    kind: str = Field(pattern="^(holiday|workday)$")
    name: str = Field(min_length=1, max_length=50)


@router.post("/calendar", tags=["admin"], summary="登记节假日或调休上班日（并重新计算受影响的期限）")
def add_calendar_day(body: CalendarDayIn, app: AppDep, actor: ActorDep) -> Any:
    change, recomputed = app.add_calendar_day(body.date, body.kind, body.name, actor)
    return {**change.to_dict(), "recomputed": recomputed}


@router.get("/workflows", tags=["definitions"], summary="流程定义")
def workflows(app: AppDep, actor: ActorDep) -> Any:
    return [
        {
            "type": s.type,
            "name": s.name,
            "version": s.version,
            "states": {k: v.label for k, v in s.states.items()},
            "triggers": list(s.triggers),
        }  # fmt: skip
        for s in app.definitions.specs.values()
    ]


@router.get("/workflows/{case_type}/graph", tags=["definitions"], summary="Mermaid 状态图", response_class=Response)
def workflow_graph(case_type: Annotated[str, Path(max_length=64)], app: AppDep, actor: ActorDep) -> Response:
    return Response(mermaid(app.definitions.current(case_type).spec), media_type="text/plain; charset=utf-8")


class MigrateBody(Strict):
    to: str = Field(min_length=1, max_length=64, description="目标版本：版本号（或其至少8位的前缀），或 current")
    map: dict[str, str] = Field(default_factory=dict, max_length=100, description="旧状态 → 目标版本的状态")
    dry_run: bool = Field(default=False, description="只列出将迁移的案件，不作改动")


@router.post("/admin/workflows/{case_type}/migrate", tags=["admin"], summary="把办理中的案件迁移到另一个流程定义版本")
def migrate_workflow(case_type: Annotated[str, Path(max_length=64)], body: MigrateBody, app: AppDep, actor: Admin) -> Any:
    from cases.definition_migration import DefinitionMigration

    migration = DefinitionMigration(app.db, app.definitions, app.clock, app.calendar.calendar)
    mapping = {old.strip(): new.strip() for old, new in body.map.items()}
    return migration.migrate(case_type, body.to, mapping, dry_run=body.dry_run, actor=actor).to_dict()


@router.get("/departments", tags=["definitions"], summary="单位（代码与名称）")
def departments(app: AppDep, actor: ActorDep) -> Any:
    return [{"code": d.code, "name": d.name, "kind": d.kind, "aliases": list(d.aliases)} for d in app.org.departments]
