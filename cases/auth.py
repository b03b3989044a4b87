"""Sign-in: bearer tokens (API) and session tokens (web), stored only as SHA-256 hashes, with
expiry and revocation; failed attempts limited per user and per address; every attempt recorded
(one refused by the limit too, flagged ``rate_limited`` and never counted as a failure).
Checking what a signed-in actor may do is the services' business."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, select, update

from cases.db import Database
from cases.models import ApiToken, SignInAttempt
from cases.users import UserService
from workflow.clock import Clock
from workflow.errors import AccountDisabled, InvalidInput, NotAuthenticated, PermissionDenied, TooManyAttempts
from workflow.org import Actor

TOKENS, ATTEMPTS = ApiToken.__table__, SignInAttempt.__table__
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
TOKEN_LIFETIME = {"api": timedelta(hours=8), "web": timedelta(hours=12)}


@dataclass(frozen=True)
class Token:
    value: str
    """The secret the client presents; shown once, never stored."""
    expires_at: datetime
    actor: Actor


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class AuthService:
    def __init__(self, db: Database, users: UserService, clock: Clock) -> None:
        self.db = db
        self.users = users
        self.clock = clock

    def sign_in(self, username: str, password: str, address: str, kind: str = "api") -> Token:
        """A new token for a right password; ``NotAuthenticated`` or ``TooManyAttempts`` else."""
        if kind not in TOKEN_LIFETIME:
            raise InvalidInput("kind", "kind 只能是 api 或 web")
        if not username or not password:
            raise InvalidInput("username" if not username else "password", "请填写用户名和密码")
        username, address = username.strip()[:64], (address or "unknown")[:64]
        now = self.clock.now()
        try:
            self._check_rate(username, address, now)
        except TooManyAttempts:
            # recorded (the password is not even checked), but flagged: a refused attempt never
            # counts as a failure, so hammering a blocked account does not keep it blocked
            self._record(username, address, now, success=False, rate_limited=True)
            raise
        try:
            actor = self.users.authenticate(username, password)
        except AccountDisabled:
            self._record(username, address, now, success=False)
            raise
        self._record(username, address, now, success=actor is not None)
        if actor is None:  # raised after the commit: the failed attempt stays recorded
            raise _failed()
        with self.db.write() as conn:
            value = secrets.token_urlsafe(32)
            expires = now + TOKEN_LIFETIME[kind]
            conn.execute(
                insert(TOKENS).values(
                    token_hash=_hash(value),
                    username=actor.username,
                    kind=kind,
                    created_at=now,
                    expires_at=expires,
                    address=address,
                )  # fmt: skip
            )
        return Token(value, expires, actor)

    def _record(self, username: str, address: str, now: datetime, *, success: bool, rate_limited: bool = False) -> None:
        with self.db.write() as conn:
            conn.execute(
                insert(ATTEMPTS).values(
                    username=username, address=address, at=now, success=success, rate_limited=rate_limited
                )
            )

    def _check_rate(self, username: str, address: str, now: datetime) -> None:
        since = now - WINDOW
        with self.db.read() as conn:

            def failures(condition: object) -> tuple[int, datetime | None]:
                row = conn.execute(
                    select(func.count(), func.min(ATTEMPTS.c.at)).where(
                        and_(
                            condition,  # type: ignore[arg-type]
                            ATTEMPTS.c.at > since,
                            ATTEMPTS.c.success.is_(False),
                            ATTEMPTS.c.rate_limited.is_(False),
                        )
                    )
                ).one()
                return int(row[0]), row[1]

            for count, first, limit in (
                (*failures(ATTEMPTS.c.username == username), MAX_FAILURES_PER_USER),
                (*failures(ATTEMPTS.c.address == address), MAX_FAILURES_PER_ADDRESS),
            ):
                if count >= limit and first is not None:
                    raise TooManyAttempts(max(int((first + WINDOW - now).total_seconds()), 1))

    def resolve(self, value: str, kind: str | None = None) -> Actor:
        """The actor a presented token stands for; ``NotAuthenticated`` if it is not valid now."""
        if not value:
            raise NotAuthenticated()
        with self.db.read() as conn:
            row = conn.execute(select(TOKENS).where(TOKENS.c.token_hash == _hash(value))).first()
        if row is None or (kind is not None and row.kind != kind):
            raise NotAuthenticated("登录凭据无效，请重新登录")
        if row.revoked_at is not None:
            raise NotAuthenticated("登录凭据已注销，请重新登录")
        if row.expires_at <= self.clock.now():
            raise NotAuthenticated("登录已过期，请重新登录")
        try:
            return self.users.actor(row.username)
        except PermissionDenied:  # deactivated after this token was issued
            raise AccountDisabled() from None
        except Exception:  # noqa: BLE001 - a deleted user is simply not signed in
            raise NotAuthenticated("账号不可用，请联系管理员") from None

    def revoke(self, value: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(TOKENS)
                .where(and_(TOKENS.c.token_hash == _hash(value), TOKENS.c.revoked_at.is_(None)))
                .values(revoked_at=self.clock.now())
            )

    def revoke_all(self, username: str) -> int:
        with self.db.write() as conn:
            return conn.execute(
                update(TOKENS)
                .where(and_(TOKENS.c.username == username, TOKENS.c.revoked_at.is_(None)))
                .values(revoked_at=self.clock.now())
            ).rowcount


def _failed() -> NotAuthenticated:
    return NotAuthenticated("用户名或密码错误")
