"""What the tantivy index does on disk and across threads, beyond the SearchIndex contract."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import tantivy

from mce.kit.errors import Unavailable
from mce.services.search.domain import Product, SearchQuery, parse_product
from mce.services.search.index.tantivy import TantivySearchIndex
from mce.services.search.synonyms import load_synonyms


def product(id: int, name: str, version: int = 1, price: str = "10.00") -> Product:
    return parse_product(
        {
            "id": id,
            "name": name,
            "description": "",
            "price": price,
            "stock": 1,
            "category": "Home",
            "image_url": None,
            "thumbnail_url": None,
            "created_at": "2026-11-25T10:00:00Z",
            "updated_at": "2026-11-25T10:00:00Z",
            "version": version,
        }
    )


def write_old_index(path: Path, builder: tantivy.SchemaBuilder, document: tantivy.Document) -> None:
    """An index left by an older release: its own schema and one document."""
    path.mkdir()
    old = tantivy.Index(builder.build(), path=str(path))
    old.register_tokenizer("mce_en_stem", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).build())
    writer = old.writer(heap_size=15_000_000, num_threads=1)
    writer.add_document(document)
    writer.commit()
    writer.wait_merging_threads()


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
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("title", stored=True)
    write_old_index(tmp_path / "search-index", builder, tantivy.Document(title="left from an older release"))

    index = TantivySearchIndex(tmp_path / "search-index")
    assert index.count() == 0
    index.upsert([product(1, "Desk Lamp")])
    assert index.count() == 1
    index.close()


def test_an_index_of_the_release_that_kept_prices_as_floats_is_rebuilt(tmp_path: Path):
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=True, fast=True)
    builder.add_text_field("kind", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("version", stored=True)
    builder.add_text_field("name", tokenizer_name="mce_en_stem")
    builder.add_text_field("name_words", tokenizer_name="default", index_option="basic")
    builder.add_text_field("description", tokenizer_name="mce_en_stem")
    builder.add_text_field("category", tokenizer_name="raw", fast=True, index_option="basic")
    builder.add_float_field("price", indexed=True, fast=True)
    builder.add_bytes_field("document", stored=True)
    write_old_index(tmp_path / "search-index", builder, tantivy.Document(id=1, version=1, price=19.99))

    index = TantivySearchIndex(tmp_path / "search-index")
    assert (index.count(), index.version_of(1), index.is_complete()) == (0, None, False)
    index.close()


def test_prices_are_stored_as_whole_cents_not_floats(tmp_path: Path):
    index = TantivySearchIndex(tmp_path / "search-index")
    index.upsert([product(1, "Desk Lamp", price="19.99")])
    index.close()
    fields = {
        field["name"]: field for field in json.loads((tmp_path / "search-index" / "meta.json").read_text())["schema"]
    }
    assert fields["price_cents"]["type"] == "i64"
    assert fields["price_cents"]["options"]["fast"] is True
    assert not [name for name, field in fields.items() if field["type"] == "f64"]


def test_each_index_directory_is_a_replica_with_a_consumer_group_of_its_own(tmp_path: Path):
    one, two = TantivySearchIndex(tmp_path / "one"), TantivySearchIndex(tmp_path / "two")
    assert one.consumer_group().startswith("search-")
    assert two.consumer_group().startswith("search-")
    assert one.consumer_group() != two.consumer_group()
    one.close()
    two.close()


def test_the_replica_id_survives_a_restart(tmp_path: Path):
    index = TantivySearchIndex(tmp_path / "search-index")
    group = index.consumer_group()
    index.close()
    reopened = TantivySearchIndex(tmp_path / "search-index")
    assert reopened.consumer_group() == group
    reopened.close()


def test_a_cleared_index_is_a_new_replica_and_stays_one_after_a_restart(tmp_path: Path):
    index = TantivySearchIndex(tmp_path / "search-index")
    group = index.consumer_group()
    index.clear()
    cleared = index.consumer_group()
    assert cleared != group
    index.close()
    reopened = TantivySearchIndex(tmp_path / "search-index")
    assert reopened.consumer_group() == cleared
    reopened.close()


def test_an_index_replaced_for_its_schema_is_a_new_replica(tmp_path: Path):
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("title", stored=True)
    write_old_index(tmp_path / "search-index", builder, tantivy.Document(title="old"))
    (tmp_path / "search-index" / "replica-id").write_text("0123456789abcdef\n")

    index = TantivySearchIndex(tmp_path / "search-index")
    assert index.consumer_group() != "search-0123456789abcdef"
    index.close()


def test_a_closed_index_refuses_pings_searches_and_writes(tmp_path: Path):
    index = TantivySearchIndex(tmp_path / "search-index")
    index.close()
    with pytest.raises(Unavailable) as refused:
        index.ping()
    assert refused.value.service == "search"
    with pytest.raises(Unavailable):
        index.search(SearchQuery(q="lamp"))
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


def test_the_index_expands_queries_with_the_shipped_synonyms(tmp_path: Path):
    index = TantivySearchIndex(tmp_path / "search-index")
    index.upsert([product(1, "Kestrel Wireless Earbuds"), product(2, "Copperleaf Cast Iron Skillet")])
    assert [item["id"] for item in index.search(SearchQuery(q="ear buds")).items] == [1]
    assert [item["id"] for item in index.search(SearchQuery(q="frying pan")).items] == [2]
    index.close()


def test_the_shipped_synonyms_cover_the_demo_catalogue_vocabulary():
    shipped = load_synonyms()
    assert len({frozenset((phrase, *others)) for phrase, others in shipped.groups.items()}) >= 12
    assert ("earbuds",) in shipped.alternatives(("ear", "buds"))
    assert ("notebook", "stand") in shipped.alternatives(("laptop", "stand"))
    assert ("couch",) in shipped.alternatives(("sofa",))
    assert ("t", "shirt") in shipped.alternatives(("tee",))


def test_a_commit_landing_during_a_search_cannot_make_its_counts_and_hits_disagree(tmp_path: Path) -> None:
    index = TantivySearchIndex(tmp_path / "index")
    index.upsert([product(1, "Desk Lamp")])
    real = index._index

    class CommitAfterTheFirstSearcher:
        """The index, but another thread's commit lands right after a search takes its first searcher."""

        landed = False

        def __getattr__(self, name: str):
            return getattr(real, name)

        def searcher(self):
            taken = real.searcher()
            if not self.landed:
                self.landed = True
                index.upsert([product(2, "Floor Lamp")])
            return taken

    index._index = CommitAfterTheFirstSearcher()
    page = index.search(SearchQuery(q="lamp"))
    assert page.total == len(page.items) == sum(page.category_counts.values())
    index._index = real
    after = index.search(SearchQuery(q="lamp"))
    assert after.total == 2 and after.category_counts == {"Home": 2}
    index.close()
