"""The storefront's pure helpers: prices, stock labels, pagination, links and lenient query parsing."""

from decimal import Decimal

import pytest

from mce.kit.contracts import MAX_OFFSET
from mce.services.frontend.views import (
    LISTING_SORTS,
    Pagination,
    SearchQuery,
    choose,
    clean_text,
    format_price,
    link,
    max_page,
    parse_page,
    parse_price,
    safe_next,
    sorted_facets,
    stock_status,
)


def test_prices_show_dollars_and_two_decimals():
    assert format_price("59.99") == "$59.99"
    assert format_price(Decimal("5")) == "$5.00"
    assert format_price(0) == "$0.00"


def test_large_prices_get_thousands_separators():
    assert format_price(1299) == "$1,299.00"
    assert format_price("1234567.50") == "$1,234,567.50"


def test_prices_are_shown_exactly_as_the_catalog_sent_them():
    assert format_price("0.10") == "$0.10"
    assert format_price("99999999.99") == "$99,999,999.99"


def test_stock_above_five_is_in_stock():
    assert stock_status(6).label == "In stock"
    assert stock_status(6).level == "in"


def test_five_or_fewer_say_how_many_are_left():
    assert stock_status(5).label == "Only 5 left"
    assert stock_status(1).label == "Only 1 left"
    assert stock_status(1).level == "low"


def test_no_stock_is_out_of_stock():
    assert stock_status(0).label == "Out of stock"
    assert stock_status(-1).label == "Out of stock"


def test_pagination_counts_pages_rounding_up():
    assert Pagination(page=1, per_page=24, total=48).pages == 2
    assert Pagination(page=1, per_page=24, total=49).pages == 3


def test_an_empty_result_still_has_one_page():
    pages = Pagination(page=1, per_page=24, total=0)
    assert pages.pages == 1
    assert not pages.has_prev and not pages.has_next
    assert (pages.first_item, pages.last_item) == (0, 0)


def test_pagination_offset_and_shown_items():
    pages = Pagination(page=3, per_page=24, total=60)
    assert pages.offset == 48
    assert (pages.first_item, pages.last_item) == (49, 60)
    assert pages.has_prev and not pages.has_next


def test_window_shows_first_last_and_neighbours_with_gaps():
    assert Pagination(page=10, per_page=10, total=200).window() == [1, None, 8, 9, 10, 11, 12, None, 20]


def test_window_fills_a_one_page_gap_instead_of_an_ellipsis():
    assert Pagination(page=4, per_page=10, total=100).window() == [1, 2, 3, 4, 5, 6, None, 10]


def test_window_of_a_few_pages_lists_them_all():
    assert Pagination(page=1, per_page=24, total=70).window() == [1, 2, 3]


def test_previous_from_past_the_end_goes_to_the_last_page():
    pages = Pagination(page=9, per_page=24, total=30)
    assert pages.prev_page == 2
    assert not pages.has_next


def test_page_numbers_are_read_leniently():
    assert parse_page(None) == 1
    assert parse_page("3") == 3
    assert parse_page("0") == 1
    assert parse_page("-4") == 1
    assert parse_page("abc") == 1


def test_page_numbers_stop_where_the_backends_stop_serving():
    assert parse_page("99999999999", per_page=24) == max_page(24)


def test_price_bounds_ignore_blank_and_bad_input():
    assert parse_price("12.5") == Decimal("12.50")
    assert parse_price(" 10 ") == Decimal("10.00")
    assert parse_price("$10") == Decimal("10.00")
    assert parse_price("1,50") is None
    assert parse_price("") is None
    assert parse_price(None) is None
    assert parse_price("ten") is None
    assert parse_price("-1") is None
    assert parse_price("nan") is None
    assert parse_price("inf") is None


def test_free_text_is_trimmed_cleaned_and_cut():
    assert clean_text("  lamp\x00 ", 200) == "lamp"
    assert clean_text("a" * 300, 200) == "a" * 200
    assert clean_text(None, 10) == ""


def test_unknown_sort_falls_back_to_the_default():
    assert choose("price_asc", LISTING_SORTS, "newest") == "price_asc"
    assert choose("drop table", LISTING_SORTS, "newest") == "newest"
    assert choose(None, LISTING_SORTS, "newest") == "newest"


def test_links_drop_empty_values_and_the_first_page():
    assert link("/products", {"category": "", "sort": None, "page": 1}) == "/products"
    assert link("/products", {"category": "Home & Kitchen"}, page=2) == "/products?category=Home+%26+Kitchen&page=2"


def test_facet_links_keep_the_other_filters_and_reset_the_page():
    query = SearchQuery.from_params(q="lamp", category=None, min_price="10", max_price="", sort="price_asc", page="3")
    assert link("/search", query.link_params(), category="Home", page=None) == (
        "/search?q=lamp&category=Home&min_price=10&sort=price_asc"
    )


def test_search_query_sends_only_the_filters_given():
    query = SearchQuery.from_params(q=" desk lamp ", category="", min_price="x", max_price="50", sort="bogus", page="2")
    assert query.backend_params(24) == {
        "q": "desk lamp",
        "sort": "relevance",
        "limit": 24,
        "offset": 24,
        "max_price": "50.00",
    }


def test_a_reversed_price_range_is_read_as_the_range_between():
    query = SearchQuery.from_params(q="lamp", category=None, min_price="50", max_price="10", sort=None, page=None)
    assert (query.min_price, query.max_price) == (Decimal("10.00"), Decimal("50.00"))


def test_deep_pages_stop_where_the_shared_window_ends():
    assert parse_page("418") == MAX_OFFSET // 24 + 1
    assert (parse_page("418") - 1) * 24 <= MAX_OFFSET


def test_facets_list_the_most_hits_first():
    assert sorted_facets({"Books": 2, "Home": 9, "Art": 2}) == [("Home", 9), ("Art", 2), ("Books", 2)]


def test_after_login_only_admin_paths_are_followed():
    assert safe_next("/admin/products/3/edit") == "/admin/products/3/edit"
    assert safe_next("https://evil.example/admin") == "/admin"
    assert safe_next("//evil.example") == "/admin"
    assert safe_next("/admin\\@evil.example") == "/admin"
    assert safe_next(None) == "/admin"


@pytest.mark.parametrize(
    "raw", ["//evil.example", "/\t/evil.example", "/\n/evil.example", "https://evil.example/", "/\\evil.example", ""]
)
def test_after_a_shopper_signs_in_no_link_leads_off_the_site(raw):
    assert safe_next(raw, "/", within="/") == "/"


def test_after_a_shopper_signs_in_any_page_of_the_shop_is_followed():
    assert safe_next("/products?category=Home&page=2", "/", within="/") == "/products?category=Home&page=2"
