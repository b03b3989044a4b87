"""``workflow.yamlfile`` parses with libyaml when PyYAML has it: the same documents as the
pure-Python parser for every configuration file, the same text-only words and dates, and the
pure-Python parser's message (with the offending line shown) for a syntax error."""

from pathlib import Path

import pytest
import yaml

from workflow.errors import DefinitionError
from workflow.yamlfile import FAST_LOADER, DefinitionLoader, load_text

CONFIG = Path(__file__).resolve().parents[3] / "config"
FILES = sorted(CONFIG.rglob("*.yaml"))


@pytest.mark.skipif(FAST_LOADER is None, reason="PyYAML without libyaml")
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CONFIG)) for p in FILES])
def test_both_parsers_read_every_configuration_file_alike(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert yaml.load(text, Loader=FAST_LOADER) == yaml.load(text, Loader=DefinitionLoader)  # noqa: S506


@pytest.mark.skipif(FAST_LOADER is None, reason="PyYAML without libyaml")
def test_words_and_dates_stay_text_with_libyaml() -> None:
    text = "a: yes\nb: no\nc: on\nd: off\ne: true\nf: False\ng: 2026-10-01\nh: 1.5\ni: ~\n"
    fast = yaml.load(text, Loader=FAST_LOADER)  # noqa: S506
    assert fast == yaml.load(text, Loader=DefinitionLoader)  # noqa: S506
    assert fast == {
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": "off",
        "e": True,
        "f": False,
        "g": "2026-10-01",
        "h": 1.5,
        "i": None,
    }
    assert load_text(text, "x.yaml") == fast


def test_a_syntax_error_shows_the_line_as_before() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_text("states:\n  a: [1, 2\n  b: 3\n", "broken.yaml")
    message = str(caught.value)
    assert "broken.yaml" in message and "line 3" in message
    assert "^" in message  # the pure-Python parser's pointer under the offending line
