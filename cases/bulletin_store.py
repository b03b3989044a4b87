"""The weekly bulletin's editable 下一步工作要求 (issue 11): the office's text for one week, kept
with who wrote it and when.

Every save is a new row of ``bulletin_requirement`` (append-only: the history of a week's text
is kept); the week's text is its newest row, and an empty newest row means "the default again"
(``bulletin_requirements`` in ``notifications.yaml``). Only the office (dispatchers) and admins
may edit. Rendering the text is the bulletin's job (``cases.reports``, ``notifications``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Index, insert, select
from sqlmodel import Field, SQLModel

from cases.db import Database
from workflow.clock import Clock
from workflow.errors import InvalidInput, PermissionDenied
from workflow.org import Actor
from workflow.yamlfile import load_file

MAX_CHARS = 5000
"""The longest text the office may save (characters)."""
EDIT_ROLES = ("dispatcher", "admin")
FALLBACK = (
    "各成员单位要切实履行“一把手”负责制，对照本通报逐项抓好落实。对超期未办结事项，责任单位要于收到通报后"
    "3个工作日内办结，并书面说明超期原因。"
)
"""Used when ``notifications.yaml`` names no ``bulletin_requirements``."""


class BulletinRequirement(SQLModel, table=True):
    """One saved version of a week's 下一步工作要求 (append-only; the newest row is the text)."""

    __tablename__ = "bulletin_requirement"
    __table_args__ = (Index("ix_bulletin_requirement_week", "week", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    week: str = Field(max_length=10)
    """The ISO week of the bulletin (``2026-W49``)."""
    text: str
    """The text as saved; empty means the default."""
    edited_by: str = Field(max_length=64)
    edited_at: datetime


TABLE = BulletinRequirement.__table__


def load_default(path: Path) -> str:
    """``bulletin_requirements`` from ``notifications.yaml`` (paragraphs separated by blank
    lines), or the built-in text."""
    data = load_file(path) if path.exists() else None
    value = (data or {}).get("bulletin_requirements") if isinstance(data, dict) else None
    text = str(value).strip() if value else ""
    return text or FALLBACK


def normalise(text: Any) -> str:
    """The text to store: line ends unified, outer blank space dropped; ``InvalidInput`` (in
    Chinese) for what is not text or too long."""
    if not isinstance(text, str):
        raise InvalidInput("text", "下一步工作要求应为文字")
    cleaned = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")).strip()
    if len(cleaned) > MAX_CHARS:
        raise InvalidInput("text", f"下一步工作要求不能超过{MAX_CHARS}字（现为{len(cleaned)}字），请精简后再保存")
    if "\x00" in cleaned:
        raise InvalidInput("text", "下一步工作要求含有不可见的控制字符，请删除后再保存")
    return cleaned


def stored(conn: Connection, week: str) -> Any:
    """The newest saved row of ``week``, or None."""
    stmt = select(TABLE).where(TABLE.c.week == week).order_by(TABLE.c.id.desc()).limit(1)
    return conn.execute(stmt).first()


def history(conn: Connection, week: str, limit: int = 50) -> list[dict[str, Any]]:
    stmt = select(TABLE).where(TABLE.c.week == week).order_by(TABLE.c.id.desc()).limit(limit)
    return [
        {"text": r.text, "edited_by": r.edited_by, "edited_at": r.edited_at.isoformat()} for r in conn.execute(stmt)
    ]


def paragraphs(text: str) -> list[str]:
    """The text's paragraphs (one per non-empty line)."""
    return [line.strip() for line in text.split("\n") if line.strip()]


def current(conn: Connection, week: str, default: str) -> dict[str, Any]:
    """The week's 下一步工作要求: ``text``, ``paragraphs``, ``custom`` (the office's own text, not
    the default), ``edited_by`` and ``edited_at`` (ISO 8601, of the newest save, or None)."""
    row = stored(conn, week)
    text = row.text if row is not None and row.text else default
    return {
        "text": text,
        "paragraphs": paragraphs(text),
        "custom": bool(row is not None and row.text),
        "edited_by": row.edited_by if row is not None else None,
        "edited_at": row.edited_at.isoformat() if row is not None else None,
    }


@dataclass
class BulletinRequirements:
    """Reading and saving the 下一步工作要求 of a week's bulletin."""

    db: Database
    clock: Clock
    default: str
    check_week: Callable[[str], Any]
    """Raises ``InvalidInput`` for a week that is not ``YYYY-Www``."""

    def get(self, week: str) -> dict[str, Any]:
        self.check_week(week)
        with self.db.read() as conn:
            return {"week": week, **current(conn, week, self.default), "default": self.default,
                    "history": history(conn, week)}  # fmt: skip

    def save(self, week: str, text: Any, actor: Actor) -> dict[str, Any]:
        """Save ``text`` for ``week`` (empty: back to the default); the office and admins only."""
        if not any(actor.has(role) for role in EDIT_ROLES):
            raise PermissionDenied("只有联席办调度员或系统管理员可以修改通报的下一步工作要求")
        self.check_week(week)
        cleaned = normalise(text)
        with self.db.write() as conn:
            conn.execute(insert(TABLE).values(week=week, text=cleaned, edited_by=actor.username, edited_at=self.clock.now()))
        return self.get(week)
