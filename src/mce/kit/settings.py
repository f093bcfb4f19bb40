"""Settings read from MCE_-prefixed environment variables, validated once at startup."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MCE_"


class SettingsError(RuntimeError):
    """A setting has a value the service cannot start with."""


class BaseServiceSettings(BaseSettings):
    """Settings every service shares."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    data_dir: Path = Path(".mce")
    log_level: str = "INFO"
    # Bodies larger than this are refused with 413 before they are read.
    max_body_bytes: int = 1_048_576
    # Timeout for calls to other services, in seconds.
    http_timeout: float = 5.0


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **overrides: object) -> S:
    """Build settings from the environment, raising SettingsError that names each bad variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"])
            problems.append(f"{ENV_PREFIX}{field.upper()}: {err['msg']} (got {err.get('input')!r})")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
