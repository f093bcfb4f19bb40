"""Search rules: query validation, how words are analysed, and how product events become index changes."""

from __future__ import annotations

import math

import pytest

from mce.kit.errors import Invalid
from mce.kit.events import Event
from mce.services.search.domain import (
    MAX_QUERY_TERMS,
    ProductRemoval,
    ProductUpsert,
    QueryTerm,
    SearchQuery,
    analyse_terms,
    change_from_event,
    typo_distance,
)

PRODUCT = {
    "id": 42,
    "name": "Wireless Headphones",
    "description": "Over-ear.",
    "price": 59.99,
    "stock": 12,
    "category": "Electronics",
    "image_url": None,
    "thumbnail_url": None,
    "created_at": "2026-11-25T10:00:00Z",
    "updated_at": "2026-11-25T10:00:00Z",
    "version": 3,
}


def invalid_message(**params) -> str:
    with pytest.raises(Invalid) as caught:
        SearchQuery(**params)
    return caught.value.message


def test_a_query_defaults_to_the_first_twenty_of_everything_by_relevance():
    query = SearchQuery()
    assert (query.q, query.category, query.min_price, query.max_price) == ("", None, None, None)
    assert (query.sort, query.limit, query.offset) == ("relevance", 20, 0)
    assert query.terms == ()


def test_query_text_is_trimmed_and_a_blank_category_means_any():
    query = SearchQuery(q="  headphones  ", category="")
    assert query.q == "headphones"
    assert query.category is None


def test_the_query_text_may_be_up_to_two_hundred_characters():
    assert SearchQuery(q="a" * 200).q == "a" * 200
    assert "q must be at most 200 characters" in invalid_message(q="a" * 201)


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_the_page_size_must_be_between_one_and_a_hundred(limit):
    assert "limit must be between 1 and 100" in invalid_message(limit=limit)


@pytest.mark.parametrize("offset", [-1, 10_001])
def test_the_offset_must_be_between_zero_and_ten_thousand(offset):
    assert "offset must be between 0 and 10000" in invalid_message(offset=offset)


@pytest.mark.parametrize("price", [-0.01, math.nan, math.inf])
def test_price_bounds_must_be_finite_and_not_negative(price):
    assert "min_price must be a number of at least 0" in invalid_message(min_price=price)
    assert "max_price must be a number of at least 0" in invalid_message(max_price=price)


def test_the_lowest_price_must_not_exceed_the_highest():
    assert "min_price must not be more than max_price" in invalid_message(min_price=10, max_price=5)
    assert SearchQuery(min_price=5, max_price=5).max_price == 5


def test_the_sort_must_be_one_of_the_known_orders():
    assert "sort must be one of relevance, price_asc, price_desc" in invalid_message(sort="cheapest")


def test_an_invalid_query_names_every_problem_at_once():
    with pytest.raises(Invalid) as caught:
        SearchQuery(limit=0, offset=-1, sort="random")
    assert len(caught.value.details) == 3


def test_words_are_lower_cased_and_split_on_anything_but_letters_and_digits():
    assert [t.text for t in analyse_terms("Noise-Cancelling HEADPHONES, 2nd_gen!")] == [
        "noise",
        "cancelling",
        "headphones",
        "2nd",
        "gen",
    ]


def test_words_in_any_script_are_kept():
    assert [t.text for t in analyse_terms("Café Straße 東京")] == ["café", "straße", "東京"]


def test_a_repeated_word_is_matched_once():
    assert [t.text for t in analyse_terms("red shoes Red")] == ["red", "shoes"]


def test_words_too_long_for_the_index_are_dropped():
    assert [t.text for t in analyse_terms("x" * 40 + " lamp")] == ["lamp"]


def test_a_query_uses_at_most_its_first_ten_words():
    words = [f"word{chr(97 + i)}" for i in range(15)]
    assert [t.text for t in analyse_terms(" ".join(words))] == words[:MAX_QUERY_TERMS]


def test_punctuation_alone_has_no_words():
    assert analyse_terms("?! -- ...") == ()


@pytest.mark.parametrize(
    ("word", "distance"),
    [("mat", 0), ("lamp", 1), ("speaker", 1), ("headphnes", 2), ("wirelesss", 2), ("1080", 0), ("rtx4090", 0)],
)
def test_longer_words_tolerate_more_typos_but_short_words_and_numbers_none(word, distance):
    assert typo_distance(word) == distance


def test_query_terms_carry_their_typo_tolerance():
    assert SearchQuery(q="usb headphnes").terms == (QueryTerm("usb", 0), QueryTerm("headphnes", 2))


def test_created_and_updated_events_become_upserts_of_the_published_json():
    for kind in ("ProductCreated", "ProductUpdated"):
        change = change_from_event(Event(type=kind, key="42", data=PRODUCT))
        assert isinstance(change, ProductUpsert)
        assert (change.product_id, change.version) == (42, 3)
        assert change.product.document() == PRODUCT


def test_fields_search_does_not_know_are_kept_and_none_are_invented():
    data = {"id": 1, "name": "Mug", "price": 4.5, "version": 1, "colour": "blue"}
    change = change_from_event(Event(type="ProductCreated", key="1", data=data))
    assert change.product.document() == data


def test_a_deleted_event_becomes_a_removal_at_its_version():
    change = change_from_event(Event(type="ProductDeleted", key="42", data={"id": 42, "version": 4}))
    assert change == ProductRemoval(product_id=42, version=4)


def test_events_search_does_not_follow_are_ignored():
    assert change_from_event(Event(type="StockReserved", key="42", data={"id": 42})) is None


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("ProductCreated", {"id": 42, "name": "Mug", "price": 4.5}),
        ("ProductUpdated", {"id": 42, "name": "Mug", "price": "cheap", "version": 2}),
        ("ProductDeleted", {"id": 42}),
        ("ProductDeleted", {"id": "forty-two", "version": 4}),
    ],
)
def test_a_malformed_product_event_is_invalid_so_the_consumer_dead_letters_it(kind, data):
    with pytest.raises(Invalid):
        change_from_event(Event(type=kind, key="42", data=data))
