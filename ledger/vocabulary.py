"""The words of one type's ledger (台账): choices by value or label, states, departments.

``Vocabulary`` reads enumerations by value, the label the ledger writes, the field's own label or
another word the ``ledger:`` section gives; states by key, label, a part of a label
(``已交办·待签收`` → ``待签收``) or another word; departments by code, name, alias, region code
or an unambiguous short name. Labels come from the definition (``FieldSpec.choice_labels``, the
items of the checklist a field chooses, 是/否 for yes/no fields, a flag column's values) and the
section's ``choices``. A cell it cannot read is returned as written: the workflow's own check then
says what is allowed.
"""

import re
from typing import Any

from ledger.cells import BRACKETED, as_text, fold, loose
from ledger.definition import LedgerDefinition
from workflow.org import LOCAL_KINDS, Organisation

YES_NO_LABELS = {"yes": "是", "no": "否"}


def _labels(definition: LedgerDefinition) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Field → value → written label, and field → other word → value."""
    spec = definition.spec
    labels: dict[str, dict[str, str]] = {}
    aliases: dict[str, dict[str, str]] = {k: dict(v) for k, v in definition.aliases.items()}
    chosen = {c.chosen_by: c for c in spec.checklists.values() if c.chosen_by}
    for name, field in spec.fields.items():
        if field.type == "yes_no":
            labels[name] = dict(YES_NO_LABELS)
        elif field.choice_labels:
            labels[name] = {v: field.choice_labels.get(v, v) for v in field.choices}
        elif name in chosen:
            labels[name] = {k: i.label for k, i in chosen[name].items.items()}
    for name, table in definition.labels.items():
        own = labels.setdefault(name, {})
        for value, label in table.items():
            if own.get(value, label) != label:
                aliases.setdefault(name, {})[own[value]] = value  # the field's own label is still read
            own[value] = label
    return labels, aliases


class Vocabulary:
    """Enumerations, states and departments of one type's ledger, matched loosely."""

    def __init__(self, definition: LedgerDefinition, org: Organisation) -> None:
        self.definition = definition
        self.spec = definition.spec
        self.org = org
        self.labels, self.aliases = _labels(definition)
        self.states = self._state_words()
        self.departments = self._department_words()
        self._tables: dict[str, dict[str, str]] = {}

    # enumerations
    def choices(self, key: str) -> tuple[str, ...]:
        """The values of an enumeration column as a clerk writes them (labels)."""
        if key == "state":
            return tuple(s.label for s in self.spec.states.values())
        field = self.spec.fields.get(key)
        if key in self.labels:
            table = self.labels[key]
            if field is not None and field.choices:
                return tuple(table.get(v, v) for v in field.choices)
            return tuple(table.values())
        return field.choices if field is not None else ()

    def label(self, key: str, value: Any) -> str:
        """The label a clerk reads for a stored value."""
        if key == "state":
            return self.spec.states[value].label
        return self.labels.get(key, {}).get(str(value), str(value))

    def choice(self, key: str, raw: Any) -> str:
        """The stored value for a cell of an enumeration, or the text itself when unknown (the
        workflow's own check then says what is allowed)."""
        text = as_text(raw)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = self._choice_table(key)
        found = table.get(text)
        if found is not None:
            return found
        found = table.get(loose(text)) or table.get(loose(BRACKETED.sub("", fold(text))))
        return found or text

    def choice_list(self, key: str, raw: Any) -> list[str]:
        parts = re.split(r"[,，、;；\n]+", as_text(raw))
        return [self.choice(key, p) for p in parts if p.strip()]

    def _choice_table(self, key: str) -> dict[str, str]:
        table: dict[str, str] = {}
        field = self.spec.fields.get(key)
        for value in field.choices if field is not None else ():
            table[loose(value)] = value
        for value, label in self.labels.get(key, {}).items():
            table[loose(value)] = value
            table[loose(label)] = value
        for value in list(table.values()):
            table[value] = value  # the exact value, without folding
        for value, label in self.labels.get(key, {}).items():
            table[label] = value
        for word, value in self.aliases.get(key, {}).items():
            table.setdefault(word, value)
            table.setdefault(loose(word), value)
        return table

    def state(self, raw: Any) -> str | None:
        return self.states.get(loose(as_text(raw)))

    def _state_words(self) -> dict[str, str]:
        words: dict[str, str] = {}
        parts: dict[str, set[str]] = {}
        for key, state in self.spec.states.items():
            words[loose(key)] = key
            words[loose(state.label)] = key
            for part in re.split(r"[·•・]", state.label):
                parts.setdefault(loose(part), set()).add(key)
        for part, keys in parts.items():
            if len(keys) == 1 and part not in words:
                words[part] = next(iter(keys))
        for word, key in self.definition.state_words.items():
            words.setdefault(loose(word), key)
        return words

    # departments
    def department(self, raw: Any, kinds: tuple[str, ...] = ()) -> str:
        """The department code for a cell, or the text itself when unknown."""
        text = as_text(raw)
        found = self.org.find(text)
        if found is None:
            candidates = self.departments.get(loose(text), [])
            if not candidates and len(loose(text)) >= 2:
                wanted = loose(text)
                candidates = sorted(
                    {code for word, codes in self.departments.items() if word.startswith(wanted) for code in codes}
                )
            if kinds:
                candidates = [c for c in candidates if self.org.get(c).kind in kinds]
            return candidates[0] if len(set(candidates)) == 1 else text
        return found.code

    def department_list(self, raw: Any) -> list[str]:
        parts = re.split(r"[,，、;；\n]+", as_text(raw))
        return [self.department(p) for p in parts if p.strip()]

    def _department_words(self) -> dict[str, list[str]]:
        words: dict[str, list[str]] = {}
        for dept in self.org.departments:
            for name in (dept.code, dept.name, *dept.aliases, *([dept.region] if dept.region else [])):
                words.setdefault(loose(name), []).append(dept.code)
        return words

    def towns(self) -> list[str]:
        return [d.name for d in self.org.departments if d.kind in LOCAL_KINDS]

    def department_names(self) -> list[str]:
        return [d.name for d in self.org.departments]
