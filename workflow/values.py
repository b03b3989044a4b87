"""Field values as people read them: a choice by its label, yes/no as 是/否, departments by name,
items by their labels, the flags the vocabulary's effects write by their words.

Shared by the pages (``web.ui.labels``), the CLI and documents; what a value means is the
definition's (``FieldSpec.choice_labels``).
"""

from typing import Any

from workflow.org import Organisation
from workflow.spec import WorkflowSpec

FLAG_LABELS: dict[str, dict[str, str]] = {"category": {"ban": "取缔关闭", "rectify": "整顿规范"}}
"""Labels of the values the vocabulary's effects write into case flags (``set_category_ban``)."""


def item_labels(spec: WorkflowSpec) -> dict[str, str]:
    return {key: item.label for c in spec.checklists.values() for key, item in c.items.items()}


def value_labels(spec: WorkflowSpec, name: str) -> dict[str, str]:
    """How the values of field (or flag) ``name`` read: the choices' labels of the definition, a
    list of checklist items by their labels, a flag's values by the vocabulary's words."""
    field = spec.fields.get(name)
    if field is not None and field.choice_labels:
        return dict(field.choice_labels)
    if field is not None and field.type in ("choice_list", "text_list"):
        return item_labels(spec)
    return FLAG_LABELS.get(name, {})


def value_text(spec: WorkflowSpec, org: Organisation, name: str, value: Any) -> str:
    """A stored field value as people read it."""
    if value is None or value == "" or value == []:
        return "—"
    field = spec.fields.get(name)
    kind = field.type if field else ""
    labels = value_labels(spec, name)
    if kind == "yes_no":
        return "是" if value == "yes" else "否"
    if kind in ("department", "department_list"):
        values = value if isinstance(value, list) else [value]
        return "、".join(org.name(v) for v in values)
    if isinstance(value, list):
        return "、".join(labels.get(str(v), str(v)) for v in value)
    return labels.get(str(value), str(value))
