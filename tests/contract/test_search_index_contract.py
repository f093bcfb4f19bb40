"""The SearchIndex contract, written once and run against every adapter."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mce.services.search.analysis import NOTHING_TO_SEARCH_HINT
from mce.services.search.domain import Product, ProductRemoval, ProductUpsert, SearchPage, SearchQuery, parse_product
from mce.services.search.index.opensearch import OpenSearchSearchIndex, connect
from mce.services.search.index.port import SearchIndex
from mce.services.search.index.tantivy import TantivySearchIndex


def tantivy_index(request: pytest.FixtureRequest, tmp_path: Path) -> SearchIndex:
    return TantivySearchIndex(tmp_path / "search-index")


def opensearch_index(request: pytest.FixtureRequest, tmp_path: Path) -> SearchIndex:
    # An index of its own per test, refreshed on every write so a search sees it at once, deleted afterwards.
    endpoint = request.getfixturevalue("opensearch_endpoint")
    name = f"test-products-{uuid.uuid4().hex[:12]}"
    request.addfinalizer(lambda: drop_opensearch_index(endpoint, name))
    return OpenSearchSearchIndex(connect(endpoint), name, refresh=True)


def drop_opensearch_index(endpoint: str, name: str) -> None:
    client = connect(endpoint)
    try:
        client.indices.delete(index=name, ignore_unavailable=True)
    finally:
        client.close()


# Adapters for real servers skip themselves (or fail under MCE_REQUIRE_TEST_SERVERS) when their server is down.
ADAPTERS: list[Callable[[pytest.FixtureRequest, Path], SearchIndex]] = [tantivy_index, opensearch_index]


def product(id: int, name: str, price: str, category: str, description: str = "", version: int = 1) -> Product:
    return parse_product(
        {
            "id": id,
            "name": name,
            "description": description,
            "price": price,
            "stock": 5,
            "category": category,
            "image_url": None,
            "thumbnail_url": None,
            "created_at": "2026-11-25T10:00:00Z",
            "updated_at": "2026-11-25T10:00:00Z",
            "version": version,
        }
    )


CATALOGUE = [
    product(1, "Wireless Headphones", "59.99", "Electronics", "Over-ear, noise cancelling, 30 hour battery."),
    product(2, "Headphone Stand", "19.99", "Electronics", "Walnut stand for any headset."),
    product(3, "Running Shoes", "89.50", "Sports", "Light trainers; pairs well with wireless headphones on a run."),
    product(4, "Bluetooth Speaker", "35.00", "Electronics", "Portable speaker with deep bass."),
    product(5, "Yoga Mat", "25.00", "Sports", "Non-slip mat for home workouts."),
    product(6, "Coffee Grinder", "45.00", "Home & Kitchen", "Burr grinder with twelve settings."),
    product(7, "Noise Cancelling Earbuds", "99.00", "Electronics", "Wireless earbuds with a charging case."),
    product(8, "Phone Case", "9.99", "Electronics", "Slim silicone cover."),
    product(9, "Flower Vase", "15.00", "Garden", "Hand-blown glass."),
    product(10, "Matcha Whisk", "12.00", "Home & Kitchen", "Bamboo whisk for tea."),
]


@pytest.fixture(params=ADAPTERS, ids=lambda factory: factory.__name__)
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchIndex]:
    adapter = request.param(request, tmp_path)
    adapter.clear()
    adapter.upsert(CATALOGUE)
    yield adapter
    adapter.close()


def search(index: SearchIndex, q: str = "", **params: Any) -> SearchPage:
    return index.search(SearchQuery(q=q, **params))


def ids(index: SearchIndex, q: str = "", **params: Any) -> list[int]:
    return [item["id"] for item in search(index, q, **params).items]


def test_a_product_is_found_by_a_word_of_its_name(index):
    page = search(index, "speaker")
    assert [item["id"] for item in page.items] == [4]
    assert (page.total, page.hint) == (1, None)


def test_search_returns_the_product_json_as_published_with_the_price_as_a_string(index):
    assert search(index, "grinder").items == [CATALOGUE[5].document]
    assert search(index, "grinder").items[0]["price"] == "45.00"


def test_a_name_match_ranks_above_a_description_only_match(index):
    found = ids(index, "headphones")
    assert set(found) == {1, 2, 3}
    assert found[-1] == 3


def test_a_word_prefix_finds_products_as_the_shopper_types(index):
    assert set(ids(index, "headph")) == {1, 2}
    assert ids(index, "blue") == [4]


def test_a_typo_still_finds_the_product(index):
    assert 1 in ids(index, "headphnes")
    assert ids(index, "speakr") == [4]


def test_an_exact_match_ranks_above_a_typo_match(index):
    assert ids(index, "case") == [8, 7, 9]


def test_an_exact_match_ranks_above_a_prefix_match(index):
    assert ids(index, "mat") == [5, 10]


def test_every_word_of_the_query_must_match_in_some_form(index):
    found = ids(index, "wireless headphones")
    assert set(found) == {1, 3}
    assert found[0] == 1
    assert ids(index, "wirless headph") == [1]


def test_a_query_nothing_matches_finds_nothing(index):
    page = search(index, "xylophone")
    assert (page.items, page.total, page.category_counts) == ([], 0, {})


def test_products_are_found_by_a_word_of_their_category(index):
    assert set(ids(index, "kitchen")) == {6, 10}
    assert ids(index, "kitchen grinder") == [6]


@pytest.mark.parametrize("q", ["tshirt", "t shirt", "t-shirt", "T-Shirts"])
def test_a_compound_is_found_however_it_is_written(index, q):
    index.upsert(
        [product(11, "Organic Cotton T-Shirt", "19.00", "Clothing"), product(12, "Linen Shirt", "40.00", "Clothing")]
    )
    assert ids(index, q)[0] == 11


def test_words_written_apart_find_the_compound_they_make(index):
    assert set(ids(index, "head phones")) == set(ids(index, "headphones")) == {1, 2, 3}
    assert ids(index, "blue tooth") == [4]


@pytest.mark.parametrize("q", ["the", "!!!", "\N{GRINNING FACE}", "a the of", "of of"])
def test_a_query_of_only_stop_words_or_symbols_finds_nothing_and_says_what_to_try(index, q):
    page = search(index, q)
    assert (page.items, page.total, page.category_counts) == ([], 0, {})
    assert page.hint == NOTHING_TO_SEARCH_HINT


def test_stop_words_among_real_words_are_ignored(index):
    assert ids(index, "the headphones") == ids(index, "headphones")
    assert ids(index, "a mat for the yoga") == ids(index, "yoga mat")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ear buds", 7),
        ("in-ear headphones", 7),
        ("sofa", 13),
        ("couch", 13),
        ("tee", 11),
        ("notebook stand", 14),
    ],
)
def test_synonyms_find_products_named_otherwise(index, q, expected):
    index.upsert(
        [
            product(11, "Organic Cotton T-Shirt", "19.00", "Clothing"),
            product(13, "Velvet Couch", "499.00", "Home & Kitchen"),
            product(14, "Aluminium Laptop Stand", "39.00", "Electronics"),
        ]
    )
    assert expected in ids(index, q)


def test_the_category_filter_is_exact(index):
    assert ids(index, "wireless", category="Sports") == [3]
    assert ids(index, "wireless", category="sports") == []


def test_category_counts_ignore_the_category_filter_but_honour_the_price_filter(index):
    page = search(index, "wireless", category="Sports", max_price="90")
    assert [item["id"] for item in page.items] == [3]
    assert page.category_counts == {"Electronics": 1, "Sports": 1}


def test_category_counts_cover_the_whole_catalogue_for_an_empty_query(index):
    assert search(index).category_counts == {"Electronics": 5, "Sports": 2, "Home & Kitchen": 2, "Garden": 1}


def test_the_price_range_includes_both_bounds_to_the_cent(index):
    assert set(ids(index, min_price="19.99", max_price="45.00")) == {2, 4, 5, 6}
    assert set(ids(index, min_price="19.98", max_price="19.99")) == {2}
    assert set(ids(index, min_price="20.00", max_price="25")) == {5}
    assert set(ids(index, min_price="89.50")) == {3, 7}
    assert set(ids(index, max_price="9.99")) == {8}


def test_results_sort_by_price_both_ways(index):
    prices = [p.document["price"] for p in sorted(CATALOGUE, key=lambda p: Decimal(p.document["price"]))]
    assert [item["price"] for item in search(index, sort="price_asc", limit=100).items] == prices
    assert [item["price"] for item in search(index, sort="price_desc", limit=100).items] == prices[::-1]
    assert [item["price"] for item in search(index, "headphones", sort="price_asc").items] == [
        "19.99",
        "59.99",
        "89.50",
    ]


def test_prices_sort_by_amount_not_by_text(index):
    index.upsert([product(11, "Gold Lamp", "100.00", "Home & Kitchen"), product(12, "Tin Lamp", "9.00", "Garden")])
    assert [item["price"] for item in search(index, "lamp", sort="price_asc").items] == ["9.00", "100.00"]


def test_an_empty_query_lists_every_product_newest_first(index):
    page = search(index, limit=100)
    assert [item["id"] for item in page.items] == list(range(10, 0, -1))
    assert (page.total, page.hint) == (10, None)


def test_pages_cover_every_match_once_and_report_the_total(index):
    pages = [search(index, limit=3, offset=offset) for offset in (0, 3, 6, 9)]
    assert [page.total for page in pages] == [10, 10, 10, 10]
    assert [len(page.items) for page in pages] == [3, 3, 3, 1]
    seen = [item["id"] for page in pages for item in page.items]
    assert sorted(seen) == list(range(1, 11))


def test_a_page_past_the_end_is_empty_but_keeps_the_total(index):
    page = search(index, limit=5, offset=50)
    assert (page.items, page.total) == ([], 10)


def test_an_update_replaces_the_product(index):
    index.upsert([product(4, "Bluetooth Speaker Mini", "30.00", "Electronics", version=2)])
    page = search(index, "speaker")
    assert [(item["name"], item["price"]) for item in page.items] == [("Bluetooth Speaker Mini", "30.00")]
    assert index.count() == 10
    assert index.version_of(4) == 2


def test_an_update_can_move_a_product_to_another_category(index):
    index.upsert([product(9, "Flower Vase", "15.00", "Home & Kitchen", version=2)])
    assert ids(index, "vase", category="Home & Kitchen") == [9]
    assert ids(index, "vase", category="Garden") == []
    assert "Garden" not in search(index).category_counts


def test_a_deleted_product_vanishes(index):
    assert index.delete(4, version=2) == 1
    assert ids(index, "speaker") == []
    assert index.count() == 9
    assert 4 not in ids(index, limit=100)
    assert search(index).category_counts["Electronics"] == 4


def test_an_older_version_is_ignored(index):
    index.upsert([product(4, "Bluetooth Speaker", "30.00", "Electronics", version=3)])
    assert index.upsert([product(4, "Bluetooth Speaker", "99.00", "Electronics", version=2)]) == 0
    assert [item["price"] for item in search(index, "speaker").items] == ["30.00"]


def test_a_repeated_version_changes_nothing(index):
    assert index.upsert([CATALOGUE[3]]) == 0
    assert index.delete(4, version=1) == 0
    assert ids(index, "speaker") == [4]


def test_a_deleted_product_does_not_come_back_with_an_older_version(index):
    index.delete(4, version=5)
    assert index.upsert([product(4, "Bluetooth Speaker", "35.00", "Electronics", version=4)]) == 0
    assert ids(index, "speaker") == []
    assert index.version_of(4) == 5


def test_a_product_deleted_and_recreated_with_a_newer_version_is_back(index):
    index.delete(4, version=2)
    index.upsert([product(4, "Bluetooth Speaker", "35.00", "Electronics", version=3)])
    assert ids(index, "speaker") == [4]


def test_changes_to_one_product_in_one_batch_apply_in_order(index):
    applied = index.apply(
        [
            ProductUpsert(product(11, "Desk Lamp", "20.00", "Garden", version=1)),
            ProductUpsert(product(11, "Desk Lamp", "22.00", "Garden", version=2)),
            ProductUpsert(product(11, "Desk Lamp", "21.00", "Garden", version=1)),
            ProductRemoval(4, 2),
        ]
    )
    assert applied == 3
    assert [item["price"] for item in search(index, "lamp").items] == ["22.00"]
    assert ids(index, "speaker") == []


def test_version_of_a_product_never_seen_is_none(index):
    assert index.version_of(404) is None
    assert index.version_of(1) == 1


def test_clear_forgets_every_product_and_version(index):
    index.delete(4, version=2)
    index.clear()
    assert index.count() == 0
    assert search(index).total == 0
    assert index.version_of(1) is None
    assert index.version_of(4) is None


def test_an_index_is_complete_only_once_marked_so_until_cleared(index):
    assert not index.is_complete()
    index.mark_complete()
    index.mark_complete()
    assert index.is_complete()
    assert index.count() == 10
    index.clear()
    assert not index.is_complete()


def test_count_is_the_number_of_searchable_products(index):
    assert index.count() == 10
    index.upsert([product(11, "Desk Lamp", "20.00", "Garden")])
    assert index.count() == 11


def test_the_consumer_group_is_search_or_a_replica_of_it_and_stays_put(index):
    group = index.consumer_group()
    assert group == "search" or group.startswith("search-")
    index.upsert([product(11, "Desk Lamp", "20.00", "Garden")])
    assert index.consumer_group() == group


def test_an_open_index_answers_pings(index):
    index.ping()
