"""Case pages: 我的待办, the case list, a case (fields, actions, checklists with evidence, history,
diagram, notifications), its action and item forms, evidence files, and registering a case.

Every form posts to the same services the API calls; a refused form is drawn again with the
services' messages (``InvalidInput`` per field, other refusals at the top of the form).
"""

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from cases.dashboard import CaseFilter
from cases.service import Upload
from web.api.cases_routes import MAX_FILES, read_uploads
from web.ui import forms
from web.ui.diagram import state_diagram, state_steps
from web.ui.labels import item_labels, remaining, trigger_label, value_text
from web.ui.routes import is_htmx, redirect, render
from web.ui.session import Page, check_csrf, current_page, may_register
from workflow.clock import SHANGHAI
from workflow.errors import CaseflowError, GuardFailed, InvalidInput, NotFound, PermissionDenied
from workflow.graph import mermaid
from workflow.ladder import LEVELS, MANUAL_TRIGGERS
from workflow.rulebook import Rulebook
from workflow.spec import FieldSpec, WorkflowSpec

router = APIRouter(include_in_schema=False)
PageDep = Annotated[Page, Depends(current_page)]
NumberPath = Annotated[str, Path(max_length=32)]
KeyPath = Annotated[str, Path(max_length=64, pattern=r"^[a-z_]+$")]
PAGE_SIZE = 30
MANUAL_LABELS = {"supervise": "督办", "list": "挂牌督办"}
SECONDARY = {"decline", "return", "dismiss", "send_back", "reject_extension", "reopen", "fail_acceptance", "convert_to_ban",
             "report_relapse", "supervise", "list", "reassign"}  # fmt: skip


# --- lists ------------------------------------------------------------------------------------------


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) < 100000 else 1


def _filter(params: Any, **fixed: Any) -> CaseFilter:
    level = params.get("level") or None
    values: dict[str, Any] = {
        "case_type": params.get("type") or None,
        "state": params.get("state") or None,
        "open_only": params.get("open") == "1",
        "supervision": level if level in LEVELS else None,
        "overdue": params.get("overdue") == "1" or level == "overdue_up",
        "town": params.get("town") or None,
        "unit": params.get("unit") or None,
        "waiting": params.get("waiting") or None,
        "department": params.get("department") or None,
        "query": (params.get("q") or "").strip()[:100] or None,
        "created_from": _day(params.get("created_from")),
        "created_to": _day(params.get("created_to")),
        "closed_from": _day(params.get("closed_from")),
        "closed_to": _day(params.get("closed_to")),
        "sort": params.get("sort") if params.get("sort") in ("due", "newest", "oldest") else "due",
    }
    values.update(fixed)
    return CaseFilter(**values)


def _list_context(page: Page, f: CaseFilter, number: int) -> dict[str, Any]:
    result = page.board.search(page.actor, f, number, PAGE_SIZE)
    calendar = page.app.calendar.calendar()
    today = page.app.clock.now().astimezone(SHANGHAI).date()
    for item in result["items"]:
        item["remaining"] = remaining(calendar, today, item["due_date"]) if item["open"] else None
        item["mine"] = [i["label"] for i in item["open_items"] if i["executor"] == page.actor.department]
    pages = max((result["total"] + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return {"result": result, "pages": pages, "number": number}


def _query_string(params: Any, **change: Any) -> str:
    values = {k: v for k, v in params.items() if v and k not in change}
    values.update({k: v for k, v in change.items() if v})
    return urlencode(values)


def _choices(page: Page) -> dict[str, Any]:
    org = page.app.org
    types = [(t, page.app.definitions.current(t).spec.name) for t in page.app.definitions.types]
    states = [(name, f"{spec.name}·{s.label}") for spec in page.app.definitions.specs.values() for name, s in spec.states.items()]
    return {
        "types": types,
        "states": states,
        "towns": [(d.code, d.name) for d in org.departments if d.kind in ("street", "town", "park")],
        "units": [(d.code, d.name) for d in org.departments],
    }


OWED_PAGE = 50
"""Obligations per page of 我的待办 (each of its two lists)."""


@router.get("/todo")
def todo(request: Request, page: PageDep) -> Response:
    params = request.query_params
    office = page.actor.has("dispatcher") and page.actor.department == page.app.org.office
    f = _filter(params, waiting=page.actor.department, with_new=office, sort="due", state=None, open_only=False,
                unit=None, department=None)  # fmt: skip
    owed_page = _page_number(params.get("op"))
    owed = (
        page.app.cases.todo(page.actor, limit=OWED_PAGE, offset=(owed_page - 1) * OWED_PAGE)
        if not is_htmx(request)
        else {"items": [], "total": 0, "waiting_on_others": [], "waiting_total": 0}
    )
    owed["page"], owed["pages"] = owed_page, max(1, -(-max(owed["total"], owed["waiting_total"]) // OWED_PAGE))
    context = {"title": "我的待办", "active": "todo", "params": params, "qs": lambda **c: _query_string(params, **c),
               "unit_name": page.app.org.name(page.actor.department), "office": office, "owed": owed,
               "owed_page_size": OWED_PAGE,
               **_list_context(page, f, _page_number(params.get("page"))), **_choices(page)}  # fmt: skip
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(page, request, "_case_rows.html", {**context, "base": "/todo"})
    return render(page, request, "todo.html", {**context, "base": "/todo"})


@router.get("/cases")
def case_list(request: Request, page: PageDep) -> Response:
    params = request.query_params
    f = _filter(params)
    context = {"title": "案件查询", "active": "cases", "params": params, "qs": lambda **c: _query_string(params, **c),
               "filters": _describe(page, f), **_list_context(page, f, _page_number(params.get("page"))), **_choices(page)}  # fmt: skip
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(page, request, "_case_rows.html", {**context, "base": "/cases"})
    return render(page, request, "cases.html", {**context, "base": "/cases"})


def _describe(page: Page, f: CaseFilter) -> list[str]:
    """The filters that came from a link (the dashboard), in words."""
    org, words = page.app.org, []
    from web.ui.labels import level_label

    if f.waiting:
        words.append(f"等待{org.name(f.waiting)}办理")
    if f.unit:
        words.append(f"责任单位：{org.name(f.unit)}")
    if f.department:
        words.append(f"涉及单位：{org.name(f.department)}")
    if f.open_only:
        words.append("未办结")
    if f.overdue:
        words.append("逾期及以上")
    if f.supervision:
        words.append(level_label(f.supervision))
    for label, first, last in (("登记", f.created_from, f.created_to), ("办结", f.closed_from, f.closed_to)):
        if first or last:
            words.append(f"{label}于{first or '…'}至{last or '…'}")
    return words


# --- one case ---------------------------------------------------------------------------------------


def _action_forms(page: Page, view: dict[str, Any], rulebook: Rulebook, state: dict[str, Any] | None) -> list[dict[str, Any]]:
    spec, result = rulebook.spec, []
    for trigger in view["allowed_triggers"]:
        mine = state if state and state["kind"] == "action" and state["key"] == trigger else None
        values, errors = (mine["values"], mine["errors"]) if mine else ({}, {})
        if trigger in MANUAL_TRIGGERS:
            widgets = forms.widgets(spec, page.app.org, ("reason",), (), values, errors, extra={"reason": forms.MANUAL_REASON})
            label, evidence = MANUAL_LABELS[trigger], "none"
        else:
            branch = spec.branches(trigger, view["state"])[0]
            widgets = forms.widgets(spec, page.app.org, branch.required, branch.optional, values, errors, dict(branch.allowed_values))
            label, evidence = trigger_label(spec, trigger), branch.evidence
        result.append({
            "kind": "action", "key": trigger, "label": label, "widgets": widgets, "evidence": evidence,
            "url": f"/cases/{view['number']}/actions/{trigger}", "secondary": trigger in SECONDARY,
            "message": mine["message"] if mine else None, "comment": mine["comment"] if mine else "", "open": bool(mine),
        })  # fmt: skip
    return result


def _item_forms(page: Page, view: dict[str, Any], rulebook: Rulebook, state: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    spec, result = rulebook.spec, {}
    for key in view["allowed_items"]:
        found = spec.item(key)
        if found is None:
            continue
        checklist, item = found
        mine = state if state and state["kind"] == "item" and state["key"] == key else None
        values, errors = (mine["values"], mine["errors"]) if mine else ({}, {})
        optional = tuple(n for n in ("notes",) if n in spec.fields and n not in item.required)
        result[key] = {
            "kind": "item", "key": key, "label": f"完成“{item.label}”", "evidence": checklist.evidence,
            "widgets": forms.widgets(spec, page.app.org, item.required, optional, values, errors),
            "url": f"/cases/{view['number']}/items/{key}", "secondary": False,
            "message": mine["message"] if mine else None, "comment": mine["comment"] if mine else "", "open": bool(mine),
        }  # fmt: skip
    return result


DECISION_FORMS = {  # decision → (button, URL part, reason required, evidence)
    "waive": ("申请不适用", "waive", True, "optional"),
    "approve_waiver": ("批准不适用", "approve-waiver", False, "none"),
    "reject_waiver": ("驳回申请", "reject-waiver", True, "none"),
    "confirm": ("确认办结", "confirm", False, "none"),
    "reject": ("退回重办", "reject", True, "none"),
}
DECISION_REASON = FieldSpec("reason", "理由", "text", max_length=2000)


def _decision_forms(page: Page, view: dict[str, Any], spec: WorkflowSpec, state: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """Item → the forms of the decisions the user may take on it (不适用, approval, confirmation)."""
    result: dict[str, list[dict[str, Any]]] = {}
    for d in view.get("item_decisions") or []:
        item, decision = d["item"], d["decision"]
        label, part, needs_reason, evidence = DECISION_FORMS[decision]
        key = f"{item}:{decision}"
        mine = state if state and state["kind"] == "decision" and state["key"] == key else None
        values, errors = (mine["values"], mine["errors"]) if mine else ({}, {})
        widgets = forms.widgets(
            spec, page.app.org, ("reason",) if needs_reason else (),
            () if needs_reason else ("reason",), values, errors, extra={"reason": DECISION_REASON},
        )  # fmt: skip
        result.setdefault(item, []).append({
            "kind": "decision", "key": key, "label": label, "widgets": widgets, "evidence": evidence,
            "url": f"/cases/{view['number']}/items/{item}/{part}", "secondary": decision in ("waive", "reject_waiver", "reject"),
            "message": mine["message"] if mine else None, "comment": mine["comment"] if mine else "", "open": bool(mine),
        })  # fmt: skip
    return result


def _history(page: Page, rulebook: Rulebook, events: list[dict[str, Any]], users: dict[str, Any]) -> list[dict[str, Any]]:
    spec, org, labels = rulebook.spec, page.app.org, item_labels(rulebook.spec)
    states = {n: s.label for n, s in spec.states.items()}
    result = []
    for e in reversed(events):
        payload = e["payload"] or {}
        what = trigger_label(spec, e["trigger"])
        if e["trigger"] == "complete_item":
            what = f"完成事项：{labels.get(payload.get('item', ''), payload.get('item', ''))}"
            if payload.get("confirm_by"):
                what = f"上报办结（待{org.name(payload['confirm_by'])}确认）：{labels.get(payload['item'], payload['item'])}"
        elif payload.get("decision") and payload.get("item"):
            what = f"{what}：{labels.get(payload['item'], payload['item'])}"
        person = users.get(e["actor"])
        fields = [(spec.fields[k].label if k in spec.fields else ("督办理由" if k == "reason" else k), value_text(spec, org, k, v))
                  for k, v in {**(payload.get("fields") or {}), **(payload.get("computed") or {})}.items()
                  if e["trigger"] != "create"]  # fmt: skip
        if payload.get("decision") and payload.get("reason"):
            fields.append(("理由", payload["reason"]))
        for name, given in (payload.get("views") or {}).items():
            label = rulebook.spec.opinions.get(name, name)
            fields.append((label, f"{given['text'] or ''}（{org.name(given['unit'])}）" if given else "未提出"))
        result.append({
            "seq": e["seq"], "at": e["at"], "what": what, "trigger": e["trigger"], "comment": e["comment"],
            "actor": person["display_name"] if person else ("系统" if e["actor"] == "system" else e["actor"]),
            "unit": org.name(person["department"]) if person else "", "username": e["actor"],
            "from": states.get(e["from_state"] or "", ""), "to": states.get(e["to_state"], e["to_state"]),
            "moved": e["from_state"] != e["to_state"], "fields": fields, "evidence": payload.get("evidence") or [],
            "deadline": (payload.get("deadline") or {}).get("due_date"), "level": payload.get("level"), "hash": e["hash"],
        })  # fmt: skip
    return result


def case_context(page: Page, number: str, state: dict[str, Any] | None = None) -> dict[str, Any]:
    app, board = page.app, page.board
    view = app.cases.show(number, page.actor)
    rulebook = board.rulebook(view["definition_version"])
    spec = rulebook.spec
    events = app.cases.history(view["number"], page.actor)
    users = board.user_names()
    shas = [s for i in view["items"] for s in i["evidence"]] + [s for e in events for s in (e["payload"] or {}).get("evidence") or []]
    today = app.clock.now().astimezone(SHANGHAI).date()
    fields = [(f.label, value_text(spec, app.org, name, view["fields"][name])) for name, f in spec.fields.items() if name in view["fields"]]
    checklists = []
    for name, checklist in spec.checklists.items():
        items = [i for i in view["items"] if i["checklist"] == name]
        if items:
            checklists.append({"name": name, "label": checklist.label, "items": items, "ordered": checklist.ordered,
                               "active": checklist.state == view["state"]})  # fmt: skip
    visited = {e["to_state"] for e in events} | {e["from_state"] for e in events if e["from_state"]}
    return {
        "title": f"{view['number']} {view['title']}", "active": "", "view": view, "spec": spec, "fields": fields,
        "remaining": remaining(app.calendar.calendar(), today, view["due_date"]) if view["open"] else None,
        "actions": _action_forms(page, view, rulebook, state), "item_forms": _item_forms(page, view, rulebook, state),
        "decision_forms": _decision_forms(page, view, spec, state),
        "checklists": checklists, "evidence": board.evidence_meta(shas), "history": _history(page, rulebook, events, users),
        "users": users, "diagram": state_diagram(spec, view["state"], visited), "steps": state_steps(spec, view["state"], visited),
        "mermaid": mermaid(spec, view["state"]),
        "notifications": board.case_notifications(view["id"]), "counters": _counters(view),
        "co_units": [(app.org.name(code), a) for code, a in view["co_units"].items()],
        "done": None, "state_labels": {n: s.label for n, s in spec.states.items()},
    }  # fmt: skip


COUNTER_LABELS = {"return_count": "退回次数", "reassign_count": "改派次数", "extension_count": "延期次数", "extension_days": "延期天数",
                  "send_back_count": "驳回重办次数", "reopen_count": "重新办理次数", "acceptance_fail_count": "验收不通过次数",
                  "rectify_fail_count": "整改验收不通过次数", "rectify_extension_count": "整改延期次数", "relapse_count": "反弹次数"}  # fmt: skip


def _counters(view: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(COUNTER_LABELS.get(k, k), v) for k, v in view["counters"].items() if v]


@router.get("/cases/{number}")
def case_page(number: NumberPath, request: Request, page: PageDep, done: str | None = None) -> Response:
    context = case_context(page, number)
    if done:
        spec = context["spec"]
        what = "登记" if done == "create" else MANUAL_LABELS.get(done) or trigger_label(spec, done)
        if done.startswith("item:"):
            what = "完成“" + item_labels(spec).get(done[5:], done[5:]) + "”"
        if done.startswith("decision:") and done.count(":") == 2:
            _, item, decision = done.split(":")
            if decision in DECISION_FORMS:
                what = f"{DECISION_FORMS[decision][0]}“{item_labels(spec).get(item, item)}”"
        context["done"] = what
    return render(page, request, "case.html", context)


async def _uploads(form: FormData, limit: int) -> list[Upload]:
    """The evidence files of a form (empty file inputs left out), checked as the API checks them."""
    files = [f for f in form.getlist("evidence") if isinstance(f, UploadFile) and (f.filename or f.size)]
    return await read_uploads(files, limit)


async def _submit(request: Request, page: Page, number: str, kind: str, key: str) -> Response:
    async with request.form(max_files=MAX_FILES + 1) as form:  # closes the uploaded files after
        return await _handle(request, page, number, kind, key, form)


async def _handle(request: Request, page: Page, number: str, kind: str, key: str, form: FormData) -> Response:
    check_csrf(page, form)
    view = page.app.cases.show(number, page.actor)
    spec = page.board.rulebook(view["definition_version"]).spec
    extra = {"reason": forms.MANUAL_REASON} if key in MANUAL_TRIGGERS else None
    if kind == "action":
        if key in MANUAL_TRIGGERS:
            names: tuple[str, ...] = ("reason",)
        elif key in spec.triggers:
            branches = spec.branches(key, view["state"]) or tuple(t for t in spec.transitions if t.trigger == key)
            names = branches[0].inputs
        else:
            raise NotFound("操作", key)
    else:
        found = spec.item(key)
        if found is None:
            raise NotFound("事项", key)
        names = found[1].required + ("notes",)
    values = forms.read(form, spec, names, extra)
    comment = str(form.get("comment") or "")
    version = str(form.get("expected_version") or "")
    expected = int(version) if version.isdigit() else None
    try:
        uploads = await _uploads(form, page.app.evidence.max_bytes)
        if kind == "action":
            page.app.cases.advance(view["number"], key, page.actor, values, comment=comment, expected_version=expected, evidence=uploads)
        else:
            page.app.cases.complete_item(view["number"], key, page.actor, values, comment=comment, expected_version=expected, evidence=uploads)
    except PermissionDenied:
        raise
    except (InvalidInput, GuardFailed, CaseflowError) as exc:
        if isinstance(exc, InvalidInput) and set(exc.errors) <= set(names):
            state = {"kind": kind, "key": key, "values": values, "errors": exc.errors, "message": "请按提示修改后再提交", "comment": comment}
        else:
            state = {"kind": kind, "key": key, "values": values, "errors": {}, "message": exc.message, "comment": comment}
        return _refused(request, page, view["number"], kind, key, state, exc.http_status if exc.http_status < 500 else 409)
    done = key if kind == "action" else f"item:{key}"
    return redirect(request, f"/cases/{view['number']}?done={done}")


def _refused(request: Request, page: Page, number: str, kind: str, key: str, state: dict[str, Any], status: int) -> Response:
    context = case_context(page, number, state)
    if is_htmx(request):
        if kind == "decision":
            forms_ = [f for group in context["decision_forms"].values() for f in group]
        else:
            forms_ = context["actions"] if kind == "action" else list(context["item_forms"].values())
        form = next((f for f in forms_ if f["key"] == key), None)
        if form is not None:
            return render(page, request, "_action_form.html", {**context, "form": form}, status)
        return render(page, request, "_error_fragment.html", {"title": "无法执行", "message": state["message"]}, status)
    return render(page, request, "case.html", context, status)


@router.post("/cases/{number}/actions/{trigger}")
async def act(number: NumberPath, trigger: KeyPath, request: Request, page: PageDep) -> Response:
    return await _submit(request, page, number, "action", trigger)


@router.post("/cases/{number}/items/{item}")
async def complete_item(number: NumberPath, item: KeyPath, request: Request, page: PageDep) -> Response:
    return await _submit(request, page, number, "item", item)


@router.post("/cases/{number}/items/{item}/{decision}")
async def decide_item(number: NumberPath, item: KeyPath, decision: str, request: Request, page: PageDep) -> Response:
    found = next((d for d, form in DECISION_FORMS.items() if form[1] == decision), None)
    if found is None:
        raise NotFound("决定", decision)
    async with request.form(max_files=MAX_FILES + 1) as form:
        check_csrf(page, form)
        view = page.app.cases.show(number, page.actor)
        spec = page.board.rulebook(view["definition_version"]).spec
        values = forms.read(form, spec, ("reason",), {"reason": DECISION_REASON})
        comment = str(form.get("comment") or "")
        version = str(form.get("expected_version") or "")
        key = f"{item}:{found}"
        try:
            uploads = await _uploads(form, page.app.evidence.max_bytes)
            page.app.cases.decide_item(
                view["number"], item, found, page.actor, values.get("reason"), comment=comment,
                expected_version=int(version) if version.isdigit() else None, evidence=uploads,
            )  # fmt: skip
        except PermissionDenied:
            raise
        except CaseflowError as exc:
            errors = exc.errors if isinstance(exc, InvalidInput) and set(exc.errors) <= {"reason"} else {}
            message = "请按提示修改后再提交" if errors else exc.message
            state = {"kind": "decision", "key": key, "values": values, "errors": errors, "message": message, "comment": comment}
            return _refused(request, page, view["number"], "decision", key, state, exc.http_status if exc.http_status < 500 else 409)
    return redirect(request, f"/cases/{view['number']}?done=decision:{key}")


@router.get("/evidence/{sha256}")
def evidence(sha256: Annotated[str, Path(pattern="^[0-9a-f]{64}$")], page: PageDep, download: bool = False) -> Response:
    from urllib.parse import quote

    meta, data = page.app.cases.evidence_file(sha256, page.actor)
    disposition = "attachment" if download else "inline"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(meta['original_name'], safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'",
        "Cache-Control": "private, max-age=86400",
    }
    return Response(data, media_type=meta["media_type"], headers=headers)


# --- registering ---------------------------------------------------------------------------------


@router.get("/register")
def register_choice(request: Request, page: PageDep) -> Response:
    types = page.can_register()
    if not types:
        raise PermissionDenied("您没有登记案件的权限（问题收集员、联席办调度员或属地镇街经办人可以登记）")
    if len(types) == 1:
        return RedirectResponse(f"/register/{types[0]}", status_code=303)
    specs = [page.app.definitions.current(t).spec for t in types]
    return render(page, request, "register_choice.html", {"title": "登记案件", "active": "register", "specs": specs})


def _register_context(page: Page, case_type: str, values: dict[str, Any], errors: dict[str, str], message: str | None) -> dict[str, Any]:
    spec = page.app.definitions.current(case_type).spec
    org = page.app.org
    if not values and "town" in spec.fields and (d := org.find(page.actor.department)) and d.kind in ("street", "town", "park"):
        values = {"town": d.code}
    widgets = forms.widgets(spec, org, spec.create.required, spec.create.optional, values, errors)
    return {"title": f"登记{spec.name}", "active": "register", "spec": spec, "widgets": widgets, "message": message,
            "types": [page.app.definitions.current(t).spec for t in page.can_register()]}  # fmt: skip


@router.get("/register/{case_type}")
def register_form(case_type: KeyPath, request: Request, page: PageDep) -> Response:
    if not may_register(page.app, page.actor, case_type):
        raise PermissionDenied("您没有登记此类案件的权限")
    return render(page, request, "register.html", _register_context(page, case_type, {}, {}, None))


@router.post("/register/{case_type}")
async def register(case_type: KeyPath, request: Request, page: PageDep) -> Response:
    async with request.form() as form:
        return _register(case_type, request, page, form)


def _register(case_type: str, request: Request, page: Page, form: FormData) -> Response:
    check_csrf(page, form)
    spec = page.app.definitions.current(case_type).spec
    values = forms.read(form, spec, spec.create.required + spec.create.optional)
    try:
        view = page.app.cases.create(case_type, page.actor, values, comment=str(form.get("comment") or ""))
    except InvalidInput as exc:
        context = _register_context(page, case_type, values, exc.errors, "请按提示修改后再提交；未保存任何内容")
        return render(page, request, "register.html", context, 422)
    except CaseflowError as exc:  # e.g. a town's handler registering a site of another town
        context = _register_context(page, case_type, values, {}, f"{exc.message}；未保存任何内容")
        return render(page, request, "register.html", context, exc.http_status if exc.http_status < 500 else 409)
    return redirect(request, f"/cases/{view['number']}?done=create")


@router.get("/register-check/uscc")
def check_uscc(request: Request, page: PageDep, uscc: str = "") -> Response:
    """The credit-code check of the services, while the user types (htmx)."""
    from workflow.uscc import check_uscc as check

    text, ok = uscc.strip(), False
    if not text:
        message = ""
    else:
        try:
            message, ok = f"校验通过：{check(text, 'uscc')}", True
        except InvalidInput as exc:
            message = exc.reason
    return render(page, request, "_uscc_check.html", {"message": message, "ok": ok})
