"""Search on OpenSearch: product change -> searchable through the real search consumer, and the time per search.

`python -m bench.search_opensearch [products] [changes] [searches]` with OPENSEARCH_ENDPOINT (or
MCE_OPENSEARCH_ENDPOINT) set, e.g. from deploy/local/opensearch.sh; without one it says it skipped and exits 0.
It indexes the demo catalog into an index of its own (deleted afterwards), starts the search service on it in-process
with the embedded bus, publishes `ProductUpdated` events that rename products, and times each until a search
finds the new name: bus -> consumer (with its linger) -> bulk write -> OpenSearch's real 1 s refresh. Then it times
the benchmark search mix on the index alone (no HTTP), like bench.search_index does for the embedded index.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bench.queries import SEARCHES
from bench.run import machine
from bench.search_index import catalog, report, timed
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.contracts import PRODUCT_UPDATED, PRODUCTS_TOPIC
from mce.kit.events import Event
from mce.kit.http import HttpResponse, NotSent
from mce.services.search.app import create_app
from mce.services.search.domain import SearchQuery
from mce.services.search.index.opensearch import OpenSearchSearchIndex, connect
from mce.services.search.settings import SearchSettings

TARGET_P95_S = 2.0
GIVE_UP_S = 30.0
POLL_S = 0.005


class NoProductService:
    """The product service's transport: never called, since the index is loaded and marked complete beforehand."""

    async def send(self, method: str, url: str, **_: Any) -> HttpResponse:
        raise NotSent("the benchmark loads the index itself")

    async def aclose(self) -> None:
        return None


def endpoint() -> str | None:
    """The OpenSearch to measure, as the search service reads it."""
    return os.environ.get("MCE_OPENSEARCH_ENDPOINT") or os.environ.get("OPENSEARCH_ENDPOINT")


def load(index: OpenSearchSearchIndex, products: list) -> float:
    """Seconds to index the catalog in pages of 1,000, as a rebuild would, until it is all searchable."""
    started = time.perf_counter()
    for start in range(0, len(products), 1000):
        index.upsert(products[start : start + 1000])
    index.mark_complete()
    while index.count() < len(products):
        time.sleep(0.05)
    return time.perf_counter() - started


def change_to_searchable(
    index: OpenSearchSearchIndex, bus: SqliteEventBus, products: list, changes: int
) -> list[float]:
    """Seconds from publishing each rename to the first search that finds it, sorted."""
    timings = []
    for n in range(changes):
        product = products[(n * 97) % len(products)]
        marker = f"benchmark{n}x{uuid.uuid4().hex[:8]}"
        data = {**product.document, "name": f"Renamed {marker}", "version": product.version + 1 + n}
        started = time.perf_counter()
        bus.publish(PRODUCTS_TOPIC, [Event(type=PRODUCT_UPDATED, key=str(product.id), data=data)])
        query = SearchQuery(q=marker)
        while not index.search(query).items:
            if time.perf_counter() - started > GIVE_UP_S:
                raise RuntimeError(f"a change took over {GIVE_UP_S:.0f} s to become searchable")
            time.sleep(POLL_S)
        timings.append(time.perf_counter() - started)
    return sorted(timings)


def main() -> int:
    url = endpoint()
    if not url:
        sys.stdout.write("search_opensearch: skipped: no OPENSEARCH_ENDPOINT given (deploy/local/opensearch.sh)\n")
        return 0
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    changes = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    searches = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    name = f"bench-products-{uuid.uuid4().hex[:8]}"
    index = OpenSearchSearchIndex(connect(url), name)
    lines = [f"machine: {machine()}; OpenSearch at {url}"]
    try:
        products = catalog(count)
        lines.append(f"indexed {count} products in {load(index, products):.1f} s")
        with tempfile.TemporaryDirectory(prefix="mce-bench-") as data_dir:
            bus = SqliteEventBus(Path(data_dir) / "bus.db")
            app = create_app(
                SearchSettings(data_dir=Path(data_dir)), index=index, bus=bus, product_transport=NoProductService()
            )
            with TestClient(app):
                times = change_to_searchable(index, bus, products, changes)
            bus.close()
        p95 = statistics.quantiles(times, n=20)[18]
        verdict = "meets target" if p95 <= TARGET_P95_S else "MISSES target"
        lines.append(
            f"product change -> searchable through the search consumer, {changes} changes: "
            f"p50 {statistics.median(times) * 1e3:.0f} ms, p95 {p95 * 1e3:.0f} ms, max {times[-1] * 1e3:.0f} ms "
            f"(target p95 <= {TARGET_P95_S * 1e3:.0f} ms: {verdict})"
        )
        queries = [SearchQuery(**SEARCHES[n % len(SEARCHES)]) for n in range(searches)]
        timed(index, queries)
        lines.append(report(f"search on the index alone, {count} products, {searches} searches", timed(index, queries)))
    finally:
        index.drop()
        index.close()
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
