"""The deployables: their names, app factories, settings, databases and default local ports."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mce.kit.settings import SettingsError


def _load(reference: str) -> Any:
    """The object a 'module:attribute' reference names."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service.

    `migrations` names its Migrations (a database of its own) or is None; `public` marks the service shoppers
    reach, whose /metrics goes on a port of its own instead of theirs.
    """

    name: str
    factory: str
    settings: str
    default_port: int
    migrations: str | None = None
    public: bool = False

    @property
    def port_variable(self) -> str:
        """The environment variable that overrides its local port."""
        return f"MCE_{self.name.upper().replace('-', '_')}_PORT"

    @property
    def metrics_port_variable(self) -> str:
        """The environment variable that sets a public service's local metrics port."""
        return f"MCE_{self.name.upper().replace('-', '_')}_METRICS_PORT"

    def local_port(self) -> int:
        """The port `mce up` gives it: MCE_<NAME>_PORT, else the default."""
        return _port(self.port_variable, self.default_port)

    def local_metrics_port(self) -> int | None:
        """The port `mce up` serves a public service's /metrics on: MCE_<NAME>_METRICS_PORT, else 90xx."""
        return _port(self.metrics_port_variable, 9000 + self.default_port % 100) if self.public else None

    def settings_class(self) -> type:
        """Its settings class."""
        return _load(self.settings)

    def app_factory(self) -> Any:
        """Its `create_app(settings)`."""
        return _load(self.factory)

    def load_migrations(self) -> Any:
        """Its Migrations, or None when it has no database."""
        return _load(self.migrations) if self.migrations else None


def _port(variable: str, default: int) -> int:
    """A port number from the environment, or SettingsError naming the variable."""
    raw = os.environ.get(variable, "")
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(f"{variable}: must be a port number from 1 to 65535 (got {raw!r})")
    return int(raw)


# Start order: a service comes after those it calls, so it finds them ready.
SERVICES = (
    ServiceSpec(
        "product",
        "mce.services.product.app:create_app",
        "mce.services.product.settings:ProductSettings",
        8001,
        migrations="mce.services.product.store.tables:MIGRATIONS",
    ),
    ServiceSpec("search", "mce.services.search.app:create_app", "mce.services.search.settings:SearchSettings", 8002),
    ServiceSpec(
        "events-producer",
        "mce.services.events_producer.app:create_app",
        "mce.services.events_producer.settings:ProducerSettings",
        8005,
    ),
    ServiceSpec(
        "cart",
        "mce.services.cart.app:create_app",
        "mce.services.cart.settings:CartSettings",
        8003,
        migrations="mce.services.cart.store.tables:MIGRATIONS",
    ),
    ServiceSpec(
        "order",
        "mce.services.order.app:create_app",
        "mce.services.order.settings:OrderSettings",
        8004,
        migrations="mce.services.order.store.tables:MIGRATIONS",
    ),
    ServiceSpec(
        "analytics",
        "mce.services.analytics.app:create_app",
        "mce.services.analytics.settings:AnalyticsSettings",
        8007,
        migrations="mce.services.analytics.store.tables:MIGRATIONS",
    ),
    ServiceSpec(
        "frontend",
        "mce.services.frontend.app:create_app",
        "mce.services.frontend.settings:FrontendSettings",
        8000,
        migrations="mce.services.frontend.store.tables:MIGRATIONS",
        public=True,
    ),
    ServiceSpec("stream", "mce.stream.app:create_app", "mce.stream.settings:StreamSettings", 8006),
    ServiceSpec(
        "image-processor",
        "mce.services.image_processor.app:create_app",
        "mce.services.image_processor.settings:ImageProcessorServiceSettings",
        8008,
    ),
)
# Deployables `mce serve` runs but `mce up` does not start: they need real backends, and `make up-real` starts them.
REAL_ONLY = (
    # The analytics Azure Function's code without the Functions host; its store is the Function's app settings.
    ServiceSpec(
        "analytics-function",
        "mce.functions.analytics.runner:create_app",
        "mce.functions.analytics.settings:AnalyticsFunctionSettings",
        8009,
    ),
)
BY_NAME = {spec.name: spec for spec in (*SERVICES, *REAL_ONLY)}
# `mce up` starts SERVICES, and also the REAL_ONLY ones this variable names (comma-separated): `make up-real` does.
UP_ALSO_VARIABLE = "MCE_UP_ALSO"


def up_services(environ: Mapping[str, str]) -> tuple[ServiceSpec, ...]:
    """What `mce up` starts: every service, then those of REAL_ONLY that MCE_UP_ALSO names; SettingsError otherwise."""
    extra = [name.strip() for name in environ.get(UP_ALSO_VARIABLE, "").split(",") if name.strip()]
    known = {spec.name: spec for spec in REAL_ONLY}
    unknown = [name for name in extra if name not in known]
    if unknown:
        allowed = ", ".join(known) or "none"
        raise SettingsError(f"{UP_ALSO_VARIABLE}: unknown service {', '.join(unknown)}; allowed: {allowed}")
    return SERVICES + tuple(known[name] for name in dict.fromkeys(extra))


def service_urls(host: str = "127.0.0.1") -> dict[str, str]:
    """MCE_<NAME>_URL for every service at its local port, so services find one another."""
    return {f"MCE_{s.name.upper().replace('-', '_')}_URL": f"http://{host}:{s.local_port()}" for s in SERVICES}
