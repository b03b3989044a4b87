"""The office's and supervisors' pages: 挂图作战 (the dashboard, SVG charts linking to the lists
behind them), the history across cases with CSV/XLSX export, ``audit verify``, and the weekly
bulletin as a printable page (its seven sections; a member unit's reader sees its own part first; the
office edits the week's 下一步工作要求 there), an ``.xlsx`` download and an official ``.docx`` (公文)."""

import csv
import io
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from cases.bulletin_store import MAX_CHARS
from cases.dashboard import OVERDUE_LEVELS, AuditFilter
from cases.reports import parse_week, previous_week, unit_part
from notifications.bulletin_docx import DOCX, BulletinIssue, bulletin_docx, bulletin_issue
from notifications.documents import bulletin_xlsx
from web.ledger_files import attachment
from web.ui.charts import Bar, Segment, Series, bars, columns
from web.ui.labels import LEVEL_CSS, SYSTEM_TRIGGERS, item_labels, level_label, trigger_label, when
from web.ui.routes import is_htmx, render
from web.ui.session import Page, check_csrf, current_page
from workflow.clock import SHANGHAI
from workflow.errors import InvalidInput, PermissionDenied
from workflow.ladder import LEVELS

router = APIRouter(include_in_schema=False)
PageDep = Annotated[Page, Depends(current_page)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _link(path: str, **params: Any) -> str:
    return f"{path}?{urlencode({k: v for k, v in params.items() if v not in (None, '')})}"


# --- 挂图作战 ---------------------------------------------------------------------------------------


def _level_segments(levels: dict[str, int], **link: Any) -> list[Segment]:
    return [Segment(levels.get(lv, 0), f"fill-{LEVEL_CSS[lv]}", level_label(lv), _link("/cases", supervision=lv, **link)) for lv in LEVELS]


@router.get("/dashboard")
def dashboard(request: Request, page: PageDep) -> Response:
    page.require("dashboard")
    org, specs = page.app.org, page.app.definitions.specs
    summary, trends = page.board.summary(), page.board.trends()
    by_state = [
        Bar(f"{specs[r['type']].name}·{specs[r['type']].states[r['state']].label}", _link("/cases", type=r["type"], state=r["state"]),
            [Segment(r["count"], "fill-primary", "在办", _link("/cases", type=r["type"], state=r["state"]))])
        for r in summary["by_state"]
    ]  # fmt: skip
    by_level = [
        Bar(level_label(lv), _link("/cases", supervision=lv, open=1),
            [Segment(summary["by_level"][lv], f"fill-{LEVEL_CSS[lv]}", level_label(lv), _link("/cases", supervision=lv, open=1))])
        for lv in LEVELS
    ]  # fmt: skip
    waiting = sorted(summary["waiting"].items(), key=lambda kv: (-kv[1], kv[0]))
    by_unit = []
    for unit, count in waiting[:20]:
        late = summary["overdue_by_unit"].get(unit, 0)
        by_unit.append(Bar(org.name(unit), _link("/cases", waiting=unit), [
            Segment(count - late, "fill-normal", "未逾期", _link("/cases", waiting=unit)),
            Segment(late, "fill-red", "逾期及以上", _link("/cases", waiting=unit, overdue=1)),
        ], note=f"（逾期{late}）" if late else ""))  # fmt: skip
    towns = sorted(summary["by_town"].items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    by_town = [Bar(org.name(t), _link("/cases", town=t, open=1), _level_segments(levels, town=t, open=1)) for t, levels in towns]
    weeks = trends["weeks"]
    labels = [f"{w['from'].month}/{w['from'].day}" for w in weeks]
    weekly = columns(labels, [
        Series("登记", "fill-primary", [w["registered"] for w in weeks],
               [_link("/cases", created_from=w["from"], created_to=w["to"], sort="newest") for w in weeks]),
        Series("办结", "fill-green", [w["closed"] for w in weeks],
               [_link("/cases", closed_from=w["from"], closed_to=w["to"], sort="newest") for w in weeks]),
        Series("新增逾期", "fill-yellow", [w["overdue"] for w in weeks],
               [_link("/cases", created_to=w["to"], overdue=1, open=1) for w in weeks]),
    ])  # fmt: skip
    month = f"{trends['from'].isoformat()}~{trends['to'].isoformat()}"  # the last twelve weeks, as the trends
    figures = page.app.scoreboard.figures(month)  # the same figures as the bulletin and the assessment

    def counted(unit: str, figure: str) -> str:
        return _link("/obligations", period=month, unit=unit, figure=figure)

    units = sorted(figures["units"].items(), key=lambda kv: (kv[1]["on_time_rate"] if kv[1]["on_time_rate"] is not None else 2, -kv[1]["done"]))
    on_time = [
        Bar(f["unit_name"], counted(u, "done"), [
            Segment(f["done_on_time"], "fill-green", "按期办结", counted(u, "done")),
            Segment(f["done"] - f["done_on_time"], "fill-yellow", "超期办结", counted(u, "late")),
            Segment(f["overdue_open"], "fill-red", "逾期未办", counted(u, "overdue_open")),
        ], note=f"（按期{f['on_time_rate'] * 100:.0f}%）" if f["on_time_rate"] is not None else "")
        for u, f in units[:20] if f["done"] or f["overdue_open"]
    ]  # fmt: skip
    context = {
        "title": "挂图作战", "active": "dashboard", "summary": summary, "trends": trends,
        "overdue": sum(summary["by_level"].get(lv, 0) for lv in OVERDUE_LEVELS), "listed": summary["by_level"].get("listed", 0),
        "charts": {
            "state": bars(by_state, label_width=230), "level": bars(by_level), "unit": bars(by_unit, label_width=230),
            "town": bars(by_town), "weekly": weekly, "on_time": bars(on_time, label_width=230),
        },
        "this_week": weeks[-1], "now": page.app.clock.now(), "figures": figures, "month": month,
    }  # fmt: skip
    return render(page, request, "dashboard.html", context)


# --- history across cases ---------------------------------------------------------------------------


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _audit_filter(params: Any) -> AuditFilter:
    return AuditFilter(
        actor=params.get("actor") or None, unit=params.get("unit") or None, trigger=params.get("trigger") or None,
        case=(params.get("case") or "").strip() or None, since=_day(params.get("since")), until=_day(params.get("until")),
    )  # fmt: skip


def _trigger_choices(page: Page) -> list[tuple[str, str]]:
    seen: dict[str, str] = dict(SYSTEM_TRIGGERS)
    for spec in page.app.definitions.specs.values():
        for trigger in spec.triggers:
            seen.setdefault(trigger, trigger_label(spec, trigger))
    return sorted(seen.items(), key=lambda kv: kv[1])


def _rows(page: Page, events: list[dict[str, Any]], users: dict[str, Any]) -> list[dict[str, Any]]:
    specs, org, rows = page.app.definitions.specs, page.app.org, []
    for e in events:
        spec = specs.get(e["type"])
        states = {n: s.label for n, s in spec.states.items()} if spec else {}
        person = users.get(e["actor"])
        what = trigger_label(spec, e["trigger"])
        item = (e.get("payload") or {}).get("item")
        if e["trigger"] == "complete_item" and spec is not None and item:
            what = f"{what}：{item_labels(spec).get(item, item)}"
        rows.append({
            **e, "when": when(e["at"]), "what": what,
            "actor_name": person["display_name"] if person else ("系统" if e["actor"] == "system" else e["actor"]),
            "unit_name": org.name(person["department"]) if person else "",
            "from": states.get(e["from_state"] or "", e["from_state"] or ""), "to": states.get(e["to_state"], e["to_state"]),
        })  # fmt: skip
    return rows


@router.get("/audit")
def audit_page(request: Request, page: PageDep, before: int | None = None) -> Response:
    page.require("audit")
    params = request.query_params
    f = _audit_filter(params)
    result, error = {"events": [], "next_before": None}, None
    try:
        result = page.board.audit_events(f, before=before)
    except InvalidInput as exc:
        error = exc.reason
    except Exception as exc:  # noqa: BLE001 - an unknown case number is a message, not an error page
        if getattr(exc, "code", "") != "not_found":
            raise
        error = f"没有编号为“{f.case}”的案件"
    users = page.board.user_names()
    query = {k: v for k, v in params.items() if v and k != "before"}
    context = {
        "title": "办理记录", "active": "audit", "params": params, "rows": _rows(page, result["events"], users), "error": error,
        "next": _link("/audit", **query, before=result["next_before"]) if result["next_before"] else None,
        "export": urlencode(query), "triggers": _trigger_choices(page),
        "people": sorted(((u, v["display_name"]) for u, v in users.items()), key=lambda kv: kv[0]),
        "units": [(d.code, d.name) for d in page.app.org.departments], "verify": page.may("verify"),
    }  # fmt: skip
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(page, request, "_audit_rows.html", context)
    return render(page, request, "audit.html", context)


EXPORT_COLUMNS = ("时间", "案件编号", "案件标题", "序号", "操作人", "操作人用户名", "操作人单位", "操作", "原状态", "新状态", "备注", "哈希")


def _export_rows(page: Page, f: AuditFilter) -> Iterator[list[Any]]:
    users = page.board.user_names()
    batch: list[dict[str, Any]] = []
    for event in page.board.iter_audit_events(f):
        batch.append(event)
        if len(batch) >= 500:
            yield from _export_batch(page, batch, users)
            batch = []
    yield from _export_batch(page, batch, users)


def _export_batch(page: Page, events: list[dict[str, Any]], users: dict[str, Any]) -> Iterator[list[Any]]:
    for r in _rows(page, events, users):
        yield [r["when"], r["number"], r["title"], r["seq"], r["actor_name"], r["actor"], r["unit_name"], r["what"],
               r["from"], r["to"], r["comment"] or "", r["hash"]]  # fmt: skip


@router.get("/audit/export.csv")
def audit_csv(request: Request, page: PageDep) -> Response:
    page.require("audit")
    f = _audit_filter(request.query_params)

    def lines() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # Excel reads UTF-8 only with a BOM
        writer.writerow(EXPORT_COLUMNS)
        for row in _export_rows(page, f):
            writer.writerow(row)
            if buffer.tell() > 64_000:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()

    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="caseflow-history.csv"'})  # fmt: skip


@router.get("/audit/export.xlsx")
def audit_xlsx(request: Request, page: PageDep) -> Response:
    from openpyxl import Workbook

    page.require("audit")
    f = _audit_filter(request.query_params)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("办理记录")
    sheet.append(list(EXPORT_COLUMNS))
    for row in _export_rows(page, f):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return Response(buffer.getvalue(), media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="caseflow-history.xlsx"'})


@router.get("/audit/verify")
def audit_verify(request: Request, page: PageDep) -> Response:
    page.require("verify")
    result = page.board.verify()
    return render(page, request, "verify.html", {"title": "哈希链核验", "active": "audit", "result": result, "at": page.app.clock.now()})


# --- the weekly bulletin -----------------------------------------------------------------------------


def _weeks(page: Page, count: int = 12) -> list[str]:
    today = page.app.clock.now().astimezone(SHANGHAI).date()
    result = []
    for n in range(count):
        year, week, _ = (today - timedelta(weeks=n)).isocalendar()
        result.append(f"{year}-W{week:02d}")
    return result


def _week(page: Page, week: str | None) -> str:
    chosen = (week or "").strip().upper() or previous_week(page.app.clock.now())
    parse_week(chosen)
    return chosen


CITY_READERS = frozenset({"dispatcher", "supervisor", "convenor", "admin"})
"""Who reads the bulletin for the whole city; a member unit's handlers and unit heads read it
with their own part first."""
EDITORS = frozenset({"dispatcher", "admin"})
"""Who may edit the week's 下一步工作要求 (the office)."""


def _own(page: Page, data: dict[str, Any]) -> dict[str, Any] | None:
    """本单位情况 for a member unit's reader (not for the office, supervisors, convenors)."""
    if page.actor.roles & CITY_READERS:
        return None
    return unit_part(data, page.actor.department)


@router.get("/bulletin")
def bulletin(request: Request, page: PageDep, week: str | None = None, saved: str | None = None) -> Response:
    page.require("bulletin")
    chosen = _week(page, week)
    data = page.app.periodic.bulletin_data(chosen)
    return _bulletin_page(request, page, chosen, data, saved=bool(saved))


def _bulletin_page(request: Request, page: Page, chosen: str, data: dict[str, Any], *, saved: bool = False,
                   draft: str | None = None, error: str | None = None, status: int = 200) -> Response:  # fmt: skip
    context = {"title": f"工作通报 {chosen}", "active": "bulletin", "data": data, "weeks": _weeks(page), "week": chosen,
               "issue": _issue(page, chosen), "office": dict(page.app.notification_config.office),
               "own": _own(page, data), "may_edit": bool(page.actor.roles & EDITORS), "saved": saved,
               "draft": data["requirements"]["text"] if draft is None else draft, "error": error,
               "max_chars": MAX_CHARS}  # fmt: skip
    return render(page, request, "bulletin.html", context, status)


@router.post("/bulletin/requirements")
async def bulletin_requirements(request: Request, page: PageDep) -> Response:
    """Save the week's 下一步工作要求 (the office); empty goes back to the default."""
    async with request.form() as form:
        check_csrf(page, form)
        week, text = str(form.get("week") or ""), str(form.get("text") or "")
    chosen = _week(page, week)
    try:
        page.app.bulletin_requirements.save(chosen, text, page.actor)
    except InvalidInput as exc:
        data = page.app.periodic.bulletin_data(chosen)
        return _bulletin_page(request, page, chosen, data, draft=text, error=exc.reason, status=422)
    return RedirectResponse(f"/bulletin?week={chosen}&saved=1#requirements", status_code=303)


def _issue(page: Page, week: str) -> BulletinIssue:
    return bulletin_issue(week, page.app.notification_config)


@router.get("/bulletin.xlsx")
def bulletin_download(request: Request, page: PageDep, week: str | None = None) -> Response:
    page.require("bulletin")
    chosen = _week(page, week)
    issue = _issue(page, chosen)
    data = bulletin_xlsx(page.app.periodic.bulletin_data(chosen), issue_no=issue.issue_no, doc_number=issue.doc_number)
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="bulletin-{chosen}.xlsx"'})


@router.get("/bulletin.docx")
def bulletin_document(request: Request, page: PageDep, week: str | None = None) -> Response:
    """The bulletin as an official document (公文), named 工作通报第N期（周次）.docx."""
    page.require("bulletin")
    chosen = _week(page, week)
    issue = _issue(page, chosen)
    data = bulletin_docx(
        page.app.periodic.bulletin_data(chosen), office_name=page.app.notification_config.office["name"],
        issue_no=issue.issue_no, doc_number=issue.doc_number, issued_on=page.app.clock.now().astimezone(SHANGHAI).date(),
    )  # fmt: skip
    name = f"工作通报第{issue.issue_no}期（{chosen}）.docx"
    return Response(data, media_type=DOCX, headers=attachment(name, fallback=f"bulletin-{chosen}.docx"))


# --- 考核 and the obligations behind a figure ---------------------------------------------------------

ALL_UNITS = frozenset({"dispatcher", "supervisor", "convenor", "admin"})
FIGURE_LABELS = {
    "assigned": "交办（签收事项）", "accepted": "已签收", "returned": "退回", "done": "办结的责任事项",
    "late": "超期办结的责任事项", "completed": "办结（答复、提交验收）", "reworks": "重办", "overdue_open": "当前超期未办",
    "went_overdue": "本期新增超期", "warned": "临期预警", "overdue": "逾期催办", "supervised": "督办", "listed": "挂牌督办",
}  # fmt: skip


def _period(page: Page, period: str | None) -> str:
    if period:
        page.app.scoreboard.period(period)  # InvalidInput in Chinese for a bad one
        return period
    return page.app.clock.now().astimezone(SHANGHAI).strftime("%Y-%m")


@router.get("/score")
def score(request: Request, page: PageDep, period: str | None = None) -> Response:
    page.require("score")
    chosen = _period(page, period)
    result = page.app.scoreboard.score(chosen)
    own = None if page.actor.roles & ALL_UNITS else page.actor.department
    rows = [r for r in result["rows"] if own is None or r["unit"] == own]
    names = {r["unit"]: r["unit_name"] for r in result["rows"]}
    context = {"title": f"考核 {result['period_label']}", "active": "score", "result": result, "rows": rows,
               "period": chosen, "own": own, "red": [names[u] for u in result["red"]],
               "black": [names[u] for u in result["black"]]}  # fmt: skip
    return render(page, request, "score.html", context)


@router.get("/score.xlsx")
def score_download(request: Request, page: PageDep, period: str | None = None) -> Response:
    page.require("bulletin")  # every unit's scores: the office, supervisors, convenors, admins
    from notifications.documents import score_xlsx

    result = page.app.scoreboard.score(_period(page, period))
    headers = attachment(f"考核{result['period']}.xlsx", f"score-{result['period']}.xlsx")
    return Response(score_xlsx(result), media_type=XLSX, headers=headers)


@router.get("/obligations")
def counted(request: Request, page: PageDep, period: str | None = None, unit: str | None = None,
            figure: str = "overdue_open") -> Response:  # fmt: skip
    page.require("cases")
    chosen = _period(page, period)
    code = page.app.org.resolve(unit, "unit") if unit else page.actor.department
    if not page.actor.roles & ALL_UNITS and code != page.actor.department:
        raise PermissionDenied("只能查看本单位的责任事项")
    items = page.app.scoreboard.counted(chosen, code, figure)
    label = FIGURE_LABELS.get(figure, figure)
    context = {"title": f"{page.app.org.name(code)}·{label}", "active": "score", "items": items, "period": chosen,
               "unit": code, "unit_name": page.app.org.name(code), "figure": figure, "figure_label": label,
               "figures": FIGURE_LABELS, "period_label": page.app.scoreboard.period(chosen).label}  # fmt: skip
    return render(page, request, "obligations.html", context)
