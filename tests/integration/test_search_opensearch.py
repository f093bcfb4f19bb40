"""Search on a real OpenSearch: replicas share one index and one consumer group, versions decide, outages are 503s."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.errors import Unavailable
from mce.services.search.app import create_app
from mce.services.search.domain import SearchQuery, parse_product
from mce.services.search.index.factory import build_index
from mce.services.search.index.opensearch import OpenSearchSearchIndex, connect
from mce.services.search.settings import SearchSettings
from tests.conftest import free_port
from tests.integration.test_search_service import FakeProductService, eventually, found, product, publish, ready


@pytest.fixture
def index_name(opensearch_endpoint: str) -> Iterator[str]:
    name = f"test-search-{uuid.uuid4().hex[:12]}"
    yield name
    client = connect(opensearch_endpoint)
    client.indices.delete(index=name, ignore_unavailable=True)
    client.close()


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[SqliteEventBus]:
    event_bus = SqliteEventBus(tmp_path / "bus.db")
    yield event_bus
    event_bus.close()


def opensearch_settings(data_dir: Path, endpoint: str, index_name: str, **more: Any) -> SearchSettings:
    return SearchSettings(
        data_dir=data_dir, search_index="opensearch", opensearch_endpoint=endpoint, opensearch_index=index_name, **more
    )


def start_replica(data_dir: Path, settings: SearchSettings, bus: SqliteEventBus) -> TestClient:
    app = create_app(settings, bus=bus, product_transport=FakeProductService([product(1, "Desk Lamp")]))
    return TestClient(app)


def test_replicas_on_one_opensearch_index_share_the_consumer_group_and_split_the_events(
    tmp_path, bus, opensearch_endpoint, index_name
):
    settings = [opensearch_settings(tmp_path / name, opensearch_endpoint, index_name) for name in ("one", "two")]
    with (
        start_replica(tmp_path / "one", settings[0], bus) as one,
        start_replica(tmp_path / "two", settings[1], bus) as two,
    ):
        eventually(lambda: ready(one), timeout=10)
        eventually(lambda: ready(two), timeout=10)
        assert {replica.get("/stats").json()["consumer"]["group"] for replica in (one, two)} == {"search"}

        for i in range(2, 12):
            publish(bus, "ProductCreated", product(i, f"Floor Lamp {i}"))
        # Whichever replica handled an event, both answer from the one index (within its refresh interval).
        eventually(lambda: found(one, 11, q="lamp"), timeout=10)
        eventually(lambda: found(two, 11, q="lamp"), timeout=10)
        handled = [replica.get("/stats").json()["consumer"]["handled"] for replica in (one, two)]
        assert sum(handled) >= 10


def test_the_embedded_index_keeps_a_consumer_group_of_its_own_per_replica(tmp_path):
    tantivy = build_index(SearchSettings(data_dir=tmp_path))
    try:
        assert tantivy.consumer_group().startswith("search-")
    finally:
        tantivy.close()


def test_the_opensearch_setting_builds_an_index_on_the_endpoint_with_the_shared_group(
    tmp_path, opensearch_endpoint, index_name
):
    index = build_index(opensearch_settings(tmp_path, opensearch_endpoint, index_name))
    try:
        assert isinstance(index, OpenSearchSearchIndex)
        assert (index.name, index.consumer_group()) == (index_name, "search")
    finally:
        index.close()


def test_replicas_starting_together_create_the_index_once_and_both_use_it(opensearch_endpoint, index_name):
    built: list[OpenSearchSearchIndex] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            built.append(OpenSearchSearchIndex(connect(opensearch_endpoint), index_name, refresh=True))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    built[0].upsert([parse_product(product(1, "Desk Lamp"))])
    assert [index.count() for index in built] == [1, 1, 1, 1]
    for index in built:
        index.close()


def test_racing_replicas_leave_the_newest_version_whatever_the_order(opensearch_endpoint, index_name):
    replicas = [OpenSearchSearchIndex(connect(opensearch_endpoint), index_name, refresh=True) for _ in range(2)]
    versions = [parse_product(product(7, "Desk Lamp", price=f"{v}.00", version=v)) for v in range(1, 41)]

    def write(index: OpenSearchSearchIndex, order: list[int]) -> None:
        for v in order:
            index.upsert([versions[v - 1]])

    threads = [
        threading.Thread(target=write, args=(replicas[0], list(range(1, 41)))),
        threading.Thread(target=write, args=(replicas[1], list(range(40, 0, -1)))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert replicas[0].version_of(7) == 40
    assert [item["price"] for item in replicas[1].search(SearchQuery(q="lamp")).items] == ["40.00"]
    for index in replicas:
        index.close()


def test_an_opensearch_that_does_not_answer_is_unavailable_naming_the_index():
    index = OpenSearchSearchIndex(connect("http://127.0.0.1:1", timeout_s=0.5), "products")
    with pytest.raises(Unavailable) as raised:
        index.ping()
    assert raised.value.service == "search"
    assert "OpenSearch index 'products'" in raised.value.message


class Forwarder(socketserver.ThreadingTCPServer):
    """A loopback port that passes connections on to another: OpenSearch 'coming back' where it was not."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.target = target
        super().__init__(("127.0.0.1", port), _Pipe)


class _Pipe(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        upstream = socket.create_connection(self.server.target)

        def pump(source: socket.socket, sink: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while chunk := source.recv(65536):
                    sink.sendall(chunk)
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=pump, args=(upstream, self.request), daemon=True)
        back.start()
        pump(self.request, upstream)
        back.join()
        upstream.close()


def test_an_index_whose_server_was_down_at_start_is_made_once_it_answers(opensearch_endpoint, index_name):
    port = free_port()
    index = OpenSearchSearchIndex(connect(f"http://127.0.0.1:{port}", timeout_s=1), index_name, refresh=True)
    with pytest.raises(Unavailable):
        index.ping()
    target = urllib.parse.urlsplit(opensearch_endpoint)
    server = Forwarder(port, (target.hostname, target.port))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        index.ping()
        index.upsert([parse_product(product(7, "Desk Lamp"))])
        assert [item["id"] for item in index.search(SearchQuery(q="lamp")).items] == [7]
    finally:
        index.close()
        server.shutdown()
        server.server_close()


def test_a_search_whose_index_vanished_is_a_503_naming_the_index(tmp_path, bus, opensearch_endpoint, index_name):
    index = OpenSearchSearchIndex(connect(opensearch_endpoint), index_name, refresh=True)
    index.mark_complete()
    app = create_app(SearchSettings(data_dir=tmp_path), index=index, bus=bus, product_transport=FakeProductService())
    with TestClient(app) as client:
        eventually(lambda: ready(client), timeout=10)
        index.drop()
        response = client.get("/search", params={"q": "lamp"})
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "unavailable"
        assert f"OpenSearch index {index_name!r}" in error["message"]
        assert client.get("/readyz").status_code == 503
    index.close()
