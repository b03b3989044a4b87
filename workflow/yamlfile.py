"""Reading definition files: a safe YAML loader that keeps ``yes``/``no``/``on``/``off`` and
dates as text.

YAML 1.1 turns those words into booleans, which silently changes a choice such as
``cut_gas: no``; only ``true`` and ``false`` are booleans here. Dates stay strings too, so that
the loaders validate them and name the key of a bad one (PyYAML's own date constructor fails on
``2026-02-30`` with a bare ``ValueError``). Errors name the file.

Every command parses the definitions when it starts: they are parsed with libyaml's parser when
PyYAML has it (same constructor and resolvers, several times faster), and a text it refuses is
parsed again by the pure-Python parser, whose message shows the offending line.
"""

import re
from pathlib import Path
from typing import Any

import yaml

from workflow.errors import DefinitionError


class DefinitionLoader(yaml.SafeLoader):
    """SafeLoader whose booleans are only ``true`` and ``false``."""


DefinitionLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
DefinitionLoader.add_implicit_resolver(  # type: ignore[no-untyped-call]
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

FAST_LOADER: Any = None
"""``DefinitionLoader``'s resolvers on libyaml's parser (``yaml.CSafeLoader``), when PyYAML was
built with it."""
if hasattr(yaml, "CSafeLoader"):

    class _FastDefinitionLoader(yaml.CSafeLoader):
        """``DefinitionLoader`` on libyaml's parser."""

    _FastDefinitionLoader.yaml_implicit_resolvers = DefinitionLoader.yaml_implicit_resolvers
    FAST_LOADER = _FastDefinitionLoader


def load_text(text: str, file: str) -> Any:
    """Parse YAML text; a syntax error becomes a ``DefinitionError`` naming ``file`` and line."""
    if FAST_LOADER is not None:
        try:
            return yaml.load(text, Loader=FAST_LOADER)  # noqa: S506 - a CSafeLoader subclass
        except yaml.YAMLError:
            pass  # parsed again below, for the pure-Python parser's message
    try:
        return yaml.load(text, Loader=DefinitionLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(document)"
        raise DefinitionError(file, where, f"YAML syntax error: {exc}") from exc


def load_file(path: Path) -> Any:
    """Read and parse one definition file."""
    return load_text(path.read_text(encoding="utf-8"), str(path))
