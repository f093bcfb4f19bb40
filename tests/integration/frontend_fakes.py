"""Fake product and search services for the frontend's tests, reached in-process through AsgiTransport."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from mce.kit.bus.port import EventBus
from mce.kit.http import AsgiTransport, NotSent, Transport
from mce.services.cart.app import create_app as create_cart_app
from mce.services.cart.settings import CartSettings
from mce.services.frontend.app import create_app
from mce.services.frontend.settings import FrontendSettings
from tests.fakes.catalog import ADMIN_TOKEN, FakeCatalog
from tests.fakes.search import FakeSearch
from tests.inprocess import IN_PROCESS, ClientTransport

__all__ = ["ADMIN_TOKEN", "DownTransport", "FakeCatalog", "FakeSearch", "cart_service", "frontend_client"]

SESSION_SECRET = "test-session-secret-0123456789"


class DownTransport:
    """A backend that refuses every connection."""

    def __init__(self) -> None:
        self.attempts = 0

    async def send(self, method: str, url: str, **_: Any) -> Any:
        self.attempts += 1
        raise NotSent("connection refused")

    async def aclose(self) -> None:
        return None


@contextmanager
def cart_service(data_dir: Path, catalog: FakeCatalog) -> Iterator[ClientTransport]:
    """The real cart service on its embedded store, asking the fake catalog about products."""
    settings = CartSettings(data_dir=data_dir / "cart", **IN_PROCESS)
    with TestClient(create_cart_app(settings, product_transport=AsgiTransport(catalog.app()))) as client:
        yield ClientTransport(client)


def frontend_settings(data_dir: Path, **overrides: Any) -> FrontendSettings:
    """Settings of a frontend under test: its own data directory and fixed secrets."""
    settings = {"admin_token": ADMIN_TOKEN, "session_secret": SESSION_SECRET, **IN_PROCESS, **overrides}
    return FrontendSettings(data_dir=data_dir, **settings)


def frontend_client(
    data_dir: Path,
    catalog: FakeCatalog,
    *,
    search: FakeSearch | None = None,
    product_transport: Transport | None = None,
    search_transport: Transport | None = None,
    cart_transport: Transport | None = None,
    order_transport: Transport | None = None,
    analytics_transport: Transport | None = None,
    bus: EventBus | None = None,
    **overrides: Any,
) -> TestClient:
    """A test client for a frontend whose backends are the given fakes; no search means search is down."""
    app = create_app(
        frontend_settings(data_dir, **overrides),
        product_transport=product_transport or AsgiTransport(catalog.app()),
        search_transport=search_transport or (AsgiTransport(search.app()) if search is not None else DownTransport()),
        cart_transport=cart_transport or DownTransport(),
        order_transport=order_transport or DownTransport(),
        analytics_transport=analytics_transport or DownTransport(),
        bus=bus,
    )
    return TestClient(app)
