"""The notification events of DOMAIN.md §6: name → Chinese label, template, urgency.

Urgent events (the ladder from ``overdue`` up, 提级) are delivered at once; the others wait for
working hours. Which case change raises which event, and who receives it, is
``notifications.recipients``'s business.

The context every template is rendered with is plain data (dicts, lists, strings, numbers):

``case``      number, type, type_label, title, summary, state, state_label, category,
              enterprise_name, uscc, site_name, operator, address, village, town, town_name,
              lead_unit, lead_unit_name, co_unit_names (list), instructions, due_date (YYYY-MM-DD
              or ""), due_at (YYYY-MM-DD HH:MM, Asia/Shanghai, or ""), due_text (e.g.
              "2026-10-13（5个工作日）"), supervision, supervision_label, supervision_colour
              (蓝/黄/橙/红 or ""), link (URL of the case page)
``event``     name, label, at (YYYY-MM-DD HH:MM), actor, actor_name, actor_unit_name, comment,
              reason, fields (the action's inputs, strings)
``recipient`` username, display_name, department_name
``office``    name, host, contact
``items``     [{key, label, executor_name, done}] — the open items for the recipient's unit
``digest``    unit_name, date, todo, due_soon, overdue (lists of case briefs: number, title,
              type_label, state_label, lead_unit_name, town_name, due_date, due_at, supervision,
              supervision_label, supervision_colour — ``cases.reports.case_brief``)
``bulletin``  week, period, rows [{rank, unit_name, assigned, on_time_accept_rate, returned,
              completed, on_time_rate, current_overdue, total_overdue, avg_days, extensions,
              satisfaction_rate, reworks, warned, overdue, supervised, listed}] (rates are
              preformatted text such as "87.5%" or "—"), overdue_cases (case briefs)

On a checklist item's events (``item_decision_requested``: a 不适用 declaration for the office
to rule on, or a permit reported for its issuing department to confirm; ``item_decided``: the
ruling or the confirmation) ``event`` also has ``item`` {key, label}, ``decision`` (``waive``,
``report``, ``approve_waiver``, ``reject_waiver``, ``confirm``, ``reject``) and ``decider_name``
(the unit that rules).

The digest and the bulletin have no ``event``. Templates tell variants apart by the action's
fields: ``extension_decided`` with ``days`` is an approval; ``sent_back`` with ``satisfaction``
is a reopen after an unsatisfied follow-up call.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class EventSpec:
    name: str
    label: str
    urgent: bool = False
    per_case: bool = True
    """False for the digest and the bulletin, which are about many cases."""


EVENTS: dict[str, EventSpec] = {
    e.name: e
    for e in (
        EventSpec("assigned", "交办通知"),
        EventSpec("returned", "退回通知"),
        EventSpec("extension_decided", "延期审批结果"),
        EventSpec("answered", "答复待审"),
        EventSpec("sent_back", "驳回重办"),
        EventSpec("follow_up_due", "回访提醒"),
        EventSpec("closed", "销号通知"),
        EventSpec("warned", "临期预警"),
        EventSpec("overdue", "逾期催办通知书", urgent=True),
        EventSpec("supervised", "督办单", urgent=True),
        EventSpec("listed", "挂牌督办", urgent=True),
        EventSpec("raised", "提级通知", urgent=True),
        EventSpec("item_request", "两断三清任务通知"),
        EventSpec("item_decision_requested", "事项确认（审批）通知"),
        EventSpec("item_decided", "事项确认（审批）结果"),
        EventSpec("acceptance", "验收通知"),
        EventSpec("revisit_due", "回头看提醒"),
        EventSpec("digest", "每日待办提醒", per_case=False),
        EventSpec("bulletin", "工作通报", per_case=False),
    )
}
