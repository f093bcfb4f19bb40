"""Settings read from MCE_-prefixed environment variables, validated once at startup.

A bad value stops the process with one line naming the variable and what it may be; secrets are never echoed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import BeforeValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MCE_"
# Values of settings whose names match this are never shown in an error message.
_SECRET_NAME = re.compile(r"token|secret|password|key|credential|connection_string", re.IGNORECASE)

Environment = Literal["local", "production"]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value),
]


class SettingsError(RuntimeError):
    """A setting has a value the service cannot start with."""


class BaseServiceSettings(BaseSettings):
    """Settings every service shares."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # production: nothing is generated (every secret must be given) and cookies are Secure.
    env: Environment = "local"
    data_dir: Path = Path(".mce")
    # The address `mce serve` listens on (0.0.0.0 in containers), and the metrics port with it.
    host: str = "127.0.0.1"
    log_level: LogLevel = "INFO"
    # Bodies larger than this are refused with 413 before they are read.
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=100 * 1024 * 1024)
    # The most a request may wait, in all, for the services it calls (each call and its retries fit inside).
    http_timeout: float = Field(default=5.0, gt=0, le=120)
    # Requests handled at once; beyond this the service answers 503 with Retry-After at once instead of queueing.
    max_in_flight: int = Field(default=128, ge=1, le=100_000)
    # When the event loop runs this late, the process is out of CPU: new requests get 503 until it catches up.
    max_loop_lag_ms: float = Field(default=100.0, gt=0, le=60_000)
    # A second port that serves only /metrics, for Prometheus; unset, there is none.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Whether /metrics (and /stats) are also served on the service's own port.
    public_metrics: bool = True

    @property
    def production(self) -> bool:
        """Whether this process runs in production, where nothing may be generated or left insecure."""
        return self.env == "production"


S = TypeVar("S", bound=BaseSettings)


def _describe(err: dict) -> str:
    """One problem as 'MCE_NAME: what is wrong (got value)', without the value when it is a secret."""
    field = ".".join(str(part) for part in err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    if not field:
        return message
    variable = f"{ENV_PREFIX}{field.upper()}"
    if _SECRET_NAME.search(field) or "input" not in err or isinstance(err["input"], dict):
        return f"{variable}: {message}"
    return f"{variable}: {message} (got {err['input']!r})"


def load_settings(cls: type[S], **overrides: object) -> S:
    """Build settings from the environment, raising SettingsError that names each bad variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise SettingsError("; ".join(_describe(err) for err in exc.errors())) from None


class DatabaseSettings(BaseServiceSettings):
    """Settings of a service with a relational database of its own."""

    # SQLite under the data directory unless a URL (e.g. postgresql://...) is given.
    database_url: str | None = None
    # Production runs migrations as a separate job (`mce migrate NAME`) and sets this false.
    migrate_on_start: bool = True

    @model_validator(mode="after")
    def _a_real_database_in_production(self) -> DatabaseSettings:
        if self.production and not self.database_url:
            raise ValueError(
                "MCE_DATABASE_URL: must be set in production (the embedded SQLite file is for one machine)"
            )
        return self

    def resolved_database_url(self, name: str) -> str:
        """The configured URL, or the embedded SQLite file <data dir>/<name>.db."""
        return self.database_url or f"sqlite:///{(self.data_dir / f'{name}.db').resolve()}"
