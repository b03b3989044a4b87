"""Figures and the assessment (考核) over the API: every unit's figures for a period, the scores
with the 红黑榜, and the obligations behind any one figure (each figure links to what it counts).

Offices, supervisors, convenors and admins see every unit; a member unit's own users see their
unit's figures, score and lists. Counting is ``cases.figures``'s.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from notifications.documents import score_xlsx
from web.api.deps import ActorDep, AppDep
from web.api.schemas import ERRORS
from workflow.errors import PermissionDenied
from workflow.org import Actor

router = APIRouter(prefix="/api/reports", tags=["reports"], responses=ERRORS)
PeriodQuery = Annotated[
    str,
    Query(max_length=21, pattern=r"^\d{4}(-W\d{2}|-Q[1-4]|-\d{2}|-\d{2}-\d{2}~\d{4}-\d{2}-\d{2})?$",
          description="2026-W49、2026-10、2026-Q4、2026 或 2026-09-14~2026-12-06"),
]  # fmt: skip
ALL_UNITS = frozenset({"dispatcher", "supervisor", "convenor", "admin"})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _own_unit_only(actor: Actor) -> str | None:
    """None for who sees every unit; else the actor's unit."""
    return None if actor.roles & ALL_UNITS else actor.department


@router.get("/figures", summary="各单位指标（按责任事项计；同一指标在通报、考核、首页中一致）")
def figures(app: AppDep, actor: ActorDep, period: PeriodQuery) -> Any:
    result = app.scoreboard.figures(period)
    own = _own_unit_only(actor)
    if own is not None:
        result["units"] = {u: f for u, f in result["units"].items() if u == own}
    return result


@router.get("/score", summary="考核：各单位得分、排名与红黑榜")
def score(app: AppDep, actor: ActorDep, period: PeriodQuery) -> Any:
    result = app.scoreboard.score(period)
    own = _own_unit_only(actor)
    if own is not None:
        result["rows"] = [r for r in result["rows"] if r["unit"] == own]
    return result


@router.get("/score.xlsx", summary="考核（Excel）", response_class=Response)
def score_workbook(app: AppDep, actor: ActorDep, period: PeriodQuery) -> Response:
    if _own_unit_only(actor) is not None:
        raise PermissionDenied("全部单位的考核表仅限联席办、督查员、召集人和系统管理员下载")
    result = app.scoreboard.score(period)
    name = f"score-{result['period']}.xlsx"
    return Response(score_xlsx(result), media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/obligations", summary="某单位某项指标所计的责任事项清单")
def counted(
    app: AppDep,
    actor: ActorDep,
    period: PeriodQuery,
    unit: Annotated[str, Query(max_length=64, description="单位代码或名称")],
    figure: Annotated[str, Query(max_length=32, description="指标：assigned、done、late、overdue_open …")],
) -> Any:
    own = _own_unit_only(actor)
    code = app.org.resolve(unit, "unit")
    if own is not None and code != own:
        raise PermissionDenied("只能查看本单位的责任事项")
    items = app.scoreboard.counted(period, code, figure)
    return {"period": period, "unit": code, "unit_name": app.org.name(code), "figure": figure, "items": items,
            "total": len(items)}  # fmt: skip
