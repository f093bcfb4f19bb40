"""A shopper in headless Chromium: browse a category, open a product, search with a typo."""

from __future__ import annotations

import os
from collections.abc import Iterator

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
