"""The organisation: departments (member units, streets, towns, parks), roles, and actors.

Loaded from ``departments.yaml`` into frozen objects. ``Organisation.resolve`` accepts a
department's code, its Chinese name or an alias everywhere a department is given. Users and
their passwords are stored by ``cases/``; here an ``Actor`` is only who acts, in which unit, with
which roles.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow.errors import DefinitionError, InvalidInput
from workflow.yamlfile import load_file

ROLES: tuple[str, ...] = (
    "collector",
    "dispatcher",
    "handler",
    "unit_head",
    "supervisor",
    "convenor",
    "admin",
)
"""The roles of DOMAIN.md §1 that the product itself relies on (who dispatches, who sees all,
who administers); ``departments.yaml`` may add roles of its own under ``roles:`` (a 专家 who
only scores), which definitions then name like any other. ``system`` is the scheduler's own
actor and no user's role."""
SYSTEM_ROLE = "system"
KINDS = ("unit", "street", "town", "park")
LOCAL_KINDS = ("street", "town", "park")
"""Kinds of department that are a place (a site's town, an enterprise's town)."""


@dataclass(frozen=True)
class Department:
    code: str
    """Stable ASCII code, e.g. ``power``."""
    name: str
    """Official Chinese name, e.g. ``市供电公司``."""
    kind: str
    """``unit``, ``street``, ``town`` or ``park``."""
    aliases: tuple[str, ...] = ()
    """Other names people use (``经开区``)."""
    region: str | None = None
    """NBS township code for streets, towns and parks."""


@dataclass(frozen=True)
class Actor:
    """Who performs an action: a user name, the user's department code and roles."""

    username: str
    department: str
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return role in self.roles

    @classmethod
    def system(cls) -> "Actor":
        return cls("system", "", frozenset({SYSTEM_ROLE}))


@dataclass(frozen=True)
class Organisation:
    departments: tuple[Department, ...]
    office: str
    """Code of the department that hosts the joint-meeting office."""
    role_names: Mapping[str, str]
    """Role → Chinese name."""
    source: str = "departments.yaml"
    _index: Mapping[str, Department] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        index: dict[str, Department] = {}
        for dept in self.departments:
            for key in (dept.code, dept.name, *dept.aliases):
                index[key] = dept
        object.__setattr__(self, "_index", index)

    @property
    def roles(self) -> tuple[str, ...]:
        """Every role a user may hold: the product's own and those ``departments.yaml`` adds."""
        return (*ROLES, *(r for r in self.role_names if r not in ROLES))

    def get(self, code: str) -> Department:
        """The department with this exact code (codes are validated elsewhere)."""
        dept = self._index.get(code)
        if dept is None or dept.code != code:
            raise KeyError(code)
        return dept

    def find(self, key: str) -> Department | None:
        return self._index.get(key.strip())

    def resolve(self, key: str, field: str = "department", kinds: Iterable[str] = ()) -> str:
        """Code of the department given by code, Chinese name or alias; ``InvalidInput`` if
        unknown or not of one of ``kinds``."""
        dept = self.find(key)
        allowed = tuple(kinds)
        if dept is None:
            candidates = [d for d in self.departments if d.kind in allowed] if allowed else []
            if candidates and len(candidates) <= 20:
                names = "、".join(d.name for d in candidates)
                raise InvalidInput(field, f"没有名为“{key}”的{_kind_words(allowed)}；可选：{names}")
            raise InvalidInput(field, f"未知单位“{key}”；请填写单位代码或中文全称（如 power 或 市供电公司）")
        if allowed and dept.kind not in allowed:
            raise InvalidInput(field, f"“{dept.name}”不是{_kind_words(allowed)}")
        return dept.code

    def name(self, code: str) -> str:
        dept = self._index.get(code)
        return dept.name if dept else code

    def codes(self, kinds: Iterable[str] = ()) -> list[str]:
        wanted = tuple(kinds)
        return [d.code for d in self.departments if not wanted or d.kind in wanted]


def _kind_words(kinds: tuple[str, ...]) -> str:
    words = {"unit": "成员单位", "street": "街道", "town": "镇", "park": "园区"}
    named = [words[k] for k in kinds]
    return named[0] if len(named) == 1 else "、".join(named[:-1]) + "或" + named[-1]


def check_roles(roles: Iterable[str], field: str = "role", allowed: Iterable[str] = ROLES) -> frozenset[str]:
    """The roles as a set, or ``InvalidInput`` naming the unknown one and the allowed ones."""
    result = frozenset(r.strip() for r in roles)
    known = tuple(allowed)
    for role in result:
        if role not in known:
            raise InvalidInput(field, f"未知角色“{role}”；可选：{', '.join(known)}")
    if not result:
        raise InvalidInput(field, "至少需要一个角色")
    return result


def load_organisation(path: Path) -> Organisation:
    """Load and validate ``departments.yaml``; errors name the file and the key."""
    data = load_file(path)
    return organisation_from_data(data, str(path))


def organisation_from_data(data: Any, file: str) -> Organisation:
    if not isinstance(data, dict):
        raise DefinitionError(file, "(document)", "expected a mapping")
    raw_depts = data.get("departments")
    if not isinstance(raw_depts, list) or not raw_depts:
        raise DefinitionError(file, "departments", "expected a non-empty list")
    seen: dict[str, str] = {}
    departments: list[Department] = []
    for i, raw in enumerate(raw_depts):
        key = f"departments[{i}]"
        if not isinstance(raw, dict):
            raise DefinitionError(file, key, "expected a mapping with code, name, kind")
        code, name, kind = raw.get("code"), raw.get("name"), raw.get("kind")
        if not isinstance(code, str) or not code.isascii() or not code.replace("_", "").isalnum():
            raise DefinitionError(file, f"{key}.code", f"code must be ASCII letters/digits/_: {code!r}")
        if not isinstance(name, str) or not name.strip():
            raise DefinitionError(file, f"{key}.name", "missing Chinese name")
        if kind not in KINDS:
            raise DefinitionError(file, f"{key}.kind", f"unknown kind {kind!r}; allowed: {KINDS}")
        aliases = tuple(str(a) for a in raw.get("aliases") or ())
        for label in (code, name, *aliases):
            if label in seen:
                raise DefinitionError(file, key, f"{label!r} is already used by {seen[label]}")
            seen[label] = code
        region = raw.get("region")
        departments.append(Department(code, name, kind, aliases, str(region) if region else None))
    codes = {d.code for d in departments}
    office = data.get("office")
    if office not in codes:
        raise DefinitionError(file, "office", f"unknown department {office!r}")
    role_names = data.get("roles") or {}
    if not isinstance(role_names, dict):
        raise DefinitionError(file, "roles", "expected a mapping role → Chinese name")
    for role, label in role_names.items():
        if not isinstance(role, str) or not role.isidentifier() or role == SYSTEM_ROLE:
            raise DefinitionError(file, f"roles.{role}", "a role is an identifier (letters, digits, _), not system")
        if not isinstance(label, str) or not label.strip():
            raise DefinitionError(file, f"roles.{role}", "each role needs its Chinese name, e.g. expert: 评审专家")
    return Organisation(tuple(departments), office, dict(role_names), file)
