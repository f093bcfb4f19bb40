"""The search service end to end in-process: real app, real SQLite bus, real tantivy index, a fake product service."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from fastapi.testclient import TestClient

from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.events import Event
from mce.kit.http import HttpResponse, NotSent
from mce.services.search.analysis import NOTHING_TO_SEARCH_HINT
from mce.services.search.app import create_app
from mce.services.search.index.tantivy import TantivySearchIndex
from mce.services.search.settings import SearchSettings

T = TypeVar("T")


def product(
    id: int, name: str, price: str = "10.00", category: str = "Electronics", version: int = 1
) -> dict[str, Any]:
    return {
        "id": id,
        "name": name,
        "description": f"A fine {name.lower()}.",
        "price": price,
        "stock": 3,
        "category": category,
        "image_url": None,
        "thumbnail_url": None,
        "created_at": "2026-11-25T10:00:00Z",
        "updated_at": "2026-11-25T10:00:00Z",
        "version": version,
    }


class FakeProductService:
    """GET /products like the product service, as a transport for the search service's client; it can be down."""

    def __init__(
        self, products: list[dict[str, Any]] | None = None, *, down: bool = False, pages_before_outage: int = -1
    ) -> None:
        self.products = products or []
        self.down = down
        self.pages_before_outage = pages_before_outage
        self.calls = 0

    async def send(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HttpResponse:
        self.calls += 1
        self.down = self.down or self.pages_before_outage == 0
        self.pages_before_outage -= 1
        if self.down:
            raise NotSent("connection refused")
        parts = urlsplit(url)
        params = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        assert (method, parts.path, params["sort"]) == ("GET", "/products", "id")
        limit, after_id = int(params["limit"]), int(params["after_id"])
        items = sorted((p for p in self.products if p["id"] > after_id), key=lambda p: p["id"])[:limit]
        page = {"items": items, "total": len(self.products), "limit": limit, "offset": 0}
        return HttpResponse(200, {"content-type": "application/json"}, orjson.dumps(page))

    async def aclose(self) -> None:
        return None


def eventually(check: Callable[[], T], timeout: float = 3.0) -> T:
    """The check's result as soon as its assertions hold, failing with its last assertion after the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[SqliteEventBus]:
    event_bus = SqliteEventBus(tmp_path / "bus.db")
    yield event_bus
    event_bus.close()


@pytest.fixture
def catalogue() -> FakeProductService:
    return FakeProductService()


def start_search(data_dir: Path, bus: SqliteEventBus, catalogue: FakeProductService, **settings: Any) -> TestClient:
    app = create_app(SearchSettings(data_dir=data_dir, **settings), bus=bus, product_transport=catalogue)
    return TestClient(app)


@pytest.fixture
def client(tmp_path: Path, bus: SqliteEventBus, catalogue: FakeProductService) -> Iterator[TestClient]:
    with start_search(tmp_path, bus, catalogue) as test_client:
        eventually(lambda: ready(test_client))
        yield test_client


@pytest.fixture(scope="module")
def idle_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One running service for tests that only read, so each does not pay for a start and a stop."""
    data_dir = tmp_path_factory.mktemp("idle-search")
    event_bus = SqliteEventBus(data_dir / "bus.db")
    with start_search(data_dir, event_bus, FakeProductService([product(1, "Yoga Mat")])) as test_client:
        eventually(lambda: ready(test_client))
        yield test_client
    event_bus.close()


def ready(client: TestClient) -> dict[str, Any]:
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    return response.json()


def found(client: TestClient, expected_total: int, **params: Any) -> dict[str, Any]:
    response = client.get("/search", params=params)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["total"] == expected_total, body
    return body


def rebuild_progress(client: TestClient, *, indexed: int) -> None:
    assert client.get("/stats").json()["rebuild"]["indexed"] == indexed


def events_handled(client: TestClient, expected: int) -> None:
    assert client.get("/stats").json()["consumer"]["handled"] == expected


def publish(bus: SqliteEventBus, kind: str, data: dict[str, Any]) -> None:
    bus.publish("products", [Event(type=kind, key=str(data["id"]), data=data)])


def test_a_published_product_becomes_searchable_with_its_price_exactly_as_published(client, bus):
    publish(bus, "ProductCreated", product(42, "Wireless Headphones", "59.90"))
    body = eventually(lambda: found(client, 1, q="headphnes"))
    assert body == {
        "items": [product(42, "Wireless Headphones", "59.90")],
        "total": 1,
        "facets": {"category": {"Electronics": 1}},
        "limit": 20,
        "offset": 0,
        "hint": None,
    }


def test_an_updated_product_is_replaced_and_a_deleted_one_vanishes(client, bus):
    publish(bus, "ProductCreated", product(42, "Wireless Headphones", "59.99"))
    publish(bus, "ProductUpdated", product(42, "Wireless Headphones Pro", "79.99", version=2))
    body = eventually(lambda: found(client, 1, q="headphones pro"))
    assert body["items"][0]["price"] == "79.99"

    publish(bus, "ProductDeleted", {"id": 42, "version": 3})
    eventually(lambda: found(client, 0, q="headphones"))


def test_replayed_and_stale_events_change_nothing(client, bus):
    publish(bus, "ProductCreated", product(1, "Desk Lamp", "20.00"))
    publish(bus, "ProductUpdated", product(1, "Desk Lamp", "25.00", version=2))
    publish(bus, "ProductCreated", product(1, "Desk Lamp", "20.00"))
    publish(bus, "ProductUpdated", product(1, "Desk Lamp", "25.00", version=2))
    publish(bus, "ProductCreated", product(2, "Floor Lamp", "90.00"))

    body = eventually(lambda: found(client, 2, q="lamp", sort="price_asc"))
    assert [(item["id"], item["price"]) for item in body["items"]] == [(1, "25.00"), (2, "90.00")]


def test_price_bounds_are_exact_and_inclusive(client, bus):
    for number, price in enumerate(["19.99", "20.00", "20.01"], start=1):
        publish(bus, "ProductCreated", product(number, f"Mug {number}", price))
    eventually(lambda: found(client, 3, q="mug"))
    assert [
        item["price"] for item in found(client, 2, min_price="19.99", max_price="20", sort="price_asc")["items"]
    ] == [
        "19.99",
        "20.00",
    ]


def test_a_malformed_event_is_dead_lettered_and_later_events_still_apply(client, bus):
    publish(bus, "ProductCreated", {"id": 7, "name": "No Price"})
    publish(bus, "ProductCreated", product(8, "Coffee Grinder"))

    eventually(lambda: found(client, 1, q="grinder"), timeout=5.0)
    subscription = bus.subscribe("products.dlq", "test")
    parked = subscription.poll(10, timeout=1.0)
    subscription.close()
    assert [d.event.data["event"]["data"]["id"] for d in parked] == [7]


def test_an_empty_index_is_rebuilt_from_the_product_service(tmp_path, bus):
    gadgets = [
        product(i, f"Gadget {i}", price=f"{i}.00", category="Even" if i % 2 == 0 else "Odd") for i in range(1, 251)
    ]
    catalogue = FakeProductService(gadgets)
    with start_search(tmp_path, bus, catalogue) as client:
        eventually(lambda: ready(client))
        body = found(client, 250, q="gadget", limit=5)
        assert body["facets"] == {"category": {"Even": 125, "Odd": 125}}
        rebuild = client.get("/stats").json()["rebuild"]
        assert rebuild == {"state": "finished", "indexed": 250, "total": 250, "error": None}


def test_readyz_is_503_while_the_product_service_is_down_and_200_once_the_rebuild_is_done(tmp_path, bus):
    catalogue = FakeProductService([product(1, "Yoga Mat"), product(2, "Running Shoes")], down=True)
    with start_search(tmp_path, bus, catalogue) as client:

        def not_ready_waiting_for_products() -> dict[str, Any]:
            response = client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert "waiting for the product service" in body["checks"]["rebuild"]
            return body

        body = eventually(not_ready_waiting_for_products)
        assert (body["status"], body["checks"]["index"], body["checks"]["bus"]) == ("not_ready", "ok", "ok")

        catalogue.down = False
        eventually(lambda: ready(client), timeout=15.0)
        found(client, 2)


def test_a_deletion_that_arrives_during_the_rebuild_is_not_undone_by_it(tmp_path, bus):
    catalogue = FakeProductService([product(1, "Yoga Mat"), product(2, "Running Shoes")], down=True)
    with start_search(tmp_path, bus, catalogue) as client:
        publish(bus, "ProductDeleted", {"id": 1, "version": 2})
        eventually(lambda: events_handled(client, 1))
        catalogue.down = False
        eventually(lambda: ready(client), timeout=15.0)
        body = found(client, 1)
        assert [item["id"] for item in body["items"]] == [2]


def test_an_index_that_holds_the_whole_catalogue_is_not_loaded_again(tmp_path, bus):
    catalogue = FakeProductService([product(1, "Yoga Mat")])
    with start_search(tmp_path, bus, catalogue) as client:
        eventually(lambda: ready(client))
    calls_for_first_rebuild = catalogue.calls

    with start_search(tmp_path, bus, catalogue) as client:
        eventually(lambda: ready(client))
        found(client, 1, q="yoga")
    assert catalogue.calls == calls_for_first_rebuild


def test_a_rebuild_cut_short_by_a_restart_runs_again_at_the_next_start(tmp_path, bus):
    gadgets = [product(i, f"Gadget {i}") for i in range(1, 251)]
    catalogue = FakeProductService(gadgets, pages_before_outage=1)
    with start_search(tmp_path, bus, catalogue) as client:
        eventually(lambda: rebuild_progress(client, indexed=100))
        found(client, 100)

    catalogue.down = False
    with start_search(tmp_path, bus, catalogue) as client:
        eventually(lambda: ready(client))
        found(client, 250)


def test_each_replica_follows_every_product_event_with_a_consumer_group_of_its_own(tmp_path, bus, catalogue):
    with (
        start_search(tmp_path / "one", bus, catalogue) as one,
        start_search(tmp_path / "two", bus, catalogue) as two,
    ):
        eventually(lambda: ready(one))
        eventually(lambda: ready(two))
        groups = {replica.get("/stats").json()["consumer"]["group"] for replica in (one, two)}
        assert len(groups) == 2
        assert all(group.startswith("search-") for group in groups)

        publish(bus, "ProductCreated", product(1, "Desk Lamp"))
        publish(bus, "ProductCreated", product(2, "Floor Lamp"))
        eventually(lambda: found(one, 2, q="lamp"))
        eventually(lambda: found(two, 2, q="lamp"))


def test_a_replica_with_a_new_index_replays_the_events_the_bus_still_holds(tmp_path, bus, catalogue):
    with start_search(tmp_path / "first", bus, catalogue) as first:
        eventually(lambda: ready(first))
        publish(bus, "ProductCreated", product(1, "Desk Lamp"))
        eventually(lambda: found(first, 1, q="lamp"))

    # The product service knows nothing here, so only the replayed event can make the lamp searchable.
    with start_search(tmp_path / "second", bus, catalogue) as second:
        eventually(lambda: found(second, 1, q="lamp"))


def test_a_query_of_only_stop_words_finds_nothing_and_says_what_to_try(client, bus):
    publish(bus, "ProductCreated", product(1, "The Desk Lamp"))
    eventually(lambda: found(client, 1, q="the lamp"))
    body = found(client, 0, q="the")
    assert (body["items"], body["facets"], body["hint"]) == ([], {"category": {}}, NOTHING_TO_SEARCH_HINT)
    assert found(client, 1)["hint"] is None


def test_an_index_that_cannot_answer_is_a_503_naming_search(tmp_path, bus, catalogue):
    index = TantivySearchIndex(tmp_path / "search-index")
    app = create_app(SearchSettings(data_dir=tmp_path), index=index, bus=bus, product_transport=catalogue)
    with TestClient(app) as client:
        index.close()
        response = client.get("/search", params={"q": "lamp"})
        assert response.status_code == 503
        error = response.json()["error"]
        assert (error["code"], error["details"]) == ("unavailable", [])
        assert error["message"].startswith("search is unavailable")
        assert response.headers["retry-after"] == "1"
        assert client.get("/readyz").status_code == 503


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 9901}, "offset"),
        ({"min_price": "-1"}, "min_price"),
        ({"min_price": "1,50"}, "min_price"),
        ({"min_price": "1.234"}, "min_price"),
        ({"max_price": "cheap"}, "max_price"),
        ({"min_price": "inf"}, "min_price"),
        ({"min_price": "50", "max_price": "10"}, "max_price"),
        ({"sort": "cheapest"}, "sort"),
        ({"q": "x" * 201}, "q"),
        ({"category": "x" * 65}, "category"),
    ],
)
def test_bad_parameters_get_a_422_naming_the_field(idle_client, params, field):
    response = idle_client.get("/search", params=params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert [detail["field"] for detail in error["details"]] == [field]
    assert all(detail["message"] for detail in error["details"])


def test_the_deepest_page_allowed_is_the_one_ending_at_ten_thousand(idle_client):
    assert found(idle_client, 1, limit=100, offset=9900)["items"] == []


def test_head_answers_like_get_without_a_body(idle_client):
    response = idle_client.head("/search", params={"q": "yoga"})
    assert (response.status_code, response.content) == (200, b"")
    assert idle_client.head("/search", params={"limit": 0}).status_code == 422


def test_stats_are_internal_and_served_only_where_metrics_are(tmp_path, bus, catalogue):
    with start_search(tmp_path, bus, catalogue, public_metrics=False) as client:
        eventually(lambda: ready(client))
        assert client.get("/stats").status_code == 404
        assert client.get("/metrics").status_code == 404
        assert "/stats" not in client.get("/openapi.json").json()["paths"]


def test_stats_report_the_index_the_consumer_and_the_rebuild(idle_client):
    stats = idle_client.get("/stats").json()
    assert stats["products"] == 1
    assert stats["consumer"]["alive"] is True
    assert stats["rebuild"]["state"] == "finished"


def test_the_openapi_document_declares_the_search_response(idle_client):
    document = idle_client.get("/openapi.json").json()
    operation = document["paths"]["/search"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SearchResults"
    }
    assert "hint" in document["components"]["schemas"]["SearchResults"]["properties"]
    assert {p["name"] for p in operation["parameters"]} == {
        "q",
        "category",
        "min_price",
        "max_price",
        "sort",
        "limit",
        "offset",
    }
