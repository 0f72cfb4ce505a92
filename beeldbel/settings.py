"""Settings: one typed object, built once from ``BEELDBEL_*`` variables and an optional TOML file.

Precedence, highest first: keyword arguments (tests), environment variables,
the config file named by ``BEELDBEL_CONFIG`` (or ``--config``), the defaults.
The defaults serve the embedded case: everything under ``./var``, SQLite, port 8080.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import Field, IPvAnyNetwork, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from beeldbel.errors import InvalidInput
from beeldbel.retention.model import parse_periods

__all__ = ["ConfigError", "LogFormat", "Settings", "is_loopback_host", "load_settings"]

CONFIG_ENV = "BEELDBEL_CONFIG"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class ConfigError(Exception):
    """The configuration cannot be used; the message says which setting and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BEELDBEL_",
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    data_dir: Path = Field(
        default=Path("var"),
        description="Holds the SQLite database and generated keys.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means SQLite in the data directory. "
        "PostgreSQL: postgresql+asyncpg://user@host/db",
    )
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port to listen on.")
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description='Reverse proxies whose X-Forwarded-For is believed, as JSON: ["127.0.0.1"].',
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for shared rate limits (and, later, Socket.IO); empty: in-process.",
    )
    log_level: str = Field(default="info", description="debug, info, warning or error.")
    log_format: LogFormat = Field(default=LogFormat.JSON, description="json or console.")
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest JSON body accepted."
    )
    shutdown_timeout: float = Field(
        default=15.0, gt=0, le=300, description="Seconds in-flight requests get on shutdown."
    )
    rate_limit_per_address: int = Field(
        default=600, ge=1, description="Requests per minute from one address."
    )
    rate_limit_per_principal: int = Field(
        default=300, ge=1, description="Requests per minute from one signed-in principal."
    )
    token_issuer: str = Field(default="beeldbel", description="The iss claim of our tokens.")
    token_audience: str = Field(default="beeldbel-api", description="The aud claim of API tokens.")
    access_token_minutes: int = Field(
        default=10, ge=1, le=60, description="Lifetime of an access token."
    )
    agenda_horizon_days: int = Field(
        default=365,
        ge=28,
        le=1100,
        description="How far ahead a recurring appointment is booked (a job extends it).",
    )
    call_grace_seconds: int = Field(
        default=60,
        ge=5,
        le=600,
        description="How long a participant whose connection dropped keeps their place.",
    )
    auto_admit_client: bool = Field(
        default=False,
        description="Let the invited client into a call without the worker admitting them.",
    )
    relay_only_calls: bool = Field(
        default=False,
        description="Relay every call through TURN (no direct addresses), not only calls "
        "with a guest.",
    )
    quality_control: bool = Field(
        default=True,
        description="Run the fallback ladder's controller for calls; off leaves quality to "
        "the browsers' own adaptation (for comparison).",
    )
    stun_urls: list[str] = Field(
        default_factory=list,
        description='STUN servers for calls, as JSON: ["stun:turn.example.nl:3478"].',
    )
    turn_urls: list[str] = Field(
        default_factory=list,
        description="TURN servers (coturn), as JSON: "
        '["turn:turn.example.nl:3478?transport=udp", "turns:turn.example.nl:443?transport=tcp"].',
    )
    turn_secret_file: Path | None = Field(
        default=None,
        description="coturn's static-auth-secret (use-auth-secret): each join gets "
        "credentials valid until the appointment's end plus an hour, at most 24 h.",
    )
    refresh_token_days: int = Field(
        default=14, ge=1, le=90, description="How long a sign-in lasts without activity."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Other origins whose pages may call the API, as JSON: "
        '["https://intranet.example.nl"]. The service\'s own origin is always allowed.',
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="The audit chain's HMAC key; keep it off the database server. "
        "Default: keys/audit-hmac.key in the data directory.",
    )
    audit_anchor_file: Path | None = Field(
        default=None,
        description="Where the audit chain head is anchored, outside the database. "
        "Default: audit-anchor.jsonl in the data directory.",
    )
    idempotency_hours: int = Field(
        default=24, ge=1, le=24 * 7, description="How long an Idempotency-Key is remembered."
    )
    retention_years: str = Field(
        default="wmo_2015=15,jeugdwet=20,wgbo=20",
        description="Years a closed file is kept, per legal basis; set by the privacy officer.",
    )
    metrics_token: str | None = Field(
        default=None,
        description="If set, /metrics requires 'Authorization: Bearer <token>'.",
        repr=False,
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.lower()
        if value not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return value

    @field_validator("retention_years")
    @classmethod
    def _retention_periods(cls, value: str) -> str:
        try:
            parse_periods(value)
        except InvalidInput as error:
            raise ValueError(error.message) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use sqlite+aiosqlite:///path/to/file.sqlite3 or postgresql+asyncpg://user@host/db"
            )
        return value

    @model_validator(mode="after")
    def _absolute_data_dir(self) -> Self:
        # Resolve once, so every later path (database, keys, backups) agrees.
        object.__setattr__(self, "data_dir", self.data_dir.expanduser().resolve())
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML source reads the file named by ``model_config["toml_file"]``, which
        # load_settings sets on a subclass; without one it contributes nothing.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    # Derived values -----------------------------------------------------------------------

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "beeldbel.sqlite3"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.sqlite_path}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def token_lifetime(self) -> timedelta:
        return timedelta(minutes=self.access_token_minutes)

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def effective_audit_key_file(self) -> Path:
        return self.audit_key_file or self.keys_dir / "audit-hmac.key"

    @property
    def effective_audit_anchor_file(self) -> Path:
        return self.audit_anchor_file or self.data_dir / "audit-anchor.jsonl"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings once, or raise :class:`ConfigError` naming every bad setting."""
    if config_file is None and (named := os.environ.get(CONFIG_ENV)):
        config_file = Path(named)
    settings_cls: type[Settings] = Settings
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"config file not found: {config_file}")

        class FileSettings(Settings):
            model_config = SettingsConfigDict(toml_file=config_file)

        settings_cls = FileSettings
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "(settings)"
            env = f"BEELDBEL_{field.upper()}"
            if error["type"] == "extra_forbidden":
                lines.append(f"  {field!r} (in the config file, or {env}): not a known setting")
            else:
                lines.append(f"  {env}: {error['msg']}")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
    except (ValueError, OSError) as exc:  # e.g. a config file that is not valid TOML
        raise ConfigError(f"invalid configuration: {exc}") from None


def is_loopback_host(host: str) -> bool:
    """True if binding to ``host`` keeps the service on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
