"""Forms built from a workflow definition: one input per field an action requires or accepts,
chosen by the field's type, and the posted values read back into the shape the services take.

Validation stays the services' (``workflow.fields.check_inputs``): a refused form comes back
with each ``InvalidInput`` message next to its field and the values the user typed.
"""

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from web.ui.labels import department_groups, value_labels
from workflow.org import Organisation
from workflow.spec import FieldSpec, WorkflowSpec

LONG_TEXT = 300
"""Text fields longer than this (or a reason, reply, plan, notes) get a textarea."""
TEXTAREA_NAMES = {"description", "reason", "reply", "plan", "notes", "instructions", "redo_items", "other_item"}
MANUAL_REASON = FieldSpec("reason", "督办理由", "text", max_length=2000)


@dataclass
class Widget:
    """One input of a form, as the template draws it."""

    name: str
    label: str
    kind: str
    """text, textarea, select, radio, checkboxes, department, departments, date, number, decimal, uscc"""
    required: bool
    value: Any = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    groups: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    error: str | None = None
    hint: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def values(self) -> list[str]:
        if isinstance(self.value, list):
            return [str(v) for v in self.value]
        return [str(self.value)] if self.value not in (None, "") else []


def _option_label(spec: WorkflowSpec, name: str, value: str) -> str:
    label = value_labels(spec, name).get(value, value)
    for state in spec.states.values():  # a class picks a clock length: say which
        clock = state.clock
        if clock is not None and clock.by_field == name and value in clock.durations:
            label = f"{label}（{clock.durations[value].label}）"
    return label


def widget(spec: WorkflowSpec, org: Organisation, f: FieldSpec, required: bool, value: Any = None,
           allowed: tuple[str, ...] | None = None, error: str | None = None) -> Widget:  # fmt: skip
    w = Widget(f.name, f.label, "text", required, value if value is not None else "", error=error)
    if f.type in ("text", "text_list"):
        long = f.name in TEXTAREA_NAMES or (f.max_length or 5000) > LONG_TEXT
        w.kind = "textarea" if long else "text"
        if f.max_length:
            w.attrs["maxlength"] = f.max_length
        if f.type == "text_list":
            w.hint = "每行一项"
            if isinstance(w.value, list):
                w.value = "\n".join(w.value)
    elif f.type in ("choice", "choice_list"):
        choices = allowed or f.choices
        w.options = [(c, _option_label(spec, f.name, c)) for c in choices]
        if f.type == "choice_list":
            w.kind = "checkboxes"
        else:
            w.kind = "radio" if len(choices) <= 3 else "select"
            if w.value in (None, "") and f.default is not None and str(f.default) in choices:
                w.value = str(f.default)
    elif f.type in ("department", "department_list"):
        w.kind = "department" if f.type == "department" else "departments"
        w.groups = department_groups(org, f.kinds)
    elif f.type == "uscc":
        w.kind = "uscc"
        w.attrs.update(maxlength=18, autocapitalize="characters", spellcheck="false")
        w.hint = "18位，如 91340600MA2PBM9HXD；系统按 GB 32100-2015 校验"
    elif f.type == "date":
        w.kind = "date"
    elif f.type == "integer":
        w.kind = "number"
        w.attrs.update({k: v for k, v in (("min", f.min), ("max", f.max)) if v is not None})
    elif f.type == "decimal":
        w.kind = "decimal"
        w.attrs.update(inputmode="decimal")
    elif f.type == "yes_no":
        w.kind = "radio"
        w.options = [("yes", "是"), ("no", "否")]
        if w.value in (None, "") and f.default is not None:
            w.value = str(f.default)
    return w


def widgets(spec: WorkflowSpec, org: Organisation, required: tuple[str, ...], optional: tuple[str, ...],
            values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
            allowed: dict[str, tuple[str, ...]] | None = None, extra: dict[str, FieldSpec] | None = None) -> list[Widget]:  # fmt: skip
    fields = {**spec.fields, **(extra or {})}
    values, errors, allowed = values or {}, errors or {}, allowed or {}
    return [
        widget(spec, org, fields[name], name in required, values.get(name), allowed.get(name), errors.get(name))
        for name in (*required, *optional)
        if name in fields
    ]


def read(form: FormData, spec: WorkflowSpec, names: tuple[str, ...], extra: dict[str, FieldSpec] | None = None) -> dict[str, Any]:
    """The posted values of ``names``: lists for multi-choice fields, text otherwise; blanks
    are left out (the services then report a missing required field)."""
    fields = {**spec.fields, **(extra or {})}
    result: dict[str, Any] = {}
    for name in names:
        f = fields.get(name)
        if f is None:
            continue
        if f.type in ("choice_list", "department_list"):
            picked = [str(v) for v in form.getlist(name) if str(v).strip()]
            if picked:
                result[name] = picked
            continue
        raw = form.get(name)
        if raw is None or not isinstance(raw, str) or not raw.strip():
            continue
        result[name] = raw.replace("\r\n", "\n") if f.type == "text_list" else raw
    return result


def errors_of(exc: Any) -> dict[str, str]:
    return dict(getattr(exc, "errors", {}) or {})
