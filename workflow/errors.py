"""The one error tree of caseflow.

::

    CaseflowError                    base; carries a stable ``code``, a Chinese ``message`` and ``details``
    ├── DefinitionError              a workflow or organisation definition is invalid (file, key)
    ├── InvalidInput                 a field given by a user is missing or wrong (field, reason)
    ├── NotFound                     a case, user, department, item or file does not exist
    ├── PermissionDenied             the actor's role or unit may not do this
    ├── TransitionNotAllowed         the trigger is not allowed in the case's state (allowed triggers)
    ├── GuardFailed                  the trigger is allowed but a rule refuses it now (guard, reason)
    ├── VersionConflict              the case changed since the caller read it
    ├── NotAuthenticated             no valid sign-in (401)
    │   └── AccountDisabled          the right password of a deactivated user (401)
    ├── TooManyAttempts              too many failed sign-ins; wait (429)
    ├── EvidenceCorrupted            a stored evidence file no longer matches its SHA-256 (500)
    ├── DatabaseBusy                 another writer held the database too long; retry (503)
    └── PayloadTooLarge              an upload over the size limit (413)

``web/`` maps them to HTTP statuses (422, 404, 403, 409, …) and the CLI to exit code 2. Messages are
for people and in Chinese; ``code`` and ``details`` are for programs. This module does no I/O.
"""

from typing import Any


class CaseflowError(Exception):
    """Base of every error that caseflow refuses a request with."""

    code: str = "caseflow_error"
    http_status: int = 400

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The JSON body shared by the API and ``--json`` output: error, message, details."""
        return {"error": self.code, "message": self.message, "details": self.details}


class DefinitionError(CaseflowError):
    """A definition file is invalid. ``file`` and ``key`` (a dotted path) say where."""

    code = "definition_error"
    http_status = 500

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}", {"file": file, "key": key, "reason": reason})
        self.file = file
        self.key = key
        self.reason = reason


class InvalidInput(CaseflowError):
    """One or more input fields are wrong; ``errors`` maps each field to its reason."""

    code = "invalid_input"
    http_status = 422

    def __init__(self, field: str, reason: str, *, more: dict[str, str] | None = None) -> None:
        errors = {field: reason, **(more or {})}
        text = "；".join(f"{name}：{why}" for name, why in errors.items())
        super().__init__(f"输入有误：{text}", {"fields": errors})
        self.field = field
        self.reason = reason
        self.errors = errors

    @classmethod
    def from_errors(cls, errors: dict[str, str]) -> "InvalidInput":
        """One error naming every bad field (``errors`` must not be empty)."""
        (first, reason), *rest = errors.items()
        return cls(first, reason, more=dict(rest))


class NotFound(CaseflowError):
    """The thing named does not exist (or the caller may not know that it exists)."""

    code = "not_found"
    http_status = 404

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what}不存在：{key}", {"what": what, "key": key})


class PermissionDenied(CaseflowError):
    """The actor may not do this; ``reason`` says which rule refused."""

    code = "permission_denied"
    http_status = 403

    def __init__(self, reason: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"无权操作：{reason}", details)


class TransitionNotAllowed(CaseflowError):
    """``trigger`` cannot fire from ``state``; ``allowed`` lists the triggers that can."""

    code = "transition_not_allowed"
    http_status = 409

    def __init__(self, trigger: str, state: str, allowed: list[str]) -> None:
        listed = "、".join(allowed) if allowed else "无"
        super().__init__(
            f"当前状态“{state}”下不能执行“{trigger}”；可执行的操作：{listed}",
            {"trigger": trigger, "state": state, "allowed": allowed},
        )
        self.trigger = trigger
        self.state = state
        self.allowed = allowed


class GuardFailed(CaseflowError):
    """A rule (``guard``) refuses the trigger now; ``reason`` says why, in Chinese."""

    code = "guard_failed"
    http_status = 409

    def __init__(self, guard: str, reason: str) -> None:
        super().__init__(reason, {"guard": guard})
        self.guard = guard
        self.reason = reason


class VersionConflict(CaseflowError):
    """The case's version is not the one the caller expected: someone else changed it first."""

    code = "version_conflict"
    http_status = 409

    def __init__(self, case: str, expected: int, actual: int) -> None:
        super().__init__(
            f"案件 {case} 已被他人修改（期望版本 {expected}，当前版本 {actual}），请刷新后重试",
            {"case": case, "expected_version": expected, "actual_version": actual},
        )


class NotAuthenticated(CaseflowError):
    """No valid sign-in: a missing, wrong, expired or revoked token, or a wrong password."""

    code = "not_authenticated"
    http_status = 401

    def __init__(self, reason: str = "请先登录") -> None:
        super().__init__(reason)


class AccountDisabled(NotAuthenticated):
    """The password is right but the user has been deactivated (``caseflow user deactivate``)."""

    code = "account_disabled"

    def __init__(self) -> None:
        super().__init__("账号已停用，请联系管理员")


class TooManyAttempts(CaseflowError):
    """Too many failed sign-ins for this user or address; ``retry_after`` seconds to wait."""

    code = "too_many_attempts"
    http_status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"登录失败次数过多，请{max(retry_after // 60, 1)}分钟后再试", {"retry_after": retry_after})
        self.retry_after = retry_after


class EvidenceCorrupted(CaseflowError):
    """A stored evidence file's content no longer has the SHA-256 it is stored under: it was
    damaged or tampered with. Nothing is served; an administrator restores it from a backup."""

    code = "evidence_corrupted"
    http_status = 500

    def __init__(self, sha256: str, actual: str) -> None:
        super().__init__(
            f"证明材料文件已损坏或被篡改（SHA-256 校验不符：应为 {sha256[:12]}…），已拒绝提供；请联系管理员从备份恢复",
            {"sha256": sha256, "actual_sha256": actual},
        )
        self.sha256 = sha256


class DatabaseBusy(CaseflowError):
    """The database stayed locked by another writer past the wait limit (SQLite's busy timeout,
    a PostgreSQL lock timeout or deadlock). Nothing was changed; the same request may be retried
    after ``retry_after`` seconds."""

    code = "database_busy"
    http_status = 503

    def __init__(self, retry_after: int = 5) -> None:
        super().__init__("数据库正忙，请稍后重试", {"retry_after": retry_after})
        self.retry_after = retry_after


class PayloadTooLarge(CaseflowError):
    """An upload is larger than allowed."""

    code = "payload_too_large"
    http_status = 413

    def __init__(self, limit: int) -> None:
        size = f"{limit / (1024 * 1024):.1f} MB" if limit >= 1024 * 1024 else f"{limit / 1024:.1f} KB"
        super().__init__(f"上传内容超过大小上限（{size}）", {"limit_bytes": limit})
