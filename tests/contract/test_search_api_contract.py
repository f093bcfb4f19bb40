"""The search API contract, written once and run against the real search service and the fake its callers test with.

Whatever the real service refuses the fake refuses the same way, so a caller tested against the fake cannot come
to rely on leniency the real service does not have.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.contracts import SearchResults
from mce.kit.http import HttpResponse, NotSent
from mce.services.search.app import create_app
from mce.services.search.domain import parse_product
from mce.services.search.index.opensearch import OpenSearchSearchIndex, connect
from mce.services.search.index.port import SearchIndex
from mce.services.search.index.tantivy import TantivySearchIndex
from mce.services.search.settings import SearchSettings
from tests.fakes.search import FakeSearch

IMPLEMENTATIONS = ["real", "opensearch", "fake"]


def product(id: int, name: str, price: str, category: str) -> dict[str, Any]:
    return {
        "id": id,
        "name": name,
        "description": f"A {name.lower()}.",
        "price": price,
        "stock": 4,
        "category": category,
        "image_url": None,
        "thumbnail_url": None,
        "created_at": "2026-11-25T10:00:00Z",
        "updated_at": "2026-11-25T10:00:00Z",
        "version": 1,
    }


CATALOGUE = [
    product(1, "Desk Lamp", "19.99", "Office"),
    product(2, "Floor Lamp", "20.00", "Home & Kitchen"),
    product(3, "Reading Lamp", "20.01", "Office"),
    product(4, "Yoga Mat", "25.00", "Sports & Outdoors"),
    product(5, "Coffee Grinder", "45.50", "Home & Kitchen"),
    product(6, "Fountain Pen", "120.00", "Office"),
    product(7, "Trail Tent", "249.99", "Sports & Outdoors"),
    product(8, "Cast Iron Skillet", "39.95", "Home & Kitchen"),
    product(9, "Jigsaw Puzzle", "14.49", "Toys & Games"),
    product(10, "Board Game", "29.00", "Toys & Games"),
    product(11, "Field Guide", "12.00", "Books"),
    product(12, "Atlas", "55.00", "Books"),
]
BY_ID = {item["id"]: item for item in CATALOGUE}


class ProductServiceDown:
    """The product service's transport when it is never needed: the real index is loaded before the app starts."""

    async def send(self, method: str, url: str, **_: Any) -> HttpResponse:
        raise NotSent("the contract suite loads the index itself")

    async def aclose(self) -> None:
        return None


def serve(index: SearchIndex, data_dir: Path) -> Iterator[TestClient]:
    """The search service on an index, holding the catalogue as a completed rebuild leaves it."""
    index.upsert([parse_product(item) for item in CATALOGUE])
    index.mark_complete()
    bus = SqliteEventBus(data_dir / "bus.db")
    app = create_app(SearchSettings(data_dir=data_dir), index=index, bus=bus, product_transport=ProductServiceDown())
    with TestClient(app) as client:
        deadline = time.monotonic() + 5
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.02)
        yield client
    bus.close()
    index.close()


def real_search(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[TestClient]:
    """The search service on its embedded tantivy index."""
    yield from serve(TantivySearchIndex(data_dir / "search-index"), data_dir)


def opensearch_search(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[TestClient]:
    """The search service on an OpenSearch index of its own, deleted afterwards."""
    endpoint = request.getfixturevalue("opensearch_endpoint")
    index = OpenSearchSearchIndex(connect(endpoint), f"test-api-{uuid.uuid4().hex[:12]}", refresh=True)
    try:
        yield from serve(index, data_dir)
    finally:
        client = connect(endpoint)
        client.indices.delete(index=index.name, ignore_unavailable=True)
        client.close()


def fake_search(request: pytest.FixtureRequest, _: Path) -> Iterator[TestClient]:
    """The fake over a products source holding the same catalogue."""
    with TestClient(FakeSearch(SimpleNamespace(products=dict(BY_ID))).app()) as client:
        yield client


BUILDERS: Mapping[str, Callable[[pytest.FixtureRequest, Path], Iterator[TestClient]]] = {
    "real": real_search,
    "opensearch": opensearch_search,
    "fake": fake_search,
}


class Services:
    """Each implementation started on first use (a test asking for one whose server is down skips alone), once."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.running: dict[str, tuple[Iterator[TestClient], TestClient]] = {}
        self.request: pytest.FixtureRequest | None = None

    def __getitem__(self, name: str) -> TestClient:
        if name not in self.running:
            assert self.request is not None
            generator = BUILDERS[name](self.request, self.tmp_path_factory.mktemp(name))
            self.running[name] = (generator, next(generator))
        return self.running[name][1]

    def stop(self) -> None:
        for generator, _ in self.running.values():
            next(generator, None)


@pytest.fixture(scope="module")
def services(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    running = Services(tmp_path_factory)
    running.request = request
    yield running
    running.stop()


@pytest.fixture(params=IMPLEMENTATIONS)
def api(request: pytest.FixtureRequest, services: Services) -> TestClient:
    # This test's request, so that a server that is down skips this test, not the module.
    services.request = request
    return services[request.param]


def ok(api: TestClient, **params: Any) -> dict[str, Any]:
    response = api.get("/search", params=params)
    assert response.status_code == 200, response.json()
    return response.json()


def ids(api: TestClient, **params: Any) -> set[int]:
    return {item["id"] for item in ok(api, limit=100, **params)["items"]}


def refused(api: TestClient, **params: Any) -> dict[str, Any]:
    response = api.get("/search", params=params)
    assert response.status_code == 422, response.json()
    assert response.headers["content-type"] == "application/json"
    return response.json()["error"]


def fields_blamed(error: dict[str, Any]) -> list[str]:
    assert error["code"] == "invalid"
    assert error["message"]
    assert all(set(detail) == {"field", "message"} and detail["message"] for detail in error["details"])
    return [detail["field"] for detail in error["details"]]


def test_an_answer_has_the_search_results_shape(api):
    body = ok(api, q="grinder")
    assert set(body) == {"items", "total", "facets", "limit", "offset", "hint"}
    SearchResults.model_validate(body)
    assert body == {
        "items": [BY_ID[5]],
        "total": 1,
        "facets": {"category": {"Home & Kitchen": 1}},
        "limit": 20,
        "offset": 0,
        "hint": None,
    }


def test_prices_are_answered_as_published_decimal_strings(api):
    assert {item["id"]: item["price"] for item in ok(api, q="lamp")["items"]} == {1: "19.99", 2: "20.00", 3: "20.01"}


def test_an_empty_query_lists_the_whole_catalogue_without_a_hint(api):
    body = ok(api, limit=100)
    assert (body["total"], body["hint"]) == (len(CATALOGUE), None)
    assert {item["id"] for item in body["items"]} == set(BY_ID)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 9901}, "offset"),
        ({"offset": "first"}, "offset"),
    ],
)
def test_the_page_size_and_offset_are_bounded(api, params, field):
    assert fields_blamed(refused(api, **params)) == [field]


def test_the_deepest_page_is_the_one_that_ends_at_the_ten_thousandth_result(api):
    body = ok(api, limit=100, offset=9900)
    assert (body["items"], body["total"], body["limit"], body["offset"]) == ([], len(CATALOGUE), 100, 9900)


def test_the_query_text_is_at_most_two_hundred_characters(api):
    assert ok(api, q="lamp " * 40)["total"] == 3
    assert fields_blamed(refused(api, q="lamp " * 40 + "x")) == ["q"]


def test_the_sort_must_be_a_known_order(api):
    assert fields_blamed(refused(api, sort="cheapest")) == ["sort"]
    assert fields_blamed(refused(api, sort="PRICE_ASC")) == ["sort"]


def test_the_category_is_at_most_sixty_four_characters_and_not_blank(api):
    assert fields_blamed(refused(api, category="x" * 65)) == ["category"]
    assert fields_blamed(refused(api, category="   ")) == ["category"]


def test_the_lowest_price_must_not_exceed_the_highest(api):
    error = refused(api, min_price="20.01", max_price="20.00")
    assert error["details"] == [{"field": "max_price", "message": "must not be less than min_price"}]


@pytest.mark.parametrize("price", ["1,50", "abc", "1.234", "-1", "1e2", "inf", " 5", "0x10"])
def test_a_price_bound_is_a_plain_decimal_with_at_most_two_decimals(api, price):
    assert fields_blamed(refused(api, min_price=price)) == ["min_price"]
    assert fields_blamed(refused(api, max_price=price)) == ["max_price"]


def test_every_bad_parameter_is_named_at_once(api):
    assert set(fields_blamed(refused(api, limit=0, offset=-1, sort="x", min_price="x"))) == {
        "limit",
        "offset",
        "sort",
        "min_price",
    }


def test_price_bounds_are_inclusive_and_exact_to_the_cent(api):
    assert ids(api, min_price="19.99", max_price="20.00") == {1, 2}
    assert ids(api, min_price="20", max_price="20.01") == {2, 3}
    assert ids(api, min_price="20.00", max_price="20.0") == {2}
    assert ids(api, q="lamp", max_price="19.98") == set()
    assert ids(api, min_price="249.99") == {7}


def test_blank_filters_mean_any(api):
    assert ids(api, q="lamp", category="", min_price="", max_price="") == {1, 2, 3}


def test_the_category_filter_is_exact_and_the_counts_ignore_it(api):
    body = ok(api, q="lamp", category="Office")
    assert {item["id"] for item in body["items"]} == {1, 3}
    assert body["total"] == 2
    assert body["facets"] == {"category": {"Office": 2, "Home & Kitchen": 1}}
    assert ids(api, q="lamp", category="office") == set()


def test_the_counts_honour_the_words_and_the_price_bounds(api):
    assert ok(api, max_price="20.00")["facets"] == {
        "category": {"Office": 1, "Home & Kitchen": 1, "Toys & Games": 1, "Books": 1}
    }


def test_pages_cover_every_match_once_with_the_same_total(api):
    pages = [ok(api, limit=5, offset=offset) for offset in (0, 5, 10)]
    assert [page["total"] for page in pages] == [len(CATALOGUE)] * 3
    assert [len(page["items"]) for page in pages] == [5, 5, 2]
    seen = [item["id"] for page in pages for item in page["items"]]
    assert sorted(seen) == sorted(BY_ID)
    assert ok(api, limit=5, offset=50)["items"] == []


def test_an_empty_query_lists_newest_first(api):
    assert [item["id"] for item in ok(api, limit=3)["items"]] == [12, 11, 10]


def test_results_sort_by_price_both_ways(api):
    by_price = sorted(CATALOGUE, key=lambda item: Decimal(item["price"]))
    assert [item["id"] for item in ok(api, sort="price_asc", limit=100)["items"]] == [p["id"] for p in by_price]
    assert [item["id"] for item in ok(api, sort="price_desc", limit=100)["items"]] == [p["id"] for p in by_price][::-1]


@pytest.mark.parametrize("q", ["the", "!!!", "\N{GRINNING FACE}", "a the of", "  of  "])
def test_a_query_of_only_stop_words_or_symbols_finds_nothing_and_says_what_to_try(api, q):
    for params in ({"q": q}, {"q": q, "category": "Office", "sort": "price_asc"}):
        body = ok(api, **params)
        assert (body["items"], body["total"], body["facets"]) == ([], 0, {"category": {}})
        assert isinstance(body["hint"], str) and body["hint"]


def test_stop_words_beside_real_words_are_ignored(api):
    assert ids(api, q="the lamp") == ids(api, q="lamp") == {1, 2, 3}


def test_an_unknown_route_is_a_404_with_the_error_body(api):
    response = api.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not Found", "details": []}}


def test_a_method_search_does_not_serve_is_a_405_naming_the_allowed_ones(api):
    response = api.post("/search", json={"q": "lamp"})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.json()["error"]["details"] == []
    assert {method.strip() for method in response.headers["allow"].split(",")} == {"GET", "HEAD"}


def test_head_answers_like_get_without_a_body(api):
    get, head = api.get("/search", params={"q": "lamp"}), api.head("/search", params={"q": "lamp"})
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == get.headers["content-type"] == "application/json"
    assert head.headers["content-length"] == get.headers["content-length"]
    assert api.head("/search", params={"limit": 0}).status_code == 422
    assert api.head("/healthz").status_code == 200


def test_a_content_length_that_is_not_a_number_is_a_400(api):
    response = api.get("/search", headers={"content-length": "many"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


BAD_REQUESTS = [
    {"limit": 0},
    {"offset": 10_000},
    {"q": "x" * 201},
    {"sort": "random"},
    {"min_price": "1,50"},
    {"max_price": "1.234"},
    {"min_price": "abc", "max_price": "-1"},
    {"min_price": "9", "max_price": "1"},
    {"category": "\t"},
]


def test_the_fake_refuses_exactly_what_the_real_service_refuses_with_the_same_body(services):
    for params in BAD_REQUESTS:
        real, fake = (services[name].get("/search", params=params) for name in ("real", "fake"))
        assert (fake.status_code, fake.json()) == (real.status_code, real.json()), params


def test_the_fake_records_every_call_as_sent_and_reads_its_source_live():
    source = SimpleNamespace(products={})
    fake = FakeSearch(source)
    with TestClient(fake.app()) as client:
        assert client.get("/search", params={"q": "lamp"}).json()["total"] == 0
        source.products[1] = BY_ID[1]
        assert client.get("/search", params={"q": "lamp"}).json()["total"] == 1
        client.head("/search", params={"limit": 0}, headers={"x-request-id": "req-1"})
        client.get("/healthz")
    assert [(call.method, call.path, call.params) for call in fake.calls] == [
        ("GET", "/search", {"q": "lamp"}),
        ("GET", "/search", {"q": "lamp"}),
        ("HEAD", "/search", {"limit": "0"}),
    ]
    assert fake.calls[-1].headers["x-request-id"] == "req-1"
    assert len(fake.calls_to("GET", "/search")) == 2
