"""Search rules: query validation, the hint, and how product events become index changes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from mce.kit.errors import Invalid
from mce.kit.events import Event
from mce.services.search.analysis import NOTHING_TO_SEARCH_HINT
from mce.services.search.domain import (
    ProductRemoval,
    ProductUpsert,
    SearchPage,
    SearchQuery,
    cents,
    change_from_event,
    parse_product,
)

PRODUCT = {
    "id": 42,
    "name": "Wireless Headphones",
    "description": "Over-ear.",
    "price": "59.99",
    "stock": 12,
    "category": "Electronics",
    "image_url": None,
    "thumbnail_url": None,
    "created_at": "2026-11-25T10:00:00Z",
    "updated_at": "2026-11-25T10:00:00Z",
    "version": 3,
}


def problems(**params: Any) -> dict[str, str]:
    """Each parameter the query refuses, with the reason."""
    with pytest.raises(ValidationError) as caught:
        SearchQuery(**params)
    return {".".join(map(str, err["loc"])): err["msg"] for err in caught.value.errors()}


def test_a_query_defaults_to_the_first_twenty_of_everything_by_relevance():
    query = SearchQuery()
    assert (query.q, query.category, query.min_price, query.max_price) == ("", None, None, None)
    assert (query.sort, query.limit, query.offset) == ("relevance", 20, 0)
    assert query.hint is None


def test_query_text_is_trimmed_and_blank_filters_mean_any():
    query = SearchQuery(q="  headphones  ", category="", min_price="", max_price="")
    assert query.q == "headphones"
    assert (query.category, query.min_price, query.max_price) == (None, None, None)


def test_the_query_text_may_be_up_to_two_hundred_characters():
    assert SearchQuery(q="a" * 200).q == "a" * 200
    assert "q" in problems(q="a" * 201)


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_the_page_size_must_be_between_one_and_a_hundred(limit):
    assert "limit" in problems(limit=limit)


def test_the_deepest_page_ends_at_the_ten_thousandth_result():
    assert SearchQuery(limit=100, offset=9900).offset == 9900
    assert "offset" in problems(offset=9901)
    assert "offset" in problems(offset=-1)


def test_a_category_is_at_most_sixty_four_characters_on_one_line():
    assert SearchQuery(category="  Home   &  Kitchen ").category == "Home & Kitchen"
    assert "category" in problems(category="x" * 65)
    assert "category" in problems(category="   ")


@pytest.mark.parametrize("price", ["1,50", "abc", "1.234", "-1", "1e3", "inf", "NaN", -1, 1.234])
def test_price_bounds_are_money_with_at_most_two_decimals(price):
    assert "min_price" in problems(min_price=price)
    assert "max_price" in problems(max_price=price)


def test_price_bounds_are_exact_decimals_from_numbers_or_strings():
    query = SearchQuery(min_price="19.99", max_price=20)
    assert (query.min_price, query.max_price) == (Decimal("19.99"), Decimal("20.00"))
    assert (query.min_cents, query.max_cents) == (1999, 2000)


def test_the_lowest_price_must_not_exceed_the_highest():
    assert problems(min_price="10", max_price="5") == {"max_price": "must not be less than min_price"}
    assert SearchQuery(min_price="5.00", max_price="5").max_price == Decimal("5.00")


def test_the_sort_must_be_one_of_the_known_orders():
    assert "sort" in problems(sort="cheapest")


def test_an_invalid_query_names_every_problem_at_once():
    assert set(problems(limit=0, offset=-1, sort="random", min_price="x")) == {"limit", "offset", "sort", "min_price"}


def test_cents_are_exact():
    assert cents(Decimal("0.10")) + cents(Decimal("0.20")) == cents(Decimal("0.30"))
    assert cents(Decimal("99999999.99")) == 9_999_999_999


@pytest.mark.parametrize("q", ["the", "!!!", "a the of"])
def test_a_query_of_only_stop_words_or_symbols_carries_a_hint(q):
    assert SearchQuery(q=q).hint == NOTHING_TO_SEARCH_HINT
    assert SearchPage.hinted(NOTHING_TO_SEARCH_HINT) == SearchPage([], 0, {}, NOTHING_TO_SEARCH_HINT)


def test_created_and_updated_events_become_upserts_of_the_published_json():
    for kind in ("ProductCreated", "ProductUpdated"):
        change = change_from_event(Event(type=kind, key="42", data=PRODUCT))
        assert isinstance(change, ProductUpsert)
        assert (change.product_id, change.version) == (42, 3)
        assert change.product.document == PRODUCT
        assert change.product.price_cents == 5999


def test_fields_search_does_not_know_are_kept_and_none_are_invented():
    data = {**PRODUCT, "colour": "blue"}
    assert parse_product(data).document == data


def test_a_price_published_as_a_number_is_answered_in_the_wire_form():
    assert parse_product({**PRODUCT, "price": 59.9}).document["price"] == "59.90"


def test_a_deleted_event_becomes_a_removal_at_its_version():
    change = change_from_event(Event(type="ProductDeleted", key="42", data={"id": 42, "version": 4}))
    assert change == ProductRemoval(product_id=42, version=4)


def test_events_search_does_not_follow_are_ignored():
    assert change_from_event(Event(type="StockReserved", key="42", data={"id": 42})) is None


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("ProductCreated", {"id": 42, "name": "Mug", "price": "4.50"}),
        ("ProductUpdated", {**PRODUCT, "price": "cheap"}),
        ("ProductUpdated", {**PRODUCT, "price": "4.505"}),
        ("ProductDeleted", {"id": 42}),
        ("ProductDeleted", {"id": "forty-two", "version": 4}),
    ],
)
def test_a_malformed_product_event_is_invalid_so_the_consumer_dead_letters_it(kind, data):
    with pytest.raises(Invalid):
        change_from_event(Event(type=kind, key="42", data=data))
