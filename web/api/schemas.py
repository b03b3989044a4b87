"""Request and response models of the API (separate from the tables: these validate input)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FieldValue = str | int | float | bool | list[str] | None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: str


class CaseCreate(Strict):
    type: str = Field(description="案件类型代码（GET /api/workflows 列出全部类型），如 enterprise_issue", max_length=64)
    fields: dict[str, FieldValue] = Field(default_factory=dict, description="登记字段（见 DOMAIN.md）")
    comment: str | None = Field(default=None, max_length=2000)


class ActionRequest(Strict):
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    comment: str | None = Field(default=None, max_length=2000)
    expected_version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="乐观锁：期望的案件版本")


class Item(BaseModel):
    key: str
    checklist: str
    label: str
    executor: str | None
    done: bool
    done_by: str | None
    done_at: str | None
    evidence: list[str]
    data: dict[str, Any]
    status: Literal["open", "waiver_pending", "awaiting_confirmation", "waived", "done"] = "open"
    """待办理 / 不适用申请待审批 / 待确认 / 不适用（已批准）/ 已完成; only the last two count as complete."""
    status_label: str = ""
    confirmer: str | None = None
    """The department that confirms the item once reported done (a permit's issuer), if any."""
    waiver: dict[str, Any] | None = None
    """The 不适用 declaration: reason, by, unit, at, status (pending/approved/rejected), decided_by …"""
    confirmation: dict[str, Any] | None = None
    """The report awaiting confirmation: department, reported_by, reported_at, status, decided_by …"""


class ItemDecision(BaseModel):
    item: str
    decision: Literal["waive", "approve_waiver", "reject_waiver", "confirm", "reject"]


class Opinion(BaseModel):
    """A unit's view the classification rests on (属地核查意见, 生态环境分局意见)."""

    key: str
    label: str
    given: bool
    text: str | None
    by: str | None
    unit: str | None
    unit_name: str | None
    at: str | None
    evidence: list[str]


class ItemDecisionRequest(Strict):
    reason: str | None = Field(default=None, max_length=2000, description="理由（申请不适用、驳回、退回时必填）")
    comment: str | None = Field(default=None, max_length=2000)
    expected_version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="乐观锁：期望的案件版本")


class ObligationView(BaseModel):
    """One obligation (责任事项) of a case: what one unit owes, its deadline and level."""

    key: str
    label: str
    kind: str
    unit: str
    unit_name: str
    roles: list[str]
    ready: bool
    opened_at: str | None
    due_date: str | None
    due_at: str | None
    due_provisional: bool
    level: str
    level_label: str
    open: bool
    overdue: bool
    closed_at: str | None
    closed_by: str | None
    outcome: str | None
    on_time: bool | None


class CaseView(BaseModel):
    id: int
    number: str
    type: str
    type_label: str
    title: str
    state: str
    state_label: str
    open: bool
    supervision: str
    due_date: str | None
    due_at: str | None
    due_provisional: bool
    lead_unit: str | None
    lead_unit_name: str | None
    town: str | None
    version: int
    definition_version: str
    allowed_triggers: list[str]
    allowed_items: list[str]
    item_decisions: list[ItemDecision] = Field(default_factory=list)
    """What the caller may decide about items now (declare 不适用, approve, confirm …)."""
    opinions: list[Opinion] = Field(default_factory=list)
    fields: dict[str, Any]
    counters: dict[str, Any]
    co_units: dict[str, Any]
    category: str | None
    raised_to_convenors: str | None
    items: list[Item] = Field(default_factory=list)
    obligations: list[ObligationView] = Field(default_factory=list)
    created_by: str
    created_at: str | None
    updated_at: str | None
    closed_at: str | None


class CaseSummary(BaseModel):
    id: int
    number: str
    type: str
    type_label: str
    title: str
    state: str
    state_label: str
    supervision: str
    due_date: str | None
    due_at: str | None
    due_provisional: bool
    lead_unit: str | None
    lead_unit_name: str | None
    town: str | None
    version: int
    allowed_triggers: list[str]


class TodoEntry(ObligationView):
    number: str
    type: str
    title: str
    state: str


class TodoList(BaseModel):
    unit: str
    unit_name: str
    items: list[TodoEntry]
    """The open obligations of the caller's unit the caller can act on now, most urgent first."""
    total: int
    """How many such obligations there are in all (``items`` is the page from ``offset``)."""
    waiting_on_others: list[TodoEntry]
    """What the cases the caller's unit leads wait on from other units, and its own obligations
    that wait on another unit first (the page from ``offset``)."""
    waiting_total: int
    limit: int
    offset: int


class CasePage(BaseModel):
    items: list[CaseSummary]
    total: int
    page: int
    page_size: int


class Event(BaseModel):
    seq: int
    at: str | None
    actor: str
    trigger: str
    from_state: str | None
    to_state: str
    comment: str | None
    payload: dict[str, Any]
    hash: str
    prev_hash: str


class ErrorBody(BaseModel):
    error: str
    message: str
    details: dict[str, Any]


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (401, "未登录或登录已失效"),
        (403, "无权执行"),
        (404, "不存在（或无权查看）"),
        (409, "状态不允许此操作（transition_not_allowed）或版本冲突（version_conflict）"),
        (413, "上传内容过大（payload_too_large）"),
        (422, "输入有误（invalid_input），details.fields 指出每个字段"),
        (429, "登录失败次数过多（too_many_attempts），见 Retry-After"),
        (503, "数据库正忙（database_busy），未作任何改动，按 Retry-After 稍后重试"),
    )
}
