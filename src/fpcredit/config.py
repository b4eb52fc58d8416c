"""Settings: every knob of fpcredit, read from FPCREDIT_* environment variables."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    DirectoryPath,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fpcredit.errors import ConfigError
from fpcredit.messages import text

__all__ = ["Settings", "WitnessSetting", "debug_requested", "validation_problems"]

_PYDANTIC_PREFIX = "Value error, "  # how pydantic introduces a validator's own message
_CONFIG = SettingsConfigDict(env_prefix="FPCREDIT_", extra="ignore")


def _empty_is_off(value: object) -> object:
    return value if value != "" else False


# A switch: 1/true/yes/on or 0/false/no/off; set but empty is off.
_Switch = Annotated[bool, BeforeValidator(_empty_is_off)]
_SPARK_MEMORY = "2g"
_DEBUG_DESCRIPTION = (
    "Let an unexpected error in a command reach the terminal with its traceback (the command "
    "line otherwise prints one line and exits 2)."
)


class WitnessSetting(BaseModel):
    """A witness that cosigns the trail's checkpoints (C2SP tlog-witness; docs/trail.md)."""

    url: str = Field(description="The witness's URL prefix, e.g. http://witness.example:8100.")
    key: str = Field(description="Its verifier key, name+hex(key id)+base64(0x04 ‖ key).")


class Settings(BaseSettings):
    """Validated at start-up; each field's description is its documentation."""

    model_config = _CONFIG

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

    crypto: Literal["default", "gm"] = Field(
        default="default",
        description=(
            "Crypto profile of a new store: `default` (AES-256-GCM, HMAC-SHA256) or `gm` "
            "(SM4-GCM, HMAC-SM3, SM2-signed checkpoints; GB/T 39786-2021). An existing store "
            "keeps its keyring's profile; `fpcredit keys rotate --profile` moves it."
        ),
    )

    debug: _Switch = Field(default=False, description=_DEBUG_DESCRIPTION)

    lock_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="How long a write waits for another writer (SQLite) before giving up.",
    )
    mappings_dir: DirectoryPath | None = Field(
        default=None,
        description=(
            "A folder of extra department mapping files, one `<source>.yaml` per department "
            "(docs/ingestion.md): each is a department for `ingest` and `demo` beside the "
            "packaged ones, whose names it cannot take."
        ),
    )

    # Linkage (docs/linkage.md).
    link_backend: Literal["duckdb", "spark"] | None = Field(
        default=None,
        description=(
            "Where the Splink pass runs: `duckdb` in process, or `spark` (local mode, Java 17+). "
            "Default: the `backend` of linkage.yaml (duckdb). Switching does not retrain."
        ),
    )
    spark_memory: str = Field(
        default=_SPARK_MEMORY,
        description=(
            "Heap of the local Spark driver when the linkage backend is `spark` (the whole of "
            "local mode: driver and executor are one JVM), e.g. 2g or 8g."
        ),
    )

    @field_validator("link_backend", mode="before")
    @classmethod
    def _backend(cls, value: object) -> object:
        # Read as it always was: case and spaces do not matter, and set but empty is unset.
        if not isinstance(value, str):
            return value
        raw = value.strip().lower()
        if not raw:
            return None
        if raw not in ("duckdb", "spark"):
            raise ValueError(text("link.backend_bad", backend=raw))
        return raw

    @field_validator("spark_memory", mode="before")
    @classmethod
    def _memory(cls, value: object) -> object:
        return value or _SPARK_MEMORY  # set but empty: the default, as before it was a setting

    # Identities and authentication (SPEC R26; GB/T 22239-2019 level 3, §8.1.4).
    session_idle_s: int = Field(
        default=900,
        ge=60,
        le=1800,
        description="A session unused for this many seconds is closed (10–30 min by GB/T 22239).",
    )
    token_lifetime_s: int = Field(
        default=300,
        ge=30,
        le=3600,
        description="Lifetime of an access token; a live session gets a new one by refreshing.",
    )
    lockout_failures: int = Field(
        default=5,
        ge=1,
        le=5,
        description="Consecutive failed logins (password or TOTP) after which an account locks.",
    )
    lockout_s: int = Field(
        default=900, ge=60, description="How long a locked account stays locked, in seconds."
    )
    account_idle_days: int = Field(
        default=90,
        ge=1,
        description="A staff account not used for this many days is disabled at its next login.",
    )
    otp_lifetime_s: int = Field(
        default=300, ge=60, le=900, description="Lifetime of a citizen's one-time login code."
    )
    otp_max_attempts: int = Field(
        default=5, ge=1, le=10, description="Wrong entries after which a one-time code is burnt."
    )
    otp_resend_s: int = Field(
        default=60,
        ge=0,
        description="Minimum seconds between two codes sent to one person (against SMS flooding).",
    )
    sms_channel: Literal["outbox"] = Field(
        default="outbox",
        description=(
            "How citizens' one-time codes are sent. `outbox`: written, encrypted, to the outbox "
            "table (development; `fpcredit outbox list`)."
        ),
    )
    totp_issuer: str = Field(
        default="fpcredit",
        min_length=1,
        max_length=64,
        description="Issuer name shown by authenticator apps for staff TOTP secrets.",
    )
    argon2_time_cost: int = Field(
        default=3, ge=1, description="Argon2id passes; changing it rehashes passwords at login."
    )
    argon2_memory_kib: int = Field(
        default=65536,
        ge=8,
        description="Argon2id memory in KiB (RFC 9106 low-memory profile: 65536).",
    )
    argon2_parallelism: int = Field(default=4, ge=1, description="Argon2id lanes.")

    # The HTTP service (docs/security.md).
    max_body_bytes: int = Field(
        default=65_536, ge=1024, description="Largest request body the API accepts (413 above)."
    )
    rate_limit_per_s: float = Field(
        default=50.0,
        ge=0,
        description="Requests a second each client address may make (0 turns the limit off).",
    )
    rate_limit_burst: int = Field(
        default=100, ge=1, description="Requests a client address may make in a burst."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Addresses or networks of the reverse proxies whose X-Forwarded-For is believed, "
            "comma-separated (e.g. 10.0.0.5,10.1.0.0/24). Default none: the client address is "
            "the connection's, so a forged header cannot dodge the rate limit."
        ),
    )
    rate_limit_subject_per_s: float = Field(
        default=50.0,
        ge=0,
        description="Requests a second each token subject may make, from any address (0: off).",
    )
    rate_limit_subject_burst: int = Field(
        default=100, ge=1, description="Requests an authenticated caller may make in a burst."
    )
    rate_limit_login_per_min: int = Field(
        default=10,
        ge=0,
        description=(
            "Login attempts a minute for one username, client id or citizen ID number, from any "
            "address (0: off)."
        ),
    )
    rate_limit_code_per_min: int = Field(
        default=3,
        ge=0,
        description="Citizen-code requests a minute for one ID number, from any address (0: off).",
    )
    feed_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description=(
            "Largest feed file a department may push to POST /v1/feeds/{source} (413 above; "
            "the route's own limit, instead of max_body_bytes)."
        ),
    )
    feed_pushes_per_minute: int = Field(
        default=30,
        ge=0,
        description=(
            "Feed pushes (POST /v1/feeds/{source}) a minute for one department client, "
            "re-sends included (429 above; 0: off)."
        ),
    )
    explain_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Worker processes that compute explanations for the service (each holds the policy "
            "engine; the server's own process keeps answering lookups meanwhile)."
        ),
    )
    explain_province_max: int = Field(
        default=1_000_000,
        ge=0,
        description=(
            "Largest province (persons) an explanation worker evaluates whole to explain from "
            "(about 10 kB of memory a person; 0: never, each family evaluated alone)."
        ),
    )
    code_queue_size: int = Field(
        default=1000,
        ge=1,
        description="Citizen-code requests waiting for the sender; beyond it they are dropped.",
    )

    # Notifications (docs/services.md, notify/worker.py).
    notify_attempts: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Delivery attempts of one notification before it is moved to the dead letters.",
    )
    notify_backoff_base_s: float = Field(
        default=30.0,
        gt=0,
        description=(
            "First retry delay of a failed delivery in seconds; each retry doubles it, plus a "
            "random jitter of up to this much."
        ),
    )
    notify_backoff_max_s: float = Field(
        default=3600.0, gt=0, description="Longest delay between two delivery attempts, seconds."
    )
    notify_lease_s: float = Field(
        default=120.0,
        ge=1,
        description=(
            "How long a worker holds the notifications it claimed; a worker killed meanwhile "
            "leaves them to another run once the lease has expired."
        ),
    )
    notify_poll_s: float = Field(
        default=5.0, gt=0, description="Seconds the notification worker waits when nothing is due."
    )
    notify_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="Timeout of one webhook post to a department."
    )
    notify_in_serve: _Switch = Field(
        default=True, description="Whether `fpcredit serve` also runs the notification worker."
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            return value
        found = [str(item).strip() for item in items if str(item).strip()]
        for item in found:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(text("config.bad_proxy", value=item)) from None
        return found

    # The trail (docs/trail.md).
    witnesses: list[WitnessSetting] = Field(
        default_factory=list,
        description=(
            "Witnesses that cosign every checkpoint of the trail, as JSON: "
            '[{"url": "http://witness.example:8100", "key": "name+1234abcd+BA…"}].'
        ),
    )

    # The cross-province exchange (docs/exchange.md).
    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        description=(
            "NATS server(s) with JetStream for the cross-province exchange "
            "(`fpcredit exchange run`); several as a comma-separated list."
        ),
    )
    exchange_batch: int = Field(
        default=256,
        ge=1,
        le=10_000,
        description="Messages the exchange relays, or takes in one transaction, at a time.",
    )

    def __init__(self, **values: Any) -> None:
        # A bad value is the operator's to fix: one line naming the variable, never pydantic's
        # report (which would also echo the value — a database URL may hold a password).
        try:
            super().__init__(**values)
        except ValidationError as e:
            raise ConfigError(_invalid(e)) from None

    @property
    def url(self) -> str:
        """The effective database URL."""
        return self.database_url or f"sqlite:///{self.home.resolve() / 'fpcredit.db'}"

    @property
    def keys_dir(self) -> Path:
        """Where the data-encryption and blind-index keys live (never in the database)."""
        return self.home / "keys"


class _Debug(BaseSettings):
    """FPCREDIT_DEBUG alone, read as Settings reads it."""

    model_config = _CONFIG

    debug: _Switch = Field(default=False, description=_DEBUG_DESCRIPTION)


def debug_requested() -> bool:
    """Whether FPCREDIT_DEBUG asks for the traceback of an unexpected error: read as `Settings`
    reads it, but alone, so that another invalid setting (perhaps the error itself) cannot hide
    it; an invalid FPCREDIT_DEBUG asks for nothing."""
    try:
        return _Debug().debug
    except ValidationError:
        return False


def validation_problems(error: ValidationError) -> list[tuple[tuple[int | str, ...], str]]:
    """Each problem of a pydantic validation as (where, why): never the refused value (it may
    be a secret), and a validator's own words without pydantic's "Value error, " before them."""
    return [
        (tuple(problem["loc"]), str(problem["msg"]).removeprefix(_PYDANTIC_PREFIX))
        for problem in error.errors(include_input=False, include_url=False)
    ]


def _invalid(error: ValidationError) -> str:
    """Each refused setting as its environment variable and why, without its value."""
    parts = []
    for where, why in validation_problems(error):
        field = str(where[0]) if where else "?"
        parts.append(text("config.invalid", variable=f"FPCREDIT_{field.upper()}", why=why))
    return "; ".join(parts)
