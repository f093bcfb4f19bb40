"""The platform as `mce up` runs it: real processes, talking over HTTP and the embedded bus."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from mce.harness import READY_LINE, UP, platform_launch
from tests.conftest import Platform, start_platform

pytestmark = pytest.mark.e2e


def eventually(check: Callable[[], bool], timeout: float = 2.0) -> bool:
    """True as soon as check() is; False if it is not within the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def search_hits(client: httpx.Client, query: str) -> list[dict]:
    response = client.get("/api/search", params={"q": query})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_a_product_change_is_searchable_within_two_seconds(platform: Platform) -> None:
    admin = {"Authorization": f"Bearer {platform.admin_token}"}
    with httpx.Client(base_url=platform.url(), timeout=10) as client:
        created = client.post(
            "/api/products",
            json={
                "name": "Zephyrine Teapot",
                "description": "Cast iron",
                "price": 31.5,
                "stock": 4,
                "category": "Home & Kitchen",
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        product_id = created.json()["id"]

        def found_with_price(price: str) -> Callable[[], bool]:
            return lambda: any(h["id"] == product_id and h["price"] == price for h in search_hits(client, "zephyrine"))

        assert eventually(found_with_price("31.50")), "new product not searchable within 2 s"

        updated = client.put(f"/api/products/{product_id}", json={"price": "27.25"}, headers=admin)
        assert updated.status_code == 200, updated.text
        assert eventually(found_with_price("27.25")), "new price not in search within 2 s"

        assert client.delete(f"/api/products/{product_id}", headers=admin).status_code == 204
        assert eventually(lambda: not search_hits(client, "zephyrine")), "deleted product still in search after 2 s"
        assert client.get(f"/api/products/{product_id}").status_code == 404


def test_the_seeded_catalog_is_browsable_and_searchable(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url(), timeout=10) as client:
        page = client.get("/api/products", params={"limit": 5}).json()
        assert page["total"] >= 200 and len(page["items"]) == 5
        categories = client.get("/api/categories").json()["items"]
        assert len(categories) >= 8
        results = client.get("/api/search", params={"q": "headphnes"}).json()
        assert results["total"] >= 1 and "Headphones" in results["items"][0]["name"]
        assert sum(results["facets"]["category"].values()) == results["total"]


def test_every_service_is_ready_and_serves_metrics(platform: Platform) -> None:
    for service in platform.ports:
        assert httpx.get(f"{platform.url(service)}/readyz", timeout=10).status_code == 200, service
        assert "http_requests_total" in httpx.get(platform.metrics_url(service), timeout=10).text, service


def test_shoppers_port_does_not_serve_metrics(platform: Platform) -> None:
    assert platform.metrics_url("frontend") != f"{platform.url('frontend')}/metrics"
    assert httpx.get(f"{platform.url('frontend')}/metrics", timeout=10).status_code == 404


def test_a_request_id_follows_a_request_through_the_services(platform: Platform) -> None:
    # no-cache: the gateway must call the product service, not answer from its catalog cache.
    headers = {"X-Request-ID": "trace-me-42", "Cache-Control": "no-cache"}
    with httpx.Client(base_url=platform.url(), timeout=10) as client:
        response = client.get("/api/products", params={"limit": 1}, headers=headers)
    assert response.headers["x-request-id"] == "trace-me-42"
    product_log = platform.data_dir / "logs" / "product.log"
    assert eventually(lambda: "trace-me-42" in product_log.read_text()), product_log.read_text()[-500:]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_up_restarts_a_crashed_service_and_ctrl_c_stops_everything(tmp_path) -> None:
    running = start_platform(tmp_path, seed=20)
    try:
        search_port = running.ports["search"]
        subprocess.run(["pkill", "-9", "-f", f"mce serve search --port {search_port}"], check=True)
        assert eventually(lambda: any("search exited with code" in line for line in running.output), 10)
        assert eventually(
            lambda: (
                httpx.get(f"{running.url('search')}/readyz").status_code == 200 if _listening(search_port) else False
            ),
            60,
        )
    finally:
        code = running.stop()
    assert code == 0
    assert not any(_listening(port) for port in running.ports.values())
    assert any("stopped" in line for line in running.output)


def test_closing_the_terminal_stops_every_service_even_when_its_output_is_gone(tmp_path) -> None:
    launch = platform_launch(tmp_path, seed=20)
    up = subprocess.Popen(UP, env=launch.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in up.stdout:
            if READY_LINE in line:
                break
        assert all(_listening(port) for port in launch.ports.values())
        # Whoever read `mce up`'s output has gone (a closed terminal): its next line cannot be written, and the
        # terminal's hang-up asks it to stop.
        up.stdout.close()
        up.send_signal(signal.SIGHUP)
        assert up.wait(30) == 0
    finally:
        if up.poll() is None:
            up.kill()
    assert eventually(lambda: not any(_listening(port) for port in launch.ports.values()), 10)


def test_data_survives_a_restart(tmp_path) -> None:
    first = start_platform(tmp_path, seed=20)
    try:
        token = first.admin_token
        created = httpx.post(
            f"{first.url()}/api/products",
            json={"name": "Keeper", "price": "1.00", "stock": 1, "category": "Office"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    finally:
        first.stop()
    second = start_platform(tmp_path, seed=20)
    try:
        assert second.admin_token == token
        assert httpx.get(f"{second.url()}/api/products/{created['id']}").json()["name"] == "Keeper"
        assert httpx.get(f"{second.url()}/api/products").json()["total"] == 21
    finally:
        second.stop()


@pytest.mark.parametrize(
    ("query", "in_the_name"),
    [("tshirt", "T-Shirt"), ("t shirt", "T-Shirt"), ("t-shirt", "T-Shirt"), ("head phones", "Headphones")],
)
def test_shoppers_find_compound_words_however_they_write_them(platform: Platform, query: str, in_the_name: str) -> None:
    with httpx.Client(base_url=platform.url(), timeout=10) as client:
        results = client.get("/api/search", params={"q": query}).json()
    assert results["total"] >= 1, query
    assert in_the_name in results["items"][0]["name"], (query, results["items"][0]["name"])


def test_a_category_name_finds_the_products_in_that_category(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url(), timeout=10) as client:
        everything = {c["name"]: c["count"] for c in client.get("/api/categories").json()["items"]}
        results = client.get("/api/search", params={"q": "kitchen"}).json()
    assert results["facets"]["category"]["Home & Kitchen"] == everything["Home & Kitchen"]


@pytest.mark.parametrize("query", ["the", "!!!", "🙂", "a the of"])
def test_a_query_with_nothing_to_search_for_finds_nothing_and_says_why(platform: Platform, query: str) -> None:
    with httpx.Client(base_url=platform.url(), timeout=10) as client:
        results = client.get("/api/search", params={"q": query}).json()
    assert results["total"] == 0 and results["items"] == [] and results["hint"]


def test_a_renamed_category_is_followed_by_the_catalog_and_search(platform: Platform) -> None:
    admin = {"Authorization": f"Bearer {platform.admin_token}"}
    with httpx.Client(base_url=platform.url(), timeout=10) as client:
        category = client.post("/api/categories", json={"name": "Lanterns"}, headers=admin)
        assert category.status_code == 201, category.text
        assert client.post("/api/categories", json={"name": "lanterns"}, headers=admin).status_code == 409
        typo = {"name": "Quillon Lantern", "price": "12.00", "stock": 3, "category": "Lantrens"}
        assert client.post("/api/products", json=typo, headers=admin).status_code == 422
        product = client.post("/api/products", json={**typo, "category": "Lanterns"}, headers=admin).json()
        renamed = client.put(f"/api/categories/{category.json()['id']}", json={"name": "Camp Lights"}, headers=admin)
        assert renamed.status_code == 200
        assert client.get(f"/api/products/{product['id']}").json()["category"] == "Camp Lights"
        assert eventually(
            lambda: any(
                h["id"] == product["id"] and h["category"] == "Camp Lights" for h in search_hits(client, "camp")
            )
        ), "the renamed category is not searchable within 2 s"


def test_an_admin_write_retried_with_its_idempotency_key_applies_once(platform: Platform) -> None:
    keyed = {"Authorization": f"Bearer {platform.admin_token}", "Idempotency-Key": "e2e-retry-1"}
    body = {"name": "Once Only Candle", "price": "4.50", "stock": 1, "category": "Home & Kitchen"}
    with httpx.Client(base_url=platform.url(), timeout=10) as client:
        first = client.post("/api/products", json=body, headers=keyed)
        again = client.post("/api/products", json=body, headers=keyed)
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"]
        assert again.headers["idempotent-replayed"] == "true"
        listed = client.get(
            "/api/products", params={"limit": 100, "sort": "newest"}, headers={"Cache-Control": "no-cache"}
        )
    assert [p["name"] for p in listed.json()["items"]].count("Once Only Candle") == 1


def test_a_shopper_fills_a_cart_through_the_real_services(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url(), timeout=10) as shopper:
        listed = shopper.get("/api/products", params={"limit": 50}).json()["items"]
        product = next(item for item in listed if item["stock"] >= 2)
        added = shopper.post("/api/cart/items", json={"product_id": product["id"], "quantity": 2})
        assert added.status_code == 201, added.text
        cart = shopper.get("/api/cart").json()
    assert [(line["product_id"], line["quantity"], line["price"]) for line in cart["items"]] == [
        (product["id"], 2, product["price"])
    ]
    assert Decimal(cart["total"]) == 2 * Decimal(product["price"])
    assert httpx.get(f"{platform.url('cart')}/readyz").json()["status"] == "ready"


def test_a_shopper_signs_up_checks_out_once_and_staff_deliver_the_order(platform: Platform) -> None:
    check_out_and_deliver(platform)


def check_out_and_deliver(platform: Platform) -> dict:
    """A new shopper buys two of a product once (a retried request included), staff ship and deliver it; the order."""
    checkout = {
        "payment": {"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123", "name": "Ada Lovelace"},
        "shipping_address": {
            "name": "Ada Lovelace",
            "line1": "12 St James's Square",
            "city": "London",
            "postal_code": "SW1Y 4JH",
            "country": "GB",
        },
    }
    staff = {"Authorization": f"Bearer {platform.admin_token}"}
    with httpx.Client(base_url=platform.url(), timeout=30) as shopper:
        # A product of its own, so that other tests' purchases never change its stock under this one.
        stamp = time.time_ns()
        email = f"ada-{stamp}@example.com"
        body = {"name": f"Brass Lamp {stamp}", "price": "12.50", "stock": 3, "category": "Home & Kitchen"}
        product = httpx.post(f"{platform.url()}/api/products", json=body, headers=staff, timeout=10).json()
        signed_up = shopper.post("/api/accounts", json={"email": email, "password": "a long passphrase", "name": "Ada"})
        assert signed_up.status_code == 201, signed_up.text
        added = shopper.post("/api/cart/items", json={"product_id": product["id"], "quantity": 2})
        assert added.status_code == 201, added.text
        placed = shopper.post("/api/orders", json=checkout, headers={"Idempotency-Key": f"e2e-{email}"})
        assert placed.status_code == 201, placed.text
        replayed = shopper.post("/api/orders", json=checkout, headers={"Idempotency-Key": f"e2e-{email}"})
        order = placed.json()
        assert replayed.json()["id"] == order["id"]
        assert order["status"] == "paid" and Decimal(order["total_amount"]) == 2 * Decimal(product["price"])
        assert shopper.get("/api/cart").json()["items"] == []
        assert shopper.get(f"/api/products/{product['id']}").json()["stock"] == product["stock"] - 2
        for status in ("shipped", "delivered"):
            moved = httpx.post(
                f"{platform.url()}/api/orders/{order['id']}/status", json={"status": status}, headers=staff
            )
            assert moved.status_code == 200, moved.text
        followed = shopper.get(f"/api/orders/{order['id']}").json()
        mine = shopper.get("/api/orders").json()["items"]
    assert [step["status"] for step in followed["history"]] == ["created", "paid", "shipped", "delivered"]
    assert [item["id"] for item in mine] == [order["id"]]
    return followed
