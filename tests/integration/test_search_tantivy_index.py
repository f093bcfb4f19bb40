"""What the tantivy index does on disk and across threads, beyond the SearchIndex contract."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import tantivy

from mce.kit.errors import Unavailable
from mce.services.search.domain import Product, SearchQuery
from mce.services.search.index.tantivy import TantivySearchIndex


def product(id: int, name: str, version: int = 1) -> Product:
    return Product(id=id, name=name, price=float(id), category="Home", version=version)


def test_products_and_versions_survive_a_restart(tmp_path: Path):
    index = TantivySearchIndex(tmp_path / "search-index")
    index.upsert([product(1, "Desk Lamp"), product(2, "Floor Lamp")])
    index.delete(2, version=3)
    index.close()

    reopened = TantivySearchIndex(tmp_path / "search-index")
    assert [item["id"] for item in reopened.search(SearchQuery(q="lamp")).items] == [1]
    assert reopened.version_of(2) == 3
    reopened.close()


def test_an_index_written_with_another_schema_is_replaced_by_an_empty_one(tmp_path: Path):
    (tmp_path / "search-index").mkdir()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("title", stored=True)
    old = tantivy.Index(builder.build(), path=str(tmp_path / "search-index"))
    writer = old.writer(heap_size=15_000_000, num_threads=1)
    writer.add_document(tantivy.Document(title="left from an older release"))
    writer.commit()
    writer.wait_merging_threads()

    index = TantivySearchIndex(tmp_path / "search-index")
    assert index.count() == 0
    index.upsert([product(1, "Desk Lamp")])
    assert index.count() == 1
    index.close()


def test_a_closed_index_refuses_pings_and_writes(tmp_path: Path):
    index = TantivySearchIndex(tmp_path / "search-index")
    index.close()
    with pytest.raises(Unavailable):
        index.ping()
    with pytest.raises(Unavailable):
        index.upsert([product(1, "Desk Lamp")])


def test_searches_run_safely_while_another_thread_writes(tmp_path: Path):
    index = TantivySearchIndex(tmp_path / "search-index")
    failures: list[BaseException] = []

    def write_versions() -> None:
        try:
            for version in range(1, 51):
                index.upsert([product(i, f"Desk Lamp {version}", version=version) for i in range(1, 21)])
        except BaseException as exc:
            failures.append(exc)

    writer = threading.Thread(target=write_versions)
    writer.start()
    while writer.is_alive():
        page = index.search(SearchQuery(q="lamp", limit=100))
        assert page.total in (0, 20)
        assert len({item["id"] for item in page.items}) == len(page.items)
    writer.join()

    assert failures == []
    assert {item["name"] for item in index.search(SearchQuery(q="lamp", limit=100)).items} == {"Desk Lamp 50"}
    index.close()
