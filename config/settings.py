"""Settings from the environment (``CASEFLOW_*``), and where the configuration files are.

Nothing is read at import time: the composition root calls ``Settings()``.
"""

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULTS = Path(__file__).parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASEFLOW_", extra="ignore")

    database_url: str = "sqlite:///./caseflow.db"
    """SQLAlchemy URL; PostgreSQL as ``postgresql+psycopg://user:pass@host:port/db``."""
    fake_now: str | None = None
    """An ISO 8601 instant with offset: everything acts at that instant (demos and tests)."""
    config_dir: Path | None = None
    """A directory whose files override the defaults shipped in ``config/``."""
    data_dir: Path = Path("./caseflow-data")
    """Where evidence files and other stored files go."""
    smtp_url: str | None = None
    mail_from: str | None = None
    max_upload_bytes: int = 20 * 1024 * 1024
    """Largest evidence file."""
    max_ledger_bytes: int = 64 * 1024 * 1024
    """Largest ledger workbook uploaded on the pages (100,000 rows take about 10 MB)."""
    sms_url: str | None = None
    """HTTP gateway for SMS (overrides ``notifications.yaml``)."""
    sms_token: str | None = None
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    """How long a SQLite writer waits for another one before answering 数据库正忙 (``DatabaseBusy``)."""
    idempotency_retention_hours: int = Field(default=24, ge=1)
    """How long an API response is kept for a retry with the same ``Idempotency-Key``."""
    token_retention_days: int = Field(default=30, ge=0)
    """How long an expired or revoked session or API token is kept."""
    signin_retention_days: int = Field(default=180, ge=180)
    """How long sign-in records are kept (network logs: at least six months)."""

    @field_validator("fake_now")
    @classmethod
    def _offset_required(cls, value: str | None) -> str | None:
        if value:
            from workflow.clock import parse_instant

            parse_instant(value)
        return value or None

    def departments_file(self) -> Path:
        return self._pick("departments.yaml")

    def workflow_files(self) -> list[Path]:
        """Default definitions, with any file of the same name in the config dir instead."""
        files = {p.name: p for p in sorted((DEFAULTS / "workflows").glob("*.yaml"))}
        if self.config_dir is not None and (self.config_dir / "workflows").is_dir():
            files.update({p.name: p for p in sorted((self.config_dir / "workflows").glob("*.yaml"))})
        return [files[name] for name in sorted(files)]

    def calendar_files(self) -> list[Path]:
        """Holiday data per year (``calendar/*.yaml``); a file of the same name in the config
        dir replaces the default one."""
        files = {p.name: p for p in sorted((DEFAULTS / "calendar").glob("*.yaml"))}
        if self.config_dir is not None and (self.config_dir / "calendar").is_dir():
            files.update({p.name: p for p in sorted((self.config_dir / "calendar").glob("*.yaml"))})
        return [files[name] for name in sorted(files)]

    def notifications_file(self) -> Path:
        return self._pick("notifications.yaml")

    def assessment_file(self) -> Path:
        return self._pick("assessment.yaml")

    def template_override_dir(self) -> Path | None:
        """``CASEFLOW_CONFIG_DIR/templates``, where admins override notification templates."""
        return self.config_dir / "templates" if self.config_dir is not None else None

    def _pick(self, name: str) -> Path:
        if self.config_dir is not None and (self.config_dir / name).is_file():
            return self.config_dir / name
        return DEFAULTS / name
