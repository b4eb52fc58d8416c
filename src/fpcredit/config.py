"""Settings: every knob of fpcredit, read from FPCREDIT_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Validated at start-up; each field's description is its documentation."""

    model_config = SettingsConfigDict(env_prefix="FPCREDIT_", extra="ignore")

    home: Path = Field(
        default=Path("var"),
        description="Directory for the embedded database, keys and reports.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the store. Default: SQLite at HOME/fpcredit.db. "
            "PostgreSQL: postgresql+psycopg://user@host:5432/db"
        ),
    )
    language: Literal["zh", "en"] = Field(
        default="zh", description="Language of user-facing messages (zh-CN or English)."
    )

    lock_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="How long a write waits for another writer (SQLite) before giving up.",
    )

    @property
    def url(self) -> str:
        """The effective database URL."""
        return self.database_url or f"sqlite:///{self.home.resolve() / 'fpcredit.db'}"

    @property
    def keys_dir(self) -> Path:
        """Where the data-encryption and blind-index keys live (never in the database)."""
        return self.home / "keys"
