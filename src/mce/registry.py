"""The deployable services: their names, app factories and default local ports."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service."""

    name: str
    factory: str
    default_port: int

    @property
    def port_variable(self) -> str:
        """The environment variable that overrides its local port."""
        return f"MCE_{self.name.upper().replace('-', '_')}_PORT"

    def local_port(self) -> int:
        """The port `mce up` gives it: MCE_<NAME>_PORT, else the default."""
        raw = os.environ.get(self.port_variable, "")
        if not raw:
            return self.default_port
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise SystemExit(f"{self.port_variable}: not a port number: {raw!r}")
        return int(raw)


# Start order: a service comes after those it calls, so it finds them ready.
SERVICES = (
    ServiceSpec("product", "mce.services.product.app:create_app", 8001),
    ServiceSpec("search", "mce.services.search.app:create_app", 8002),
    ServiceSpec("frontend", "mce.services.frontend.app:create_app", 8000),
)
BY_NAME = {spec.name: spec for spec in SERVICES}


def service_urls(host: str = "127.0.0.1") -> dict[str, str]:
    """MCE_<NAME>_URL for every service at its local port, so services find one another."""
    return {f"MCE_{s.name.upper().replace('-', '_')}_URL": f"http://{host}:{s.local_port()}" for s in SERVICES}
