"""A shopper in headless Chromium: browse a category, open a product, search with a typo."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.conftest import Platform, skip_or_fail

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = [
    "--no-sandbox",  # tests run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The machine has no internet: stop Chromium from trying to phone home.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (Playwright's own browser download is not used)."""
    executable = os.environ.get("MCE_CHROMIUM") or "/usr/bin/chromium"
    if not os.path.exists(executable):
        skip_or_fail(f"Chromium not found at {executable}; install it with deploy/local/chromium.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, platform: Platform) -> Iterator[object]:
    context = browser.new_context(base_url=platform.url())
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_shopper_browses_a_category_opens_a_product_and_searches_with_a_typo(page) -> None:
    page.goto("/")
    page.get_by_role("link", name="Electronics").first.click()
    page.wait_for_url("**/products?*category=Electronics*")
    cards = page.get_by_test_id("product-card")
    assert cards.count() > 0

    name = cards.first.get_by_test_id("product-name").inner_text()
    cards.first.get_by_test_id("product-name").click()
    page.wait_for_url("**/products/*")
    assert page.get_by_role("heading", level=1).inner_text() == name
    assert page.get_by_test_id("product-price").inner_text().startswith("$")

    page.get_by_test_id("search-input").fill("headphnes")
    page.get_by_test_id("search-input").press("Enter")
    page.wait_for_url("**/search?*q=headphnes*")
    results = page.get_by_test_id("product-name")
    assert results.count() > 0
    assert "Headphones" in results.first.inner_text()
    assert page.get_by_test_id("facet-category").count() >= 1


def test_an_admin_adds_a_category_and_a_product_in_it_that_shoppers_then_see(page, platform: Platform) -> None:
    page.goto("/admin")
    page.get_by_test_id("admin-token-input").fill(platform.admin_token)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url("**/admin")
    page.get_by_test_id("admin-categories-link").click()
    page.get_by_test_id("new-category-name").fill("Kites & Wind")
    page.get_by_test_id("add-category").click()
    assert "Category added: Kites & Wind." in page.get_by_test_id("flash").first.inner_text()

    page.goto("/admin/products/new")
    page.get_by_test_id("field-name").fill("Skylark Box Kite")
    page.get_by_test_id("field-price").fill("1,50")
    page.get_by_test_id("field-stock").fill("4")
    page.get_by_test_id("field-category").select_option("Kites & Wind")
    page.get_by_test_id("save-product").click()
    assert "Use a dot for cents" in page.get_by_test_id("error-price").inner_text()
    page.get_by_test_id("field-price").fill("24.50")
    page.get_by_test_id("save-product").click()
    page.wait_for_url("**/admin")
    assert "Product saved: Skylark Box Kite." in page.get_by_test_id("flash").first.inner_text()

    page.goto("/products?category=Kites+%26+Wind")
    card = page.get_by_test_id("product-card").first
    assert card.get_by_test_id("product-name").inner_text() == "Skylark Box Kite"
    assert card.get_by_test_id("product-price").inner_text() == "$24.50"


def _two_products_in_stock(platform: Platform) -> list[dict]:
    listed = httpx.get(f"{platform.url()}/api/products", params={"limit": 50}).json()["items"]
    return [item for item in listed if item["stock"] >= 3][:2]


def test_a_shopper_signs_up_checks_out_and_follows_the_order_that_staff_ship_and_deliver(
    browser, platform: Platform
) -> None:
    first, second = _two_products_in_stock(platform)
    shopper = browser.new_context(base_url=platform.url()).new_page()
    shopper.set_default_timeout(15_000)
    shopper.goto("/account/signup")
    shopper.get_by_test_id("signup-name").fill("Grace")
    shopper.get_by_test_id("signup-email").fill(f"grace-{first['id']}-{second['id']}@example.com")
    shopper.get_by_test_id("signup-password").fill("a long enough password")
    shopper.get_by_test_id("signup-submit").click()
    assert "Welcome, Grace!" in shopper.get_by_test_id("flash").first.inner_text()
    assert shopper.get_by_test_id("account-link").inner_text() == "Hi, Grace"

    for product, quantity in ((first, "2"), (second, "1")):
        shopper.goto(f"/products/{product['id']}")
        shopper.get_by_test_id("add-quantity").fill(quantity)
        shopper.get_by_test_id("add-to-cart").click()
        shopper.wait_for_url("**/cart")
    assert shopper.get_by_test_id("cart-line").count() == 2
    total = Decimal(first["price"]) * 2 + Decimal(second["price"])
    assert shopper.get_by_test_id("cart-total").inner_text() == f"${total:,.2f}"

    shopper.get_by_test_id("go-to-checkout").click()
    for field, value in (
        ("name", "Grace Hopper"),
        ("line1", "1 Navy Way"),
        ("city", "Arlington"),
        ("postal_code", "22202"),
        ("country", "US"),
        ("card_name", "Grace Hopper"),
        ("card_number", "4242 4242 4242 4242"),
        ("expiry", "12/39"),
        ("cvc", "123"),
    ):
        shopper.get_by_test_id(f"checkout-{field}").fill(value)
    shopper.get_by_test_id("place-order").click()
    shopper.wait_for_url("**/orders/*")
    assert "Thank you! Your order is placed and paid." in shopper.get_by_test_id("flash").first.inner_text()
    order_id = shopper.get_by_test_id("order-detail").get_attribute("data-order-id")
    assert shopper.get_by_test_id("order-total").inner_text() == f"${total:,.2f}"
    shopper.get_by_test_id("orders-link").click()
    assert shopper.locator(f'[data-testid="order-row"][data-order-id="{order_id}"]').count() == 1

    staff = browser.new_context(base_url=platform.url()).new_page()
    staff.set_default_timeout(15_000)
    staff.goto("/admin")
    staff.get_by_test_id("admin-token-input").fill(platform.admin_token)
    staff.get_by_test_id("login-submit").click()
    staff.wait_for_url("**/admin")
    staff.get_by_test_id("admin-orders-link").click()
    for move in ("shipped", "delivered"):
        row = staff.locator(f'[data-testid="admin-order-row"][data-order-id="{order_id}"]')
        row.get_by_test_id(f"move-{move}").click()
        staff.wait_for_url("**/admin/orders")
        assert f"Order {order_id} is {move}." in staff.get_by_test_id("flash").first.inner_text()

    shopper.goto(f"/orders/{order_id}")
    steps = shopper.get_by_test_id("timeline-step")
    assert [steps.nth(n).get_attribute("data-status") for n in range(steps.count())][-3:] == [
        "paid",
        "shipped",
        "delivered",
    ]
    assert shopper.get_by_test_id("order-status").text_content() == "delivered"
