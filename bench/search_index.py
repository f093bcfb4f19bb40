"""Time searches on the search index alone (no HTTP): the per-query cost the search service adds to a request.

Run with `.venv/bin/python -m bench.search_index [products] [searches]`; it indexes the demo catalog into a
temporary directory and prints the mean, p50 and p99 time per search.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.queries import SEARCHES
from mce.kit.money import format_amount
from mce.services.product.seed import generate_catalog
from mce.services.search.domain import SearchQuery, parse_product
from mce.services.search.index.tantivy import TantivySearchIndex


def catalog(count: int) -> list:
    """The demo catalog as the product service would publish it."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return [
        parse_product(
            {
                "id": number,
                "name": fields.name,
                "description": fields.description,
                "price": format_amount(fields.price),
                "stock": fields.stock,
                "category": fields.category,
                "image_url": None,
                "thumbnail_url": None,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
        for number, fields in enumerate(generate_catalog(count), start=1)
    ]


def timed(index: TantivySearchIndex, queries: list[SearchQuery]) -> list[float]:
    """Seconds each search took, sorted."""
    times = []
    for query in queries:
        started = time.perf_counter()
        index.search(query)
        times.append(time.perf_counter() - started)
    return sorted(times)


def report(label: str, times: list[float]) -> str:
    """One line of figures in milliseconds."""
    p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99)]
    return f"{label}: mean {statistics.mean(times) * 1e3:.3f} ms, p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    searches = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    with tempfile.TemporaryDirectory() as directory:
        index = TantivySearchIndex(Path(directory) / "search-index")
        products = catalog(count)
        for start in range(0, len(products), 1000):
            index.upsert(products[start : start + 1000])
        queries = [SearchQuery(**SEARCHES[n % len(SEARCHES)]) for n in range(searches)]
        timed(index, queries)
        lines = [
            report(f"{count} products, {searches} searches, round {r + 1}", timed(index, queries)) for r in range(3)
        ]
        # A new upper price bound each time, so category counts are never served from the cache.
        fresh = [SearchQuery(**{**SEARCHES[n % len(SEARCHES)], "max_price": f"{1000 + n}"}) for n in range(searches)]
        lines.append(report("category counts not cached", timed(index, fresh)))
        index.close()
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
