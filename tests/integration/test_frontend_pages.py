"""The storefront pages, rendered over fake product and search services."""

import asyncio
import re
import time

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from frontend_fakes import DownTransport, FakeCatalog, FakeSearch, frontend_client

from mce.kit.http import AsgiTransport, NotSent, SendFailed


def cards(html: str) -> int:
    return html.count('data-testid="product-card"')


def names(html: str) -> list[str]:
    return re.findall(r'data-testid="product-name">([^<]*)<', html)


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    for number in range(1, 31):
        catalog.add(f"Lamp {number}", price=10.0 + number, stock=20, category="Home" if number % 3 else "Books")
    return catalog


@pytest.fixture
def search(catalog: FakeCatalog) -> FakeSearch:
    return FakeSearch(catalog)


@pytest.fixture
def client(tmp_path, catalog, search):
    with frontend_client(tmp_path, catalog, search=search) as client:
        yield client


def test_home_shows_category_tiles_with_counts(client):
    html = client.get("/").text
    assert html.count('data-testid="category-tile"') == 2
    assert 'href="/products?category=Books"' in html
    assert "10 products" in html and "20 products" in html


def test_home_shows_the_newest_products_first(client):
    html = client.get("/").text
    assert names(html) == [f"Lamp {number}" for number in range(30, 22, -1)]


def test_the_header_has_the_search_box_and_category_nav(client):
    html = client.get("/").text
    assert 'data-testid="search-input"' in html
    assert html.count('data-testid="nav-category"') == 2


def test_browsing_sets_no_cookie_and_stores_no_session(client):
    for path in ("/", "/products", "/products/1", "/search?q=lamp"):
        assert "set-cookie" not in client.get(path).headers, path


def test_the_api_sets_no_session_cookie(client):
    assert "set-cookie" not in client.get("/api/categories").headers


def test_pages_carry_security_headers(client):
    headers = client.get("/").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_listing_shows_24_products_and_links_to_the_next_page(client, catalog):
    html = client.get("/products").text
    assert cards(html) == 24
    assert 'data-testid="pagination"' in html
    assert 'href="/products?page=2"' in html
    assert "30 products" in html
    (call,) = catalog.calls_to("GET", "/products")
    assert call.params == {"limit": "24", "offset": "0", "sort": "newest"}


def test_the_second_page_has_the_rest(client, catalog):
    html = client.get("/products", params={"page": 2}).text
    assert cards(html) == 6
    assert catalog.calls_to("GET", "/products")[0].params["offset"] == "24"
    assert 'rel="prev" href="/products"' in html


def test_listing_filters_by_category_and_sorts(client, catalog):
    html = client.get("/products", params={"category": "Books", "sort": "price_desc"}).text
    assert names(html)[:2] == ["Lamp 30", "Lamp 27"]
    assert "10 products" in html
    assert '<option value="price_desc" selected>' in html
    assert 'data-testid="pagination"' not in html


def test_listing_reads_bad_parameters_leniently(client, catalog):
    response = client.get("/products", params={"page": "abc", "sort": "cheapest"})
    assert response.status_code == 200
    assert catalog.calls_to("GET", "/products")[0].params == {"limit": "24", "offset": "0", "sort": "newest"}


def test_product_page_shows_the_product(tmp_path):
    catalog = FakeCatalog()
    catalog.add("Desk Lamp", price=59.99, stock=3, category="Home & Kitchen", description="Warm light.")
    with frontend_client(tmp_path, catalog) as client:
        html = client.get("/products/1").text
    assert '<h1 data-testid="product-name">Desk Lamp</h1>' in html
    assert 'data-testid="product-price">$59.99<' in html
    assert "Only 3 left" in html
    assert "Warm light." in html
    assert 'href="/products?category=Home+%26+Kitchen"' in html
    assert 'data-testid="image-placeholder"' in html


def test_product_page_shows_the_image_when_there_is_one(tmp_path):
    catalog = FakeCatalog()
    catalog.add("Mug", stock=0, image_url="https://img.example/mug.jpg")
    with frontend_client(tmp_path, catalog) as client:
        html = client.get("/products/1").text
    assert 'src="https://img.example/mug.jpg"' in html
    assert "Out of stock" in html


def test_well_stocked_products_are_in_stock(client):
    assert "In stock" in client.get("/products/1").text


@pytest.mark.parametrize("path", ["/products/999", "/products/abc", "/no-such-page"])
def test_unknown_pages_get_the_404_page(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert 'data-testid="error-page"' in response.text
    assert "We couldn&#39;t find that" in response.text


def test_a_catalog_outage_gets_a_friendly_503_page(tmp_path, catalog, search):
    with frontend_client(tmp_path, catalog, search=search, product_transport=DownTransport()) as client:
        response = client.get("/")
    assert response.status_code == 503
    assert "We&#39;ll be right back" in response.text


def test_search_shows_the_result_count_and_results(client):
    html = client.get("/search", params={"q": "lamp 2"}).text
    assert re.search(r'data-testid="result-count">\s*12 results', html)
    assert cards(html) == 12
    assert 'value="lamp 2"' in html


def test_search_facets_link_to_their_category_keeping_other_filters(client):
    html = client.get("/search", params={"q": "lamp", "min_price": "15", "sort": "price_asc"}).text
    assert html.count('data-testid="facet-category"') == 2
    assert 'href="/search?q=lamp&amp;category=Books&amp;min_price=15&amp;sort=price_asc"' in html
    home_facet = r'data-category="Home"\s*>\s*<span>Home</span> <span class="count" data-testid="facet-count">17<'
    assert re.search(home_facet, html)


def test_search_forwards_the_filters_and_page(client, search):
    params = {"q": "lamp", "category": "Home", "min_price": "12", "max_price": "", "sort": "price_desc", "page": "2"}
    client.get("/search", params=params)
    (call,) = search.calls
    assert call.params == {
        "q": "lamp",
        "category": "Home",
        "min_price": "12.00",
        "sort": "price_desc",
        "limit": "24",
        "offset": "24",
    }


def test_search_paginates_24_at_a_time(client):
    html = client.get("/search", params={"q": "lamp"}).text
    assert cards(html) == 24
    assert 'href="/search?q=lamp&amp;page=2"' in html


def test_search_without_matches_says_so(client):
    html = client.get("/search", params={"q": "zeppelin"}).text
    assert 'data-testid="no-results"' in html
    assert "No products match &ldquo;zeppelin&rdquo;" in html


def test_an_empty_search_asks_what_to_look_for_without_calling_search(client, search):
    html = client.get("/search", params={"q": "  "}).text
    assert 'data-testid="search-prompt"' in html
    assert search.calls == []


def test_search_down_shows_a_message_and_the_rest_of_the_shop_works(tmp_path, catalog):
    down = DownTransport()
    with frontend_client(tmp_path, catalog, search_transport=down) as client:
        for path in ("/", "/products", "/products/1"):
            assert client.get(path).status_code == 200
        assert down.attempts == 0
        response = client.get("/search", params={"q": "lamp"})
    assert response.status_code == 503
    assert 'data-testid="search-unavailable"' in response.text
    assert "Search is unavailable right now" in response.text
    assert 'data-testid="category-nav"' in response.text


def test_the_stylesheet_is_served(client):
    response = client.get("/static/shop.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "path",
    [
        "/search?q=a&min_price=10&max_price=1",
        "/search?q=a&page=418",
        "/search?q=a&min_price=1,50",
        "/products?page=99999",
    ],
)
def test_odd_page_parameters_never_cost_a_5xx(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.text


def test_an_impossible_product_id_is_the_friendly_404_page(client, catalog):
    response = client.get("/products/3000000000")
    assert response.status_code == 404 and 'data-testid="error-page"' in response.text
    assert catalog.calls_to("GET", "/products/3000000000") == []


def test_a_reversed_price_range_is_read_as_the_range_between(client, search):
    client.get("/search", params={"q": "lamp", "min_price": "30", "max_price": "12"})
    (call,) = search.calls
    assert (call.params["min_price"], call.params["max_price"]) == ("12.00", "30.00")


def test_a_backends_refusal_is_a_friendly_page_with_its_status(tmp_path, catalog):
    refusing = FastAPI()

    @refusing.get("/search")
    async def refuse() -> JSONResponse:
        return JSONResponse({"error": {"code": "invalid", "message": "no", "details": []}}, status_code=422)

    with frontend_client(tmp_path, catalog, search_transport=AsgiTransport(refusing)) as client:
        response = client.get("/search", params={"q": "lamp"})
    assert response.status_code == 422 and 'data-testid="error-page"' in response.text


def test_the_header_categories_are_fetched_once_for_many_pages(client, catalog):
    for path in ("/", "/products", "/products/1", "/search?q=lamp", "/"):
        client.get(path)
    assert len(catalog.calls_to("GET", "/categories")) == 1


def test_the_header_categories_are_kept_while_the_catalog_is_down(tmp_path, catalog, search):
    flaky = FlakyTransport(AsgiTransport(catalog.app()))
    with frontend_client(tmp_path, catalog, search=search, product_transport=flaky, category_cache_ttl=0) as client:
        assert 'data-testid="nav-category"' in client.get("/search").text
        flaky.down = True
        page = client.get("/search")
    assert page.status_code == 200 and 'data-testid="nav-category"' in page.text


class FlakyTransport:
    """A transport that can be switched off, as a backend going down."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.down = False

    async def send(self, method, url, **kwargs):
        if self.down:
            raise NotSent("connection refused")
        return await self.inner.send(method, url, **kwargs)

    async def aclose(self) -> None:
        return None


class FrozenTransport:
    """A backend that accepts the request and never answers; it notes each try's timeout and deadline."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []
        self.deadlines: list[float] = []

    async def send(self, method, url, *, timeout, **kwargs):
        self.timeouts.append(timeout)
        self.deadlines.append(time.monotonic() + timeout)
        await asyncio.sleep(timeout)
        raise SendFailed("timed out")

    async def aclose(self) -> None:
        return None


def test_a_frozen_catalog_makes_a_page_wait_its_budget_once_not_per_try(tmp_path, catalog, search):
    frozen = FrozenTransport()
    with frontend_client(tmp_path, catalog, search=search, product_transport=frozen, http_timeout=0.5) as client:
        started = time.monotonic()
        response = client.get("/products")
        waited = time.monotonic() - started
    assert response.status_code == 503
    # Every try (and every call made at once) ends at the page's one deadline: a budget per try would move each
    # retry's deadline later. Read from the transport, so a busy machine cannot fail it; the wall clock only guards
    # against a wait outside the transport, with room for a loaded machine.
    assert frozen.timeouts and max(frozen.timeouts) <= 0.5, frozen.timeouts
    assert max(frozen.deadlines) - min(frozen.deadlines) < 0.05, frozen.deadlines
    assert waited < 1.5 + 1.0, waited


class CrashingTransport:
    """A client library failing in a way nobody handles."""

    async def send(self, method, url, **kwargs):
        raise RuntimeError("bug in a backend client")

    async def aclose(self) -> None:
        return None


def test_an_unexpected_error_is_a_500_page_carrying_the_request_id_that_its_log_line_has(tmp_path, catalog, caplog):
    with frontend_client(tmp_path, catalog, product_transport=CrashingTransport()) as client:
        response = client.get("/products", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500 and 'data-testid="error-page"' in response.text
    assert response.headers["x-request-id"] == "trace-500"
    (record,) = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert record.request_id == "trace-500" and record.exc_info


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    assert 'rel="icon"' in client.get("/").text


def test_a_catalog_answering_nonsense_for_categories_costs_the_header_not_the_page(tmp_path, catalog):
    odd = FastAPI()
    real = catalog.app()

    @odd.get("/categories")
    async def nonsense() -> JSONResponse:
        return JSONResponse({"unexpected": True})

    async def route(scope, receive, send):
        target = odd if scope.get("path") == "/categories" else real
        await target(scope, receive, send)

    with frontend_client(tmp_path, catalog, product_transport=AsgiTransport(route)) as client:
        page = client.get("/products")
    assert page.status_code == 200 and 'data-testid="nav-category"' not in page.text
