"""Catalog rules with no I/O: the shared request contracts, the stock rules, the events and the demo catalog."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from mce.kit.contracts import ProductCreate, ProductUpdate
from mce.kit.errors import Conflict, Invalid, PreconditionRequired
from mce.services.product.domain import (
    Product,
    check_changes,
    product_created,
    product_deleted,
    product_updated,
    stock_after,
)
from mce.services.product.seed import generate_catalog

VALID = {"name": "Lamp", "price": "12.50", "category": "Office"}


def test_prices_are_exact_decimals_with_at_most_two_places() -> None:
    assert ProductCreate(**{**VALID, "price": 0.1}).price == Decimal("0.10")
    assert ProductCreate(**{**VALID, "price": "19.99"}).price == Decimal("19.99")
    assert ProductCreate(**{**VALID, "price": "19.990"}).price == Decimal("19.99")
    for bad in ("1.001", -0.01, "NaN", "Infinity", 100_000_000, "1,50", "1e3", " 5", True, None, [1]):
        with pytest.raises(ValidationError):
            ProductCreate(**{**VALID, "price": bad})


def test_prices_go_out_as_exact_strings() -> None:
    assert ProductCreate(**{**VALID, "price": 5}).model_dump(mode="json")["price"] == "5.00"


def test_names_and_categories_are_trimmed_and_inner_space_collapsed() -> None:
    product = ProductCreate(**{**VALID, "name": "  Desk   Lamp ", "category": " Home  &  Kitchen "})
    assert product.name == "Desk Lamp" and product.category == "Home & Kitchen"


def test_descriptions_may_have_newlines_but_no_other_control_characters() -> None:
    assert ProductCreate(**{**VALID, "description": "line one\nline two"}).description == "line one\nline two"
    with pytest.raises(ValidationError):
        ProductCreate(**{**VALID, "description": "bell\x07"})


def test_image_urls_are_web_addresses_or_site_paths() -> None:
    assert ProductCreate(**{**VALID, "image_url": "/media/thumbnails/1.webp"}).image_url == "/media/thumbnails/1.webp"
    assert ProductCreate(**{**VALID, "image_url": "https://cdn.example/a.png"}).image_url
    for bad in ("javascript:alert(1)", "ftp://x/y", "/a b", "//evil.example/x"):
        with pytest.raises(ValidationError):
            ProductCreate(**{**VALID, "image_url": bad})


def test_an_update_lists_only_what_the_caller_set() -> None:
    assert ProductUpdate(stock=3).changes() == {"stock": 3}
    assert ProductUpdate(image_url=None).changes() == {"image_url": None}
    assert ProductUpdate(price="2.00", version=4).changes() == {"price": Decimal("2.00")}
    assert ProductUpdate(version=3).changes() == {}
    with pytest.raises(ValueError):
        ProductUpdate(name=None).changes()


def test_an_absolute_stock_needs_the_version_it_was_read_at() -> None:
    with pytest.raises(PreconditionRequired):
        check_changes({"stock": 3}, None)
    check_changes({"stock": 3}, 2)
    check_changes({"price": Decimal("1.00")}, None)
    with pytest.raises(Invalid):
        check_changes({"version": 3, "id": 9}, None)


def _product(version: int = 1, stock: int = 3) -> Product:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Product(7, "Lamp", "", Decimal("12.50"), stock, "Office", None, None, now, now, version)


def test_stock_never_goes_below_zero() -> None:
    assert stock_after(_product(stock=3), -3) == 0
    assert stock_after(_product(stock=3), 5) == 8
    with pytest.raises(Conflict):
        stock_after(_product(stock=3), -4)


def test_product_events_carry_the_full_state_keyed_by_id() -> None:
    created, updated = product_created(_product()), product_updated(_product(2))
    assert (created.type, created.key, created.data["price"], created.data["created_at"]) == (
        "ProductCreated",
        "7",
        "12.50",
        "2026-01-02T03:04:05.000000Z",
    )
    assert updated.type == "ProductUpdated" and updated.data["version"] == 2


def test_a_delete_event_supersedes_the_last_state() -> None:
    assert product_deleted(_product(5)).data == {"id": 7, "version": 6}


def test_the_demo_catalog_is_deterministic_and_plausible() -> None:
    first, again = list(generate_catalog(1200)), list(generate_catalog(1200))
    assert first == again
    categories = Counter(p.category for p in first)
    assert len(categories) >= 8 and min(categories.values()) >= 100
    assert all(Decimal("1") <= p.price <= Decimal("1300") for p in first)
    assert all(
        ProductCreate(**{k: getattr(p, k) for k in ("name", "description", "price", "stock", "category")})
        for p in first[:50]
    )
    assert any(p.stock == 0 for p in first) and any(1 <= p.stock <= 5 for p in first)
    assert any("Headphones" in p.name for p in first)
