"""Users: registration, password hashing (Argon2id, salted and slow), deactivation, and the
``Actor`` a user name stands for. Issuing and checking sign-in tokens is ``cases.auth``'s job;
deactivating a user revokes them all in the same transaction."""

import re
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, update
from sqlalchemy.exc import IntegrityError

from cases import repository as repo
from cases.db import Database
from cases.models import ApiToken
from cases.views import local
from workflow.clock import Clock
from workflow.errors import AccountDisabled, InvalidInput, NotFound, PermissionDenied
from workflow.org import Actor, Organisation, check_roles

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
MIN_PASSWORD = 10
_hasher = PasswordHasher()


def check_password_strength(password: str) -> None:
    classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]"))
    if len(password) < MIN_PASSWORD or classes < 3:
        raise InvalidInput("password", f"密码至少{MIN_PASSWORD}位，且须包含大写字母、小写字母、数字、符号中的至少三类")


CHANNELS = ("inapp", "email", "sms")


def check_channels(channels: list[str]) -> list[str]:
    """The channels as stored: known ones only, in-app always first."""
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise InvalidInput("channel", f"未知通知渠道“{unknown[0]}”；可选：{'、'.join(CHANNELS)}")
    return ["inapp", *[c for c in CHANNELS[1:] if c in channels]]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


class UserService:
    def __init__(self, db: Database, org: Organisation, clock: Clock) -> None:
        self.db = db
        self.org = org
        self.clock = clock

    def add(
        self,
        username: str,
        department: str,
        roles: list[str],
        *,
        password: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        password_hash: str | None = None,
        channels: list[str] | None = None,
    ) -> dict[str, Any]:
        """Register a user; ``InvalidInput`` for a taken name, bad department, role or password."""
        if not USERNAME.match(username):
            raise InvalidInput("username", "用户名须为2–64位字母、数字、点、下划线或连字符，以字母或数字开头")
        dept = self.org.resolve(department, "department")
        role_set = check_roles(roles, allowed=self.org.roles)
        if password is not None:
            check_password_strength(password)
            password_hash = hash_password(password)
        if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise InvalidInput("email", f"邮箱地址“{email}”格式不正确")
        if phone is not None and not re.fullmatch(r"\+?\d{5,20}", phone):
            raise InvalidInput("phone", f"手机号“{phone}”格式不正确")
        wanted = check_channels(channels if channels is not None else ["inapp", "email"])
        try:
            with self.db.write() as conn:
                if repo.find_user(conn, username) is not None:
                    raise InvalidInput("username", f"用户名“{username}”已被使用")
                values = {
                    "username": username,
                    "display_name": display_name or username,
                    "department": dept,
                    "roles": sorted(role_set),
                    "password_hash": password_hash,
                    "email": email,
                    "phone": phone,
                    "channels": wanted,
                    "active": True,
                    "created_at": self.clock.now(),
                }
                repo.insert_user(conn, values)
        except IntegrityError:  # another registration of the same name won the race
            raise InvalidInput("username", f"用户名“{username}”已被使用") from None
        return self._view(values)

    def set_channels(self, username: str, channels: list[str]) -> dict[str, Any]:
        """Choose the channels a user is told on (in-app is always on)."""
        wanted = check_channels(channels)
        with self.db.write() as conn:
            if repo.find_user(conn, username) is None:
                raise NotFound("用户", username)
            repo.update_user(conn, username, {"channels": wanted})
            row = repo.find_user(conn, username)
        return self._view(row._mapping)

    def set_active(self, username: str, active: bool, by: Actor | None = None) -> dict[str, Any]:
        """Deactivate or reactivate a user. Deactivating revokes every sign-in token the user
        holds (API and web) in the same transaction; a deactivated user cannot sign in, act or
        be told of anything. Repeating it changes nothing. The view has ``changed`` and
        ``revoked_tokens``.

        ``by`` is the administrator doing it on the pages or the API, who may not deactivate
        themselves: so an active administrator always remains (the command line, run on the
        server, can repair anything)."""
        tokens = ApiToken.__table__
        now = self.clock.now()
        with self.db.write() as conn:
            row = repo.find_user(conn, username)
            if row is None:
                raise NotFound("用户", username)
            changed = bool(row.active) != active
            if changed and not active and by is not None and by.username == username:
                raise InvalidInput("username", "不能停用自己的账号（可由另一位系统管理员停用）")
            if changed:
                repo.update_user(conn, username, {"active": active})
            revoked = 0
            if not active:  # also tokens issued by a sign-in that raced the first deactivation
                revoked = conn.execute(
                    update(tokens)
                    .where(and_(tokens.c.username == username, tokens.c.revoked_at.is_(None)))
                    .values(revoked_at=now)
                ).rowcount
            row = repo.find_user(conn, username)
        return {**self._view(row._mapping), "changed": changed, "revoked_tokens": revoked}

    def actor(self, username: str) -> Actor:
        """The actor a user name stands for; ``NotFound`` or ``PermissionDenied`` if inactive."""
        with self.db.read() as conn:
            row = repo.find_user(conn, username)
        if row is None:
            raise NotFound("用户", username)
        if not row.active:
            raise PermissionDenied(f"用户“{username}”已停用")
        return Actor(row.username, row.department, frozenset(row.roles))

    def authenticate(self, username: str, password: str) -> Actor | None:
        """The actor for the right password, else None; ``AccountDisabled`` for the right
        password of a deactivated user (a wrong one never tells whether the user is active)."""
        with self.db.read() as conn:
            row = repo.find_user(conn, username)
        if row is None or not verify_password(row.password_hash, password):
            return None
        if not row.active:
            raise AccountDisabled()
        return Actor(row.username, row.department, frozenset(row.roles))

    def exists(self, username: str) -> bool:
        with self.db.read() as conn:
            return repo.find_user(conn, username) is not None

    def all(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return [self._view(row._mapping) for row in repo.list_users(conn)]

    def _view(self, row: Any) -> dict[str, Any]:
        created: datetime = row["created_at"]
        return {
            "username": row["username"],
            "display_name": row["display_name"],
            "department": row["department"],
            "department_name": self.org.name(row["department"]),
            "roles": list(row["roles"]),
            "email": row["email"],
            "phone": row["phone"],
            "active": row["active"],
            "can_sign_in": bool(row["password_hash"]),
            "channels": list(row["channels"]),
            "created_at": local(created),
        }
