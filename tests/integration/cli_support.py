"""Support for the command-line integration tests: ``caseflow`` run as a user runs it.

Every command is a real subprocess of the installed ``caseflow`` script with its own working
directory and a ``CASEFLOW_*`` environment (a SQLite file, a data directory and the fixed instant
2026-09-30 10:00 +08:00). Nothing here imports the product: the tests see only exit codes,
stdout and stderr, as a user or a script would.

A subprocess costs most of a second (interpreter and imports), so:

- the schema and the standard users are made once per session with ``caseflow init`` and
  ``caseflow user add`` (``template_db``); each module or test then gets its own copy of that
  SQLite file (``clone_database``, a SQLite backup: no command needed);
- commands that do not depend on each other run concurrently (``Cli.run_all``): two cores
  halve the wall time, and concurrent writers exercise the database locking for free.
"""

import json
import os
import re
import sqlite3
import struct
import subprocess
import sys
import zlib
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAKE_NOW = "2026-09-30T10:00:00+08:00"
"""Every command acts at this instant (a Wednesday; 2026-10-01..07 is the National Day holiday)."""
TIMEOUT = 120
MAX_PARALLEL = max(2, min(4, os.cpu_count() or 2))

QY_NUMBER = re.compile(r"^QY-2026-\d{5}$")
SLW_NUMBER = re.compile(r"^SLW-2026-\d{5}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
GENESIS = "0" * 64

ENTERPRISE = "enterprise_issue"
SITE = "scattered_polluting"

# The standard users of every template database: name → (department as typed, roles).
# Departments are given by code for some and by Chinese name for others, as users would.
OFFICE = "office"
COLLECTOR = "collector"
POWER = "power_handler"
WATER = "water_handler"
GAS = "gas_handler"
TOWN = "kongcheng_handler"
ECOLOGY = "ecology_handler"
RESOURCES = "resources_handler"
FINANCE = "finance_handler"
SUPERVISOR = "supervisor"
USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    OFFICE: ("sti", ("dispatcher", "collector")),
    COLLECTOR: ("市企业服务中心（科技创新服务中心）", ("collector",)),
    POWER: ("市供电公司", ("handler",)),
    WATER: ("water", ("handler",)),
    GAS: ("市海特燃气公司", ("handler",)),
    TOWN: ("孔城镇", ("handler",)),
    ECOLOGY: ("ecology", ("handler",)),
    RESOURCES: ("市自然资源和规划局", ("handler",)),
    FINANCE: ("finance", ("handler",)),
    SUPERVISOR: ("gov_office", ("supervisor",)),
}

RAISE_BY_HAND = frozenset({"supervise", "list"})
"""DOMAIN.md §5: a dispatcher may raise any open case by hand (督办, 挂牌督办); offered to the
office (and to "anyone") next to the workflow's own triggers."""

VALID_USCC = ("914403001922038216", "91340600MA2PBM9HXD")
"""DOMAIN.md §7: valid codes."""

ENTERPRISE_FIELDS: dict[str, str] = {
    "title": "新上生产线需要用电增容",
    "description": "企业新上两条生产线，现有变压器容量不足，需尽快增容。",
    "category": "生产要素",
    "source": "走访",
    "enterprise_name": "桐城市测试包装有限公司",
    "uscc": "91340600MA2PBM9HXD",
    "town": "孔城镇",
    "industry": "绿色包装",
    "contact": "王经理 13800000000",
}
SITE_FIELDS: dict[str, str] = {
    "site_name": "无名塑料颗粒加工点",
    "operator": "经营者甲",
    "address": "孔城镇示例村三组",
    "town": "孔城镇",
    "village": "示例村",
    "source": "群众举报",
    "violations": "环境违法,无证无照",
    "power_account": "340881000123",
}


def field_args(fields: Mapping[str, str]) -> list[str]:
    """``--field KEY=VALUE`` for each pair."""
    args: list[str] = []
    for key, value in fields.items():
        args += ["--field", f"{key}={value}"]
    return args


# --- running the command ------------------------------------------------------------------------


def caseflow_command() -> list[str]:
    """The installed ``caseflow`` script of this interpreter's environment."""
    script = Path(sys.executable).with_name("caseflow")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "caseflow.cli"]


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"stdout is not one JSON document ({exc}):\n{self}") from None

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def __str__(self) -> str:
        return (
            f"$ caseflow {' '.join(self.args)}\nexit {self.returncode}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


def assert_ok(result: Result) -> Result:
    assert result.returncode == 0, f"expected exit 0\n{result}"
    return result


def assert_refused(result: Result, *needles: str) -> str:
    """Exit 2 with exactly one line on stderr that contains every needle; return that line."""
    assert result.returncode == 2, f"expected exit 2 (refused)\n{result}"
    lines = result.stderr_lines
    assert len(lines) == 1, f"expected a one-line reason on stderr\n{result}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in the reason\n{result}"
    return lines[0]


def assert_error_document(result: Result, code: str) -> dict[str, Any]:
    """With ``--json`` a refusal prints ``{"error", "message", "details"}`` on stdout."""
    document = result.json()
    assert isinstance(document, dict), result
    assert set(document) >= {"error", "message", "details"}, result
    assert document["error"] == code, result
    assert isinstance(document["message"], str) and document["message"], result
    assert isinstance(document["details"], dict), result
    return document


INVOCATIONS: list[tuple[str, ...]] = []
"""Every command run in this session (``CASEFLOW_IT_STATS=1`` prints how many)."""


class Cli:
    """``caseflow`` with one environment and working directory."""

    def __init__(self, workdir: Path, env: Mapping[str, str]) -> None:
        self.workdir = workdir
        self.env = dict(env)
        self.command = caseflow_command()

    @property
    def database_url(self) -> str:
        return self.env["CASEFLOW_DATABASE_URL"]

    @property
    def database_file(self) -> Path:
        url = self.database_url
        assert url.startswith("sqlite:///"), url
        return Path(url.removeprefix("sqlite:///"))

    @property
    def data_dir(self) -> Path:
        return Path(self.env["CASEFLOW_DATA_DIR"])

    def at(self, instant: str) -> "Cli":
        """The same database and files, acting at another instant."""
        return Cli(self.workdir, {**self.env, "CASEFLOW_FAKE_NOW": instant})

    def in_dir(self, workdir: Path) -> "Cli":
        return Cli(workdir, self.env)

    def _popen(self, args: Sequence[str], stdin: str | None) -> subprocess.Popen[str]:
        INVOCATIONS.append(tuple(args))
        return subprocess.Popen(
            [*self.command, *args],
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    @staticmethod
    def _finish(process: subprocess.Popen[str], args: Sequence[str], stdin: str | None) -> Result:
        try:
            out, err = process.communicate(stdin, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise AssertionError(f"caseflow {' '.join(args)} did not finish in {TIMEOUT}s") from None
        return Result(tuple(args), process.returncode, out, err)

    def run(self, *args: str, stdin: str | None = None) -> Result:
        return self._finish(self._popen(args, stdin), args, stdin)

    def ok(self, *args: str, stdin: str | None = None) -> Result:
        return assert_ok(self.run(*args, stdin=stdin))

    def json(self, *args: str, stdin: str | None = None) -> Any:
        """Run with ``--json``, expect exit 0, return the document."""
        return self.ok(*args, "--json", stdin=stdin).json()

    def run_all(
        self, commands: Mapping[str, Sequence[str]], stdin: Mapping[str, str] | None = None
    ) -> dict[str, Result]:
        """Run independent commands concurrently (a few at a time); results by key."""
        results: dict[str, Result] = {}
        pending = list(commands.items())
        while pending:
            batch, pending = pending[:MAX_PARALLEL], pending[MAX_PARALLEL:]
            started = []
            for key, args in batch:
                given = (stdin or {}).get(key)
                started.append((key, args, given, self._popen(args, given)))
            for key, args, given, process in started:
                results[key] = self._finish(process, args, given)
        return results


def base_env(workdir: Path, database_url: str | None = None) -> dict[str, str]:
    """The caller's environment without any ``CASEFLOW_*`` setting, plus the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEFLOW_")}
    env.update(
        CASEFLOW_DATABASE_URL=database_url or f"sqlite:///{workdir / 'caseflow.db'}",
        CASEFLOW_DATA_DIR=str(workdir / "caseflow-data"),
        CASEFLOW_FAKE_NOW=FAKE_NOW,
        PYTHONIOENCODING="utf-8",
        COLUMNS="240",  # rich tables: wide enough that no number or label is cut short
    )
    return env


def make_cli(workdir: Path, database_url: str | None = None) -> Cli:
    workdir.mkdir(parents=True, exist_ok=True)
    return Cli(workdir, base_env(workdir, database_url))


def add_user_args(name: str, department: str, roles: Sequence[str]) -> list[str]:
    args = ["user", "add", name, "--department", department]
    for role in roles:
        args += ["--role", role]
    return args


def clone_database(source: Cli, workdir: Path) -> Cli:
    """A new ``Cli`` in ``workdir`` on a consistent copy of ``source``'s SQLite database."""
    target = make_cli(workdir)
    with closing(sqlite3.connect(source.database_file)) as src, closing(sqlite3.connect(target.database_file)) as dst:
        src.backup(dst)
    return target


def sqlite_execute(cli: Cli, *statements: tuple[str, Sequence[Any]]) -> None:
    """Run statements directly on the SQLite file (audit tests only: tampering)."""
    with closing(sqlite3.connect(cli.database_file)) as conn:
        for sql, params in statements:
            conn.execute(sql, params)
        conn.commit()


# --- evidence files -------------------------------------------------------------------------------


def tiny_png(seed: int = 0) -> bytes:
    """A valid 1×1 RGB PNG; another seed gives other bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixel = bytes([0, seed % 256, (seed // 256) % 256, 7])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixel)) + chunk(b"IEND", b"")


TINY_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
TINY_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


@dataclass(frozen=True)
class EvidenceFiles:
    png: Path
    png2: Path
    pdf: Path
    jpeg: Path
    text: Path
    fake_png: Path
    """A text file named ``.png``: the type is read from the content, not the name."""


def write_evidence_files(directory: Path) -> EvidenceFiles:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "png": ("现场照片.png", tiny_png(1)),
        "png2": ("photo2.png", tiny_png(2)),
        "pdf": ("断水通知书.pdf", TINY_PDF),
        "jpeg": ("photo.jpg", TINY_JPEG),
        "text": ("notes.txt", "这是一段文字说明，不是照片。\n".encode()),
        "fake_png": ("not-really.png", b"plain text pretending to be a picture\n"),
    }
    paths = {}
    for key, (name, data) in files.items():
        path = directory / name
        path.write_bytes(data)
        paths[key] = path
    return EvidenceFiles(**paths)
