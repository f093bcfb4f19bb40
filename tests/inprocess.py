"""Real services in this process, each behind its own TestClient, wired to one another as over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from starlette.concurrency import run_in_threadpool

from mce.kit.http import HttpResponse, Transport
from mce.services.cart.app import create_app as create_cart_app
from mce.services.cart.settings import CartSettings
from mce.services.order.app import create_app as create_order_app
from mce.services.order.payment import APPROVED_CARD
from mce.services.order.settings import OrderSettings
from mce.services.product.app import create_app as create_product_app
from mce.services.product.settings import ProductSettings

ADMIN_TOKEN = "test-admin-token-0123456789"
# Services in one test process share one interpreter: a busy thread of one delays the event loops of the others,
# which their load shedders would read as overload (503) on a loaded CI machine. Shedding has tests of its own.
IN_PROCESS = {"max_loop_lag_ms": 60_000}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


class ClientTransport:
    """Calls a real service app through a TestClient (its own loop and lifespan), from a worker thread."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def send(self, method: str, url: str, *, headers: Any, body: bytes | None, timeout: float) -> HttpResponse:
        answer = await run_in_threadpool(self.client.request, method, url, headers=dict(headers), content=body)
        return HttpResponse(answer.status_code, {k.lower(): v for k, v in answer.headers.items()}, answer.content)

    async def aclose(self) -> None:
        return None


def payment(card_number: str = APPROVED_CARD) -> dict[str, str]:
    """A card that passes every check, with the given number."""
    return {"card_number": card_number, "expiry": "12/39", "cvc": "123", "name": "Ada Lovelace"}


@dataclass
class Shop:
    """Product, cart and order services wired together, with the steps a shopper and staff take."""

    product: TestClient
    cart: TestClient
    order: TestClient
    data_dir: Path

    def add_product(self, name: str, *, price: str = "2.50", stock: int = 10) -> int:
        body = {"name": name, "price": price, "stock": stock, "category": "Office"}
        response = self.product.post("/products", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def stock(self, product_id: int) -> int:
        return self.product.get(f"/products/{product_id}").json()["stock"]

    def put_in_cart(self, owner: str, product_id: int, quantity: int = 1) -> None:
        response = self.cart.post(f"/carts/{owner}/items", json={"product_id": product_id, "quantity": quantity})
        assert response.status_code in (200, 201), response.text

    def checkout(self, owner: str, key: str, card_number: str = APPROVED_CARD, **headers: str) -> Any:
        body = {"owner": owner, "payment": payment(card_number), "shipping_address": ADDRESS}
        return self.order.post("/orders", json=body, headers={"Idempotency-Key": key, **headers})


@contextmanager
def shop(
    data_dir: Path, *, order_settings: dict[str, Any] | None = None, order_product: Transport | None = None
) -> Iterator[Shop]:
    """The real product, cart and order services on their embedded backends, each in its own data directory.

    `order_product` replaces the order service's way to product (e.g. with one that is down).
    """
    with ExitStack() as stack:
        product = stack.enter_context(
            TestClient(
                create_product_app(
                    ProductSettings(data_dir=data_dir / "product", admin_token=ADMIN_TOKEN, **IN_PROCESS)
                )
            )
        )
        product.post("/categories", json={"name": "Office"}, headers=ADMIN)
        cart_app = create_cart_app(
            CartSettings(data_dir=data_dir / "cart", **IN_PROCESS), product_transport=ClientTransport(product)
        )
        cart = stack.enter_context(TestClient(cart_app))
        settings = OrderSettings(
            data_dir=data_dir / "order", admin_token=ADMIN_TOKEN, **{**IN_PROCESS, **(order_settings or {})}
        )
        order_app = create_order_app(
            settings,
            cart_transport=ClientTransport(cart),
            product_transport=order_product or ClientTransport(product),
        )
        order = stack.enter_context(TestClient(order_app))
        yield Shop(product, cart, order, data_dir)
