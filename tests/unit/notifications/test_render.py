"""Sandboxed rendering: validation with line numbers, sandbox escapes, size and time caps, plain
data only, and admin overrides that never break the version in force.

Templates under test are small sources built by ``source()``; the event ``returned`` is used
where the event does not matter (it has a single enterprise sample, so checks are quick).
"""

import logging
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup

from notifications.events import EVENTS
from notifications.render import (
    DEFAULT_DIR,
    Limits,
    Problem,
    RenderError,
    TemplateRejected,
    TemplateStore,
    plain_data,
    template_store,
)
from notifications.samples import sample_context
from workflow.errors import InvalidInput

EVENT = "returned"


def source(
    subject: str = "S {{ case.number }}", text: str = "T {{ case.title }}", html: str = "<p>{{ case.title }}</p>"
) -> str:
    """A template whose subject block is on line 1, text on line 2 and html on line 3."""
    return f"{{% block subject %}}{subject}{{% endblock %}}\n{{% block text %}}{text}{{% endblock %}}\n{{% block html %}}{html}{{% endblock %}}\n"


@pytest.fixture(scope="module")
def store() -> TemplateStore:
    return TemplateStore(DEFAULT_DIR)


def messages(problems: list[Problem]) -> str:
    return " | ".join(str(p) for p in problems)


# --- validation ---------------------------------------------------------------------------------


def test_a_good_template_passes(store: TemplateStore) -> None:
    assert store.check(EVENT, source()) == []


def test_unknown_variable_is_refused_with_its_line(store: TemplateStore) -> None:
    text = "{% block subject %}{{ case.number }}{% endblock %}\n{% block text %}\n第一行\n{{ case.numbr }}\n{% endblock %}\n{% block html %}x{% endblock %}"
    problems = store.check(EVENT, text)
    assert len(problems) == 1
    assert problems[0].line == 4
    assert "numbr" in problems[0].message and "未定义" in problems[0].message


def test_unknown_top_level_name_in_html_is_refused_with_its_line(store: TemplateStore) -> None:
    problems = store.check(EVENT, source(html="<p>\n{% if case.title %}\n{{ casse.title }}{% endif %}</p>"))
    assert [p.line for p in problems] == [5]
    assert "casse" in problems[0].message


def test_names_the_context_does_not_have_for_this_event_are_refused(store: TemplateStore) -> None:
    """A digest has no ``case``; the samples mirror what the builders pass."""
    problems = store.check("digest", source(subject="日报", text="{{ case.number }}"))
    assert problems and problems[0].line == 2 and "case" in problems[0].message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (source(text="{% if case.title %}没有结束"), 2),
        (source(html="<p>\n\n{{ case.number }</p>"), 5),
        (source(subject="{{ case.number | }}"), 1),
        (source(text="{% for x in %}{% endfor %}"), 2),
    ],
)
def test_syntax_errors_are_reported_with_their_line(store: TemplateStore, text: str, line: int) -> None:
    problems = store.check(EVENT, text)
    assert len(problems) == 1
    assert problems[0].line == line
    assert "语法错误" in problems[0].message


def test_missing_blocks_are_refused(store: TemplateStore) -> None:
    problems = store.check(EVENT, "{% block subject %}x{% endblock %}{% block text %}y{% endblock %}")
    assert [p.message for p in problems] == ["缺少区块 {% block html %}"]


def test_content_outside_the_blocks_is_refused(store: TemplateStore) -> None:
    problems = store.check(EVENT, "{% set x = 1 %}\n" + source())
    assert [p.line for p in problems] == [1]
    assert "区块之外" in problems[0].message


@pytest.mark.parametrize(
    ("statement", "word"),
    [
        ("{% include 'bulletin.j2' %}", "include"),
        ("{% import 'digest.j2' as d %}", "import"),
        ("{% from 'digest.j2' import x %}", "import"),
    ],
)
def test_include_and_import_are_refused(store: TemplateStore, statement: str, word: str) -> None:
    problems = store.check(EVENT, source(text=f"a\n{statement}"))
    assert [p.line for p in problems] == [3]
    assert word in problems[0].message


def test_extends_is_refused(store: TemplateStore) -> None:
    problems = store.check(EVENT, "{% extends 'assigned.j2' %}\n" + source())
    assert any(p.line == 1 and "extends" in p.message for p in problems)


@pytest.mark.parametrize("html", ["{{ case.title|safe }}", "{% autoescape false %}{{ case.title }}{% endautoescape %}"])
def test_turning_escaping_off_is_refused(store: TemplateStore, html: str) -> None:
    problems = store.check(EVENT, source(html=html))
    assert problems and problems[0].line == 3 and "转义" in problems[0].message


def test_an_empty_subject_is_refused(store: TemplateStore) -> None:
    assert "主题为空" in messages(store.check(EVENT, source(subject="  ")))


def test_oversized_source_is_refused(store: TemplateStore) -> None:
    big = source(text="甲" * (22 * 1024))  # 66 KiB of UTF-8
    problems = store.check(EVENT, big)
    assert len(problems) == 1 and "模板过大" in problems[0].message


def test_check_refuses_an_unknown_event(store: TemplateStore) -> None:
    assert "没有名为 nonsense 的事件" in messages(store.check("nonsense", source()))


# --- sandbox escapes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__.__mro__[1].__subclasses__()",
        "cycler.__init__.__globals__",
        "joiner.__init__.__globals__['os']",
        "namespace.__init__.__globals__",
        "case.__class__",
        "self._TemplateReference__context",
        "range.__self__",
        "case.items.__self__",
        "(1).__class__.__bases__",
        "case|attr('__class__')",
        "''|attr('__class__')",
        "'{0.__class__}'.format(case)",
        "'{0.__init__.__globals__}'.format(cycler)",
        "case.title.__len__()",
        "lipsum.__globals__",
    ],
)
def test_sandbox_escapes_are_refused(store: TemplateStore, expression: str) -> None:
    problems = store.check(EVENT, source(text=f"{{{{ {expression} }}}}"))
    assert problems, expression
    assert problems[0].line == 2
    assert any(word in problems[0].message for word in ("不安全", "未定义")), problems[0].message


@pytest.mark.parametrize(
    "statement",
    [
        "{% set _ = case.co_unit_names.append('x') %}",
        "{% set _ = case.update({'title': 'x'}) %}",
        "{% set _ = case.pop('title') %}",
        "{{ 'abc'.encode() }}",
        "{{ (2).to_bytes(10, 'big') }}",
        "{{ {}.fromkeys(range(3)) }}",
        "{{ 'x\ty'.expandtabs(4) }}",
    ],
)
def test_mutating_and_unlisted_methods_are_refused(store: TemplateStore, statement: str) -> None:
    problems = store.check(EVENT, source(text=statement))
    assert problems and any(w in problems[0].message for w in ("不安全", "不允许")), messages(problems)


def test_allowed_methods_and_filters_work(store: TemplateStore) -> None:
    text = (
        "{{ case.title.replace('生产线', '产线')|truncate(40) }}|{{ case.co_unit_names|join('、') }}|"
        "{{ event.fields.get('nothing', '无') }}|{{ '%.1f'|format(1.25) }}|{{ '{}-{}'.format(1, 2) }}|"
        "{{ case.due_date|cn_date }}|{{ case.due_at|elapsed(event.at) }}|{{ range(3)|sum }}|{{ 'ab' * 3 }}"
    )
    assert store.check(EVENT, source(text=text)) == []
    rendered = store.render(EVENT, sample_context(EVENT))
    assert rendered.subject  # the default still renders
    probe = TemplateStore(DEFAULT_DIR)
    assert probe._render_compiled(  # noqa: SLF001 - render a source that is not saved anywhere
        probe._validate(EVENT, source(text=text), "check", None)[0],
        sample_context(EVENT),  # type: ignore[arg-type]  # noqa: SLF001
    ).text.startswith("新建产线用电增容")


# --- size caps -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "{{ 'x' * 50000000 }}",
        "{{ 50000000 * 'x' }}",
        "{{ [0] * 50000000 }}",
        "{{ 'x' * 60000 ~ 'y' * 60000 }}",
        "{{ 'x' * 60000 + 'y' * 60000 }}",
        "{{ ''|center(1000000000) }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '%0999999999d'|format(1) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ 9 ** (9 ** 9) }}",
        "{{ range(100000)|map('string')|join(',' * 60000) }}",
        "{{ case.title.replace('', 'x' * 60000) }}",
        "{{ ('a' * 60000)|wordwrap(1) }}",
        "{{ ('a\\n' * 30000)|indent(60000) }}",
        "{{ [1]|batch(1000000000, 'x')|list }}",
        "{{ range(100000)|batch(1)|sum(start=[]) }}",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l|length }}",
        "{% set x %}{% for i in range(100000) %}{{ 'y' * 60000 }}{% endfor %}{% endset %}{{ x|length }}",
        "{% macro m() %}{% for i in range(100000) %}{{ 'y' * 60000 }}{% endfor %}{% endmacro %}{{ m()|length }}",
    ],
)
def test_oversized_values_are_refused_before_they_are_built(store: TemplateStore, text: str) -> None:
    problems = store.check(EVENT, source(text=text))
    assert problems and "超出限制" in problems[0].message, messages(problems)
    assert problems[0].line == 2


def test_a_loop_writing_long_lines_is_stopped_at_the_block_cap(store: TemplateStore) -> None:
    text = "{% for i in range(10 ** 5) %}第{{ i }}行：{{ case.title }}，这是一行很长的输出，会一直写下去直到超过上限。\n{% endfor %}"
    problems = store.check(EVENT, source(text=text))
    assert problems and "输出过大" in problems[0].message


def test_block_cap_counts_bytes_of_each_block() -> None:
    small = TemplateStore(DEFAULT_DIR, limits=Limits(block_bytes=1000))
    assert small.check(EVENT, source(html="{{ '甲' * 333 }}")) == []  # 999 bytes
    problems = small.check(EVENT, source(html="{{ '甲' * 334 }}"))  # 1002 bytes
    assert problems and "区块 html 输出过大" in problems[0].message


def test_recursion_is_refused(store: TemplateStore) -> None:
    problems = store.check(EVENT, source(text="{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"))
    assert problems and "递归" in problems[0].message


# --- time cap --------------------------------------------------------------------------------------


@dataclass
class SteppingClock:
    """Monotonic seconds that advance ``step`` on every reading once ``step`` is set."""

    now: float = 0.0
    step: float = 0.0
    readings: int = 0

    def __call__(self) -> float:
        self.readings += 1
        self.now += self.step
        return self.now


@pytest.mark.parametrize(
    "text",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) if j < 0 %}{% endfor %}{% endfor %}",
        "{% set r = range(100000)|list %}{% for i in r %}{% for j in r %}{{ '' }}{% endfor %}{% endfor %}",
        "{% macro m(n) %}{% for i in range(100000) %}{{ m(n + 1) if n < 3 else '' }}{% endfor %}{% endmacro %}{{ m(0) }}",
    ],
)
def test_time_cap_stops_loops_that_write_nothing(text: str) -> None:
    clock = SteppingClock()
    timed = TemplateStore(DEFAULT_DIR, clock=clock)
    clock.step = 0.01  # ten milliseconds per reading from now on
    clock.readings = 0
    problems = timed.check(EVENT, source(text=text))
    assert problems and "渲染超时" in problems[0].message
    assert problems[0].line == 2
    assert clock.readings < 500  # stopped after about a hundred ticks, not 10**10 iterations


def test_time_cap_with_the_real_clock() -> None:
    quick = TemplateStore(DEFAULT_DIR, limits=Limits(seconds=0.05))
    started = time.perf_counter()
    problems = quick.check(
        EVENT, source(text="{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
    )
    elapsed = time.perf_counter() - started
    assert problems and "渲染超时" in problems[0].message
    assert elapsed < 10  # the loops would run for hours; generous for a busy machine


# --- plain data only ----------------------------------------------------------------------------------


@dataclass
class Row:
    title: str


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (Row("x"), "context.case.extra"),
        (date(2026, 10, 1), "context.case.extra"),
        (("a", "b"), "context.case.extra"),
        ({1, 2}, "context.case.extra"),
        (Markup("<b>x</b>"), "context.case.extra"),
        ([1, object()], "context.case.extra[1]"),
        ({"k": b"bytes"}, "context.case.extra.k"),
    ],
)
def test_only_plain_data_is_rendered(store: TemplateStore, value: Any, path: str) -> None:
    context = sample_context(EVENT)
    context["case"]["extra"] = value
    with pytest.raises(RenderError) as caught:
        store.render(EVENT, context)
    assert path in caught.value.problems[0].message


def test_plain_data_copies_and_refuses_odd_keys_and_huge_data() -> None:
    original = {"a": [1, 2.5, True, None, "x"], "b": {"c": "d"}}
    copy = plain_data(original)
    assert copy == original and copy is not original and copy["a"] is not original["a"]
    with pytest.raises(TypeError, match="键只能是字符串"):
        plain_data({1: "x"})
    with pytest.raises(ValueError, match="过大"):
        plain_data({"big": "x" * 2_000_000})
    nested: Any = "leaf"
    for _ in range(40):
        nested = [nested]
    with pytest.raises(ValueError, match="嵌套过深"):
        plain_data(nested)


def test_render_does_not_touch_the_callers_data(store: TemplateStore) -> None:
    context = sample_context("assigned")
    before = repr(context)
    store.render("assigned", context)
    assert repr(context) == before


def test_a_broken_default_is_reported_and_the_others_still_render(tmp_path: Path) -> None:
    defaults = tmp_path / "defaults"
    defaults.mkdir()
    for path in DEFAULT_DIR.glob("*.j2"):
        (defaults / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (defaults / f"{EVENT}.j2").write_text(source(text="\n{{ case.number"), encoding="utf-8")
    (defaults / "digest.j2").unlink()
    store = TemplateStore(defaults)
    with pytest.raises(RenderError) as caught:
        store.render(EVENT, sample_context(EVENT))
    assert caught.value.problems[0].line == 3
    assert store.load_problems[f"default:{EVENT}"][0].line == 3
    with pytest.raises(RenderError, match="digest"):
        store.render("digest", sample_context("digest"))
    assert store.render("assigned", sample_context("assigned")).subject.startswith("【交办单】")
    broken = {r.name for r in store.check_all() if not r.ok}
    assert broken == {EVENT, "digest"}


def test_default_source_is_the_shipped_text_even_when_overridden(tmp_path: Path) -> None:
    text = source(subject="改 {{ case.number }}")
    write(tmp_path, EVENT, text)
    store = TemplateStore(DEFAULT_DIR, tmp_path)
    assert store.source(EVENT) == text
    assert store.default_source(EVENT) == (DEFAULT_DIR / f"{EVENT}.j2").read_text(encoding="utf-8")


def test_unknown_event_is_a_render_error(store: TemplateStore) -> None:
    with pytest.raises(RenderError):
        store.render("nonsense", {})


def test_subject_is_one_line_and_text_keeps_ampersands() -> None:
    store = TemplateStore(DEFAULT_DIR)
    assert store.check(EVENT, source(subject="甲\n  乙 &\n丙", text="A & B <c>", html="A & B")) == []


# --- overrides ------------------------------------------------------------------------------------------


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.j2"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_override_wins(tmp_path: Path) -> None:
    write(
        tmp_path,
        EVENT,
        source(
            subject="自定义退回 {{ case.number }}\n第二行",
            text="退回 & {{ case.title }}",
            html="<b>{{ case.title }} {{ '&' }} 1</b>",
        ),
    )
    store = TemplateStore(DEFAULT_DIR, tmp_path)
    assert store.origin(EVENT) == "override" and store.origin("assigned") == "default"
    rendered = store.render(EVENT, sample_context(EVENT))
    assert rendered.subject == "自定义退回 QY-2026-00012 第二行"
    assert rendered.text == "退回 & 新建生产线用电增容报装及配套仓储用地规划调整"
    assert rendered.html == "<b>新建生产线用电增容报装及配套仓储用地规划调整 &amp; 1</b>"


def test_an_invalid_override_is_refused_and_the_default_keeps_rendering(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, EVENT, source(text="第一行\n{{ case.no_such_field }}"))
    with caplog.at_level(logging.WARNING, logger="caseflow.templates"):
        store = TemplateStore(DEFAULT_DIR, tmp_path)
    assert store.origin(EVENT) == "default"
    assert [p.line for p in store.load_problems[f"override:{EVENT}"]] == [3]
    assert any("refused" in r.getMessage() and EVENT in r.getMessage() for r in caplog.records)
    default = TemplateStore(DEFAULT_DIR).render(EVENT, sample_context(EVENT))
    assert store.render(EVENT, sample_context(EVENT)) == default


def test_an_unsafe_override_is_refused(tmp_path: Path) -> None:
    write(tmp_path, EVENT, source(text="{{ cycler.__init__.__globals__ }}"))
    write(tmp_path, "digest", source(subject="x", text="{{ 'x' * 50000000 }}", html="y"))
    store = TemplateStore(DEFAULT_DIR, tmp_path)
    assert store.origin(EVENT) == "default" and store.origin("digest") == "default"
    assert "不安全" in messages(store.load_problems[f"override:{EVENT}"])
    assert "超出限制" in messages(store.load_problems["override:digest"])


def test_a_broken_override_keeps_the_previous_good_version_on_reload(tmp_path: Path) -> None:
    path = write(tmp_path, EVENT, source(subject="第一版 {{ case.number }}"))
    store = TemplateStore(DEFAULT_DIR, tmp_path)
    assert store.render(EVENT, sample_context(EVENT)).subject == "第一版 QY-2026-00012"
    path.write_text(source(subject="第二版 {{ case.numbr }}"), encoding="utf-8")
    store.reload()
    assert store.render(EVENT, sample_context(EVENT)).subject == "第一版 QY-2026-00012"
    assert store.load_problems[f"override:{EVENT}"][0].line == 1
    path.write_text(source(subject="第三版 {{ case.number }}"), encoding="utf-8")
    store.reload()
    assert store.render(EVENT, sample_context(EVENT)).subject == "第三版 QY-2026-00012"
    assert f"override:{EVENT}" not in store.load_problems
    path.unlink()
    store.reload()
    assert store.origin(EVENT) == "default"


def test_an_override_failing_on_real_data_falls_back_to_the_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, EVENT, source(text="首个协办单位：{{ case.co_unit_names[0] }}"))
    store = TemplateStore(DEFAULT_DIR, tmp_path)
    assert store.origin(EVENT) == "override"
    context = sample_context(EVENT)
    context["case"]["co_unit_names"] = []
    with caplog.at_level(logging.WARNING, logger="caseflow.templates"):
        rendered = store.render(EVENT, context)
    assert rendered.subject.startswith("【退回通知】")
    assert any("rendering the default" in r.getMessage() for r in caplog.records)


def test_override_files_that_name_no_event_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "nonsense", source())
    (tmp_path / "notes.txt").write_text("not a template", encoding="utf-8")
    store = TemplateStore(DEFAULT_DIR, tmp_path)
    assert "没有名为 nonsense 的事件" in messages(store.load_problems["override:nonsense"])
    assert all(store.origin(name) == "default" for name in EVENTS)


def test_a_missing_override_dir_is_fine(tmp_path: Path) -> None:
    store = template_store(tmp_path / "no-config")
    assert store.override_dir == tmp_path / "no-config" / "templates"
    assert store.origin(EVENT) == "default"


def test_save_override_refuses_bad_sources_and_writes_nothing(tmp_path: Path) -> None:
    store = TemplateStore(DEFAULT_DIR, tmp_path / "templates")
    for bad in (
        source(text="a\n{{ case.missing }}"),
        source(text="{% if %}"),
        source(text="{{ ''.__class__ }}"),
        source(text="{% include 'x.j2' %}"),
        source(text="{{ 'x' * 50000000 }}"),
    ):
        with pytest.raises(TemplateRejected) as caught:
            store.save_override(EVENT, bad)
        assert caught.value.problems and caught.value.problems[0].line in (2, 3)
        assert isinstance(caught.value, InvalidInput)
        assert caught.value.details["problems"][0]["line"] == caught.value.problems[0].line
    assert not (tmp_path / "templates").exists() or list((tmp_path / "templates").iterdir()) == []
    assert store.origin(EVENT) == "default"


def test_save_override_keeps_the_existing_file_when_refused(tmp_path: Path) -> None:
    good = source(subject="旧版 {{ case.number }}")
    path = write(tmp_path, EVENT, good)
    store = TemplateStore(DEFAULT_DIR, tmp_path)
    with pytest.raises(TemplateRejected):
        store.save_override(EVENT, source(subject="{{ nope }}"))
    assert path.read_text(encoding="utf-8") == good
    assert store.render(EVENT, sample_context(EVENT)).subject == "旧版 QY-2026-00012"


def test_save_override_writes_good_sources_atomically_and_puts_them_in_force(tmp_path: Path) -> None:
    directory = tmp_path / "templates"
    store = TemplateStore(DEFAULT_DIR, directory)
    text = source(subject="新版 {{ case.number }}")
    path = store.save_override(EVENT, text)
    assert path == directory / f"{EVENT}.j2"
    assert path.read_text(encoding="utf-8") == text
    assert [p.name for p in directory.iterdir()] == [f"{EVENT}.j2"]  # no temporary file left
    assert store.render(EVENT, sample_context(EVENT)).subject == "新版 QY-2026-00012"
    assert TemplateStore(DEFAULT_DIR, directory).render(EVENT, sample_context(EVENT)).subject == "新版 QY-2026-00012"
    assert store.remove_override(EVENT) is True
    assert store.origin(EVENT) == "default" and not path.exists()
    assert store.remove_override(EVENT) is False


def test_save_override_needs_a_config_dir_and_a_known_event(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        TemplateStore(DEFAULT_DIR).save_override(EVENT, source())
    with pytest.raises(TemplateRejected):
        TemplateStore(DEFAULT_DIR, tmp_path).save_override("nonsense", source())


def test_check_all_reports_defaults_and_overrides(tmp_path: Path) -> None:
    write(tmp_path, EVENT, source(text="\n{{ nope }}"))
    write(
        tmp_path,
        "digest",
        source(subject="日报 {{ digest.unit_name }}", text="{{ digest.date }}", html="<p>{{ digest.unit_name }}</p>"),
    )
    store = TemplateStore(DEFAULT_DIR, tmp_path)
    results = {(r.name, r.origin): r for r in store.check_all()}
    assert all(results[(name, "default")].ok for name in EVENTS)
    assert results[(EVENT, "override")].problems[0].line == 3 and not results[(EVENT, "override")].active
    assert results[(EVENT, "default")].active
    assert results[("digest", "override")].ok and results[("digest", "override")].active
    assert not results[("digest", "default")].active


def test_filters_for_dates_and_elapsed_time(store: TemplateStore) -> None:
    text = (
        "{{ '2026-10-08'|cn_date }}|{{ '2026-10-08 09:05'|cn_date }}|{{ ''|cn_date }}|"
        "{{ '2026-10-20 00:00'|elapsed('2026-10-23 00:00') }}|{{ '2026-10-20 00:00'|elapsed('2026-10-22 09:30') }}|"
        "{{ '2026-10-20 00:00'|elapsed('2026-10-20 05:10') }}|{{ '2026-10-20 00:00'|elapsed('2026-10-20 00:30') }}|"
        "{{ ''|elapsed('2026-10-20 00:30') }}|{{ '2026-10-21'|elapsed('2026-10-20') }}"
    )
    compiled, problems = store._validate(EVENT, source(text=text), "check", None)  # noqa: SLF001
    assert problems == [] and compiled is not None
    rendered = store._render_compiled(compiled, sample_context(EVENT))  # noqa: SLF001
    assert rendered.text == "2026年10月8日|2026年10月8日 09:05||3天|2天9小时|5小时|||"
