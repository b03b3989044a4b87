"""Typed access to the raw YAML of one definition, failing with the file and the dotted key.

Used by ``workflow.loader`` and ``workflow.loader_rules``; knows nothing of what the keys mean
beyond the shapes it checks, except the context a definition's parts are read in (its unit
relations and the variables its expressions may read), which the loader sets as it goes.
"""

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from workflow.durations import Duration, parse_duration
from workflow.errors import DefinitionError
from workflow.org import Organisation


class Reader:
    """Typed access to raw YAML data that fails with the file and key path."""

    def __init__(self, file: str, org: Organisation) -> None:
        self.file = file
        self.org = org
        self.vocabulary = 1
        """The vocabulary version of the definition being read."""
        self.relations: tuple[str, ...] = ()
        """The unit relations the definition may name (built-in and its own)."""
        self.variables: dict[str, str] = {}
        """What its expressions may read: field and counter names → CEL types."""

    def fail(self, key: str, reason: str) -> NoReturn:
        raise DefinitionError(self.file, key, reason)

    def mapping(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, f"expected a mapping, got {type(value).__name__}")
        return value

    def names(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(key, "expected a name or a list of names")
        return tuple(value)

    def text(self, data: Mapping[str, Any], name: str, key: str, default: str | None = None) -> str:
        value = data.get(name, default)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{key}.{name}", "missing or empty")
        return value

    def duration(self, value: Any, key: str) -> Duration:
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(key, str(exc))

    def known(self, names: Iterable[str], allowed: Iterable[str], key: str, what: str) -> None:
        pool = set(allowed)
        for name in names:
            if name not in pool:
                self.fail(key, f"unknown {what} {name!r}; known: {', '.join(sorted(pool))}")

    def one(self, value: Any, allowed: Iterable[str], key: str, what: str) -> str:
        """``value`` as a known name."""
        if not isinstance(value, str):
            self.fail(key, f"expected the name of a {what}, got {value!r}")
        self.known([value], allowed, key, what)
        return value

    def integer(self, data: Mapping[str, Any], name: str, key: str) -> int | None:
        value = data.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            self.fail(f"{key}.{name}", f"expected a whole number, got {value!r}")
        return value

    def only_keys(self, data: Mapping[str, Any], allowed: set[str], key: str | None) -> None:
        extra = set(data) - allowed
        if extra:
            where = f"{key}.{sorted(extra)[0]}" if key else str(sorted(extra)[0])
            self.fail(where, f"unknown key; allowed: {', '.join(sorted(allowed))}")
