"""Settings read from MCE_-prefixed environment variables, validated once at startup.

A bad value stops the process with one line naming the variable and what it may be; secrets are never echoed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, AliasChoices, BeforeValidator, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL

ENV_PREFIX = "MCE_"
# Values of settings whose names match this are never shown in an error message.
_SECRET_NAME = re.compile(r"token|secret|password|key|credential|connection_string", re.IGNORECASE)

Environment = Literal["local", "production"]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value),
]


def _service_url(value: str) -> str:
    """Where another service answers: http(s)://host[:port][/path], nothing the calls could not carry or would leak."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be http:// or https:// followed by a host, e.g. http://product:8000")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold a user name or password (the services call one another without them)")
    if parts.query or parts.fragment or port == 0:
        raise ValueError("must be scheme, host, an optional port and an optional path, with no query or fragment")
    return value


# Another service's base URL (MCE_PRODUCT_URL and the like), checked at start rather than at the first call.
ServiceUrl = Annotated[str, AfterValidator(_service_url)]


class SettingsError(RuntimeError):
    """A setting has a value the service cannot start with."""


class BaseServiceSettings(BaseSettings):
    """Settings every service shares."""

    # populate_by_name: a setting that also answers to a design-doc name (RDS_HOST, KAFKA_BOOTSTRAP...) can still be
    # given by its field name, as `mce up` and the tests do.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True, populate_by_name=True)

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
    # A setting read under aliases is reported by both its names, the rest with the prefix (MCE_...).
    aliased = field.isupper()
    variable = f"{field} (or {field.removeprefix(ENV_PREFIX)})" if aliased else f"{ENV_PREFIX}{field.upper()}"
    if _SECRET_NAME.search(field) or "input" not in err or isinstance(err["input"], dict):
        return f"{variable}: {message}"
    return f"{variable}: {message} (got {_without_credentials(err['input'])!r})"


def _without_credentials(value: object) -> object:
    """The value to echo in an error: a URL's password (a database's, say) replaced by ***."""
    if not isinstance(value, str) or "://" not in value:
        return value
    scheme, _, rest = value.partition("://")
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not at:
        return value
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}{rest[end:]}"


def load_settings(cls: type[S], **overrides: object) -> S:
    """Build settings from the environment, raising SettingsError that names each bad variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise SettingsError("; ".join(_describe(err) for err in exc.errors())) from None


def _either(name: str) -> AliasChoices:
    """A setting read as MCE_<NAME> or as the design's plain NAME (the Kubernetes ConfigMap's and Terraform's)."""
    return AliasChoices(f"{ENV_PREFIX}{name}", name)


class DatabaseSettings(BaseServiceSettings):
    """Settings of a service with a relational database of its own.

    Where it is: MCE_DATABASE_URL if given; else, when RDS_HOST is set, the database `mce_<service>` on that
    PostgreSQL server (one server, a database per service, as on RDS); else a SQLite file under the data directory.
    """

    database_url: str | None = None
    rds_host: str | None = Field(default=None, validation_alias=_either("RDS_HOST"))
    rds_port: int = Field(default=5432, ge=1, le=65535, validation_alias=_either("RDS_PORT"))
    rds_user: str = Field(default="mce", min_length=1, validation_alias=_either("RDS_USER"))
    rds_password: SecretStr | None = Field(default=None, validation_alias=_either("RDS_PASSWORD"))
    # RDS takes TLS; `require` encrypts without checking the certificate, `verify-full` checks it too.
    rds_sslmode: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] = Field(
        default="prefer", validation_alias=_either("RDS_SSLMODE")
    )
    # Production runs migrations as a separate job (`mce migrate NAME`) and sets this false.
    migrate_on_start: bool = True

    @model_validator(mode="after")
    def _a_real_database_in_production(self) -> DatabaseSettings:
        if self.production and not (self.database_url or self.rds_host):
            raise ValueError(
                "MCE_DATABASE_URL or RDS_HOST: one must be set in production (the embedded SQLite file is for one "
                "machine)"
            )
        return self

    def resolved_database_url(self, name: str) -> str:
        """The configured URL, the service's database on RDS_HOST, or the embedded SQLite file <data dir>/<name>.db."""
        if self.database_url:
            return self.database_url
        if self.rds_host:
            password = self.rds_password.get_secret_value() if self.rds_password else None
            url = URL.create(
                "postgresql+psycopg",
                username=self.rds_user,
                password=password,
                host=self.rds_host,
                port=self.rds_port,
                database=f"mce_{name}",
                query={"sslmode": self.rds_sslmode},
            )
            return url.render_as_string(hide_password=False)
        return f"sqlite:///{(self.data_dir / f'{name}.db').resolve()}"
