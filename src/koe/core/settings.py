"""Server settings: typed, from a TOML file overridden by the environment; secrets kept apart.

Order (later wins): defaults < ``koe.toml`` (or ``$KOE_CONFIG``) < secrets file
(``$KOE_SECRETS`` or ``<data_dir>/secrets.toml``, mode 0600, never committed) < ``KOE_*``
environment variables. Tenant settings live in the database, not here.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator


class Secrets(BaseModel):
    """Values that must never be logged or written to the settings file."""

    model_config = {"extra": "forbid"}

    database_password: SecretStr | None = None
    smtp_password: SecretStr | None = None


class Settings(BaseModel):
    """Everything a Koe server process needs to start."""

    model_config = {"extra": "forbid"}

    data_dir: Path = Path("var")
    database_url: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8443, ge=1, le=65535)
    tls: bool = True
    tls_cert: Path | None = None
    tls_key: Path | None = None
    public_url: str = ""
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_max_failures_per_address: int = Field(default=50, ge=1, le=10_000)
    login_lock_minutes: int = Field(default=15, ge=1, le=24 * 60)
    log_level: str = "INFO"
    # E-mail delivery of notices (R3.*): no host, no e-mail (notices stay queued). The password
    # is ``smtp_password`` in the secrets file, never here.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_username: str = ""
    smtp_sender: str = ""
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    secrets: Secrets = Field(default_factory=Secrets, exclude=True)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return level

    @model_validator(mode="after")
    def _smtp(self) -> Settings:
        if self.smtp_host and "@" not in self.smtp_sender:
            raise ValueError("smtp_sender (the From address) is required with smtp_host")
        if self.smtp_username and self.smtp_security == "none":
            raise ValueError("an SMTP login needs smtp_security starttls or ssl")
        return self

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'koe.db').resolve()}"
        password = self.secrets.database_password
        if password is not None and "@" in url and ":@" not in url:
            scheme, rest = url.split("://", 1)
            user, host = rest.split("@", 1)
            if ":" not in user:
                url = f"{scheme}://{user}:{password.get_secret_value()}@{host}"
        return url

    def cert_paths(self) -> tuple[Path, Path]:
        """Where the server certificate and key are (generated on first run if absent)."""
        tls_dir = self.data_dir / "tls"
        return (self.tls_cert or tls_dir / "server.crt", self.tls_key or tls_dir / "server.key")


_ENV_PREFIX = "KOE_"
_BOOL_TRUE = {"1", "true", "yes", "on"}


def _from_env(fields: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in fields:
        raw = os.environ.get(_ENV_PREFIX + name.upper())
        if raw is None:
            continue
        values[name] = raw.lower() in _BOOL_TRUE if name == "tls" else raw
    return values


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from defaults, the TOML file, the secrets file and the environment."""
    data: dict[str, Any] = {}
    path = config_file or Path(os.environ.get("KOE_CONFIG", "koe.toml"))
    if path.exists():
        data.update(tomllib.loads(path.read_text(encoding="utf-8")))
    fields = set(Settings.model_fields) - {"secrets"}
    data.update(_from_env(fields))
    data.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings.model_validate(data)
    secrets_path = Path(os.environ.get("KOE_SECRETS", settings.data_dir / "secrets.toml"))
    secret_data: dict[str, Any] = {}
    if secrets_path.exists():
        secret_data.update(tomllib.loads(secrets_path.read_text(encoding="utf-8")))
    for name in Secrets.model_fields:
        raw = os.environ.get(_ENV_PREFIX + name.upper())
        if raw is not None:
            secret_data[name] = raw
    settings.secrets = Secrets.model_validate(secret_data)
    return settings
