"""Housekeeping: removes what the system no longer needs, and nothing a case relies on.

- **Idempotency records** of API requests, ``idempotency_hours`` after the request (a client
  retries within minutes; 24 hours by default, as the large payment APIs keep theirs). A retry
  after that is a new request.
- **Session and API tokens** ``token_days`` after they expired or were revoked (they can no
  longer sign anyone in; the sign-in itself stays in the sign-in record).
- **Sign-in records** after ``signin_days``: 180 by default, and never fewer — the Cybersecurity
  Law (网络安全法 第二十一条) asks for network logs to be kept at least six months.
- **Orphaned evidence files**: files in the evidence store that no ``evidence_file`` row names,
  left when a case action wrote its uploads and then failed to commit, and abandoned
  ``.incoming-`` temporaries of an interrupted write. Only files older than ``evidence_grace``
  are considered. Each is removed inside a write transaction holding its evidence lock
  (``repository.lock_evidence``) after the row was looked for once more, so a case action that
  is storing the same file meanwhile either committed its row first (the file stays) or stores
  the file again after the removal.

Case history, case events, notifications and evidence that any case cites are never touched.
The scheduler runs this daily (``scheduling.runner``); ``caseflow housekeeping`` runs it by hand.
"""

import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, func, or_, select

from cases import repository as repo
from cases.db import Database
from cases.evidence import EvidenceStore
from cases.models import ApiToken, IdempotentRequest, SignInAttempt
from cases.views import local
from workflow.clock import Clock
from workflow.errors import InvalidInput

log = logging.getLogger("caseflow.housekeeping")
IDEMPOTENT, TOKENS, ATTEMPTS = IdempotentRequest.__table__, ApiToken.__table__, SignInAttempt.__table__
MIN_SIGNIN_DAYS = 180
"""Network logs are kept at least six months (网络安全法 第二十一条)."""
_SHA_TAIL = re.compile(r"^[0-9a-f]{62}$")
_BATCH = 200


@dataclass(frozen=True)
class Retention:
    idempotency_hours: int = 24
    token_days: int = 30
    signin_days: int = MIN_SIGNIN_DAYS
    evidence_grace: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.idempotency_hours < 1:
            raise InvalidInput("idempotency_hours", "幂等记录至少保留 1 小时")
        if self.token_days < 0:
            raise InvalidInput("token_days", "失效令牌的保留天数不能为负数")
        if self.signin_days < MIN_SIGNIN_DAYS:
            raise InvalidInput("signin_days", f"登录记录至少保留 {MIN_SIGNIN_DAYS} 天（网络日志不少于六个月）")
        if self.evidence_grace < timedelta(minutes=10):
            raise InvalidInput("evidence_grace", "孤立的证明材料文件至少要放置 10 分钟才清理")


@dataclass
class HousekeepingReport:
    now: datetime
    dry_run: bool
    idempotency_records: int = 0
    tokens: int = 0
    signin_records: int = 0
    evidence_files: int = 0
    evidence_bytes: int = 0
    temporary_files: int = 0
    orphans: list[str] = field(default_factory=list)
    """The SHA-256 of each orphaned evidence file removed (or, in a dry run, that would be)."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["now"] = local(self.now)
        return data


class Housekeeper:
    def __init__(self, db: Database, evidence: EvidenceStore, clock: Clock, retention: Retention | None = None) -> None:
        self.db = db
        self.evidence = evidence
        self.clock = clock
        self.retention = retention or Retention()

    def run(self, *, dry_run: bool = False) -> HousekeepingReport:
        """Remove what has expired (``dry_run``: only count it) and say what."""
        now = self.clock.now()
        report = HousekeepingReport(now, dry_run)
        self._rows(report, now)
        self._evidence(report, now)
        log.info("housekeeping%s: %s", " (dry run)" if dry_run else "",
                 {k: v for k, v in report.to_dict().items() if isinstance(v, int) and not isinstance(v, bool)})  # fmt: skip
        return report

    # --- database rows --------------------------------------------------------------------------

    def _rows(self, report: HousekeepingReport, now: datetime) -> None:
        keep = self.retention
        token_cutoff = now - timedelta(days=keep.token_days)
        conditions = {
            "idempotency_records": (IDEMPOTENT, IDEMPOTENT.c.created_at < now - timedelta(hours=keep.idempotency_hours)),
            "tokens": (
                TOKENS,
                or_(TOKENS.c.expires_at < token_cutoff, and_(TOKENS.c.revoked_at.is_not(None), TOKENS.c.revoked_at < token_cutoff)),
            ),
            "signin_records": (ATTEMPTS, ATTEMPTS.c.at < now - timedelta(days=keep.signin_days)),
        }  # fmt: skip
        if report.dry_run:
            with self.db.read() as conn:
                for name, (table, condition) in conditions.items():
                    setattr(report, name, int(conn.execute(select(func.count()).select_from(table).where(condition)).scalar_one()))
            return
        with self.db.write() as conn:
            for name, (table, condition) in conditions.items():
                setattr(report, name, conn.execute(delete(table).where(condition)).rowcount)

    # --- evidence files -------------------------------------------------------------------------

    def _evidence(self, report: HousekeepingReport, now: datetime) -> None:
        root = self.evidence.root
        if not root.is_dir():
            return
        settled = (now - self.retention.evidence_grace).timestamp()
        for directory in sorted(p for p in root.iterdir() if p.is_dir() and len(p.name) == 2):
            candidates: dict[str, Path] = {}
            for path in directory.iterdir():
                try:
                    old = path.stat().st_mtime < settled
                except FileNotFoundError:  # removed meanwhile
                    continue
                if path.name.startswith(".incoming-"):
                    if old and path.is_file():
                        report.temporary_files += 1
                        if not report.dry_run:
                            path.unlink(missing_ok=True)
                elif old and _SHA_TAIL.match(path.name) and path.is_file():
                    candidates[directory.name + path.name] = path
            names = sorted(candidates)
            for start in range(0, len(names), _BATCH):
                self._remove_orphans(report, {sha: candidates[sha] for sha in names[start : start + _BATCH]})

    def _remove_orphans(self, report: HousekeepingReport, candidates: dict[str, Path]) -> None:
        with self.db.read() as conn:
            known = set(conn.execute(select(repo.EVIDENCE.c.sha256).where(repo.EVIDENCE.c.sha256.in_(candidates))).scalars())
        orphans = [sha for sha in candidates if sha not in known]
        if not orphans:
            return
        if report.dry_run:
            for sha in orphans:
                report.orphans.append(sha)
                report.evidence_files += 1
                report.evidence_bytes += _size(candidates[sha])
            return
        with self.db.write() as conn:
            for sha in orphans:  # sorted: locks are taken in one order
                repo.lock_evidence(conn, sha)
                if repo.find_evidence(conn, sha) is not None:
                    continue  # a case action stored it meanwhile and committed its row
                size = _size(candidates[sha])
                candidates[sha].unlink(missing_ok=True)
                report.orphans.append(sha)
                report.evidence_files += 1
                report.evidence_bytes += size
                log.info("removed orphaned evidence file %s (%d bytes)", sha, size)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
