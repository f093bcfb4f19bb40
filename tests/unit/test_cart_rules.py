"""The cart's rules, without I/O: limits, exact totals, merged lines, refusals that name the field."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mce.kit.contracts import MAX_ID
from mce.kit.errors import Invalid, NotFound
from mce.services.cart import domain
from mce.services.cart.domain import LINES_MAX, QUANTITY_MAX, Cart, CatalogProduct, OutOfStock

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def product(product_id: int = 1, price: str = "0.10", stock: int = 1000) -> CatalogProduct:
    return CatalogProduct(product_id, f"Product {product_id}", Decimal(price), stock)


def added(cart: Cart, item: CatalogProduct, quantity: int = 1) -> Cart:
    return domain.add_item(cart, item, quantity, NOW)[0]


def fields(error: pytest.ExceptionInfo) -> list[str]:
    return [detail["field"] for detail in error.value.details]


def test_three_at_ten_cents_total_exactly_thirty_cents() -> None:
    cart = added(Cart("c"), product(price="0.10"), 3)
    assert cart.total == Decimal("0.30")
    assert cart.to_json()["total"] == "0.30"
    assert cart.to_json()["items"][0]["subtotal"] == "0.30"


def test_a_total_of_many_lines_is_exact() -> None:
    cart = Cart("c")
    for i, price in enumerate(["0.10", "0.20", "19.99", "0.01"], start=1):
        cart = added(cart, product(i, price), 3)
    assert cart.total == Decimal("60.90")


def test_an_empty_cart_totals_zero_and_is_version_0() -> None:
    cart = Cart("c")
    assert cart.to_json() == {
        "cart_id": "c",
        "user_id": None,
        "items": [],
        "total": "0.00",
        "updated_at": None,
        "version": 0,
    }


def test_adding_a_product_already_in_the_cart_adds_to_its_line() -> None:
    cart = added(added(Cart("c"), product(1), 2), product(1), 5)
    assert [(line.product_id, line.quantity) for line in cart.items] == [(1, 7)]
    assert cart.version == 2


def test_a_line_takes_the_price_of_its_latest_add() -> None:
    cart = added(added(Cart("c"), product(1, "1.00"), 1), product(1, "1.50"), 1)
    assert cart.items[0].price == Decimal("1.50") and cart.total == Decimal("3.00")


def test_a_merge_over_the_line_limit_is_refused_naming_quantity() -> None:
    cart = added(Cart("c"), product(1), QUANTITY_MAX - 1)
    with pytest.raises(Invalid) as refused:
        domain.add_item(cart, product(1), 2, NOW)
    assert fields(refused) == ["quantity"]
    assert "at most 1 more" in refused.value.details[0]["message"]
    assert added(cart, product(1), 1).items[0].quantity == QUANTITY_MAX


@pytest.mark.parametrize("quantity", [0, -1, QUANTITY_MAX + 1, True, "3", 2.0])
def test_a_quantity_outside_1_to_99_is_refused_naming_quantity(quantity: object) -> None:
    with pytest.raises(Invalid) as refused:
        domain.add_item(Cart("c"), product(), quantity, NOW)  # type: ignore[arg-type]
    assert fields(refused) == ["quantity"]


def test_a_quantity_of_0_says_to_remove_the_item_instead() -> None:
    cart = added(Cart("c"), product(1))
    with pytest.raises(Invalid) as refused:
        domain.change_quantity(cart, 1, 0, NOW)
    assert "remove" in refused.value.message


def test_a_cart_holds_at_most_fifty_different_products() -> None:
    cart = Cart("c")
    for i in range(1, LINES_MAX + 1):
        cart = added(cart, product(i))
    with pytest.raises(Invalid) as refused:
        domain.add_item(cart, product(LINES_MAX + 1), 1, NOW)
    assert fields(refused) == ["product_id"]
    assert added(cart, product(1)).items[0].quantity == 2


def test_more_than_the_stock_is_out_of_stock_counting_what_the_cart_holds() -> None:
    cart = added(Cart("c"), product(1, stock=3), 2)
    with pytest.raises(OutOfStock) as refused:
        domain.add_item(cart, product(1, stock=3), 2, NOW)
    assert refused.value.status == 409 and refused.value.code == "out_of_stock"
    assert "only 3 in stock" in refused.value.message
    with pytest.raises(OutOfStock, match="out of stock"):
        domain.add_item(Cart("c"), product(2, stock=0), 1, NOW)


@pytest.mark.parametrize("cart_id", ["", "a" * 65, "a b", "a/b", "ä", "a.b", "a\n"])
def test_a_cart_id_outside_the_alphabet_or_length_is_refused(cart_id: str) -> None:
    with pytest.raises(Invalid) as refused:
        domain.check_cart_id(cart_id)
    assert fields(refused) == ["cart_id"]


@pytest.mark.parametrize("cart_id", ["a", "a" * 64, "Session_1-x", "42"])
def test_a_cart_id_of_1_to_64_letters_digits_dashes_and_underscores_is_accepted(cart_id: str) -> None:
    assert domain.check_cart_id(cart_id) == cart_id


@pytest.mark.parametrize("product_id", [0, -1, MAX_ID + 1, True, "1"])
def test_a_product_id_outside_the_kits_range_is_refused(product_id: object) -> None:
    with pytest.raises(Invalid) as refused:
        domain.check_product_id(product_id)  # type: ignore[arg-type]
    assert fields(refused) == ["product_id"]


def test_changing_a_quantity_sets_it_and_keeps_the_price() -> None:
    cart = added(Cart("c"), product(1, "2.50"), 1)
    changed, event = domain.change_quantity(cart, 1, 4, NOW)
    assert changed.items[0].quantity == 4 and changed.total == Decimal("10.00")
    assert event.type == "CartItemQuantityChanged"
    assert event.data == {
        "cart_id": "c",
        "user_id": None,
        "product_id": 1,
        "quantity": 4,
        "previous_quantity": 1,
        "price": "2.50",
        "cart_version": 2,
    }


def test_changing_or_removing_a_product_not_in_the_cart_is_not_found() -> None:
    with pytest.raises(NotFound):
        domain.change_quantity(Cart("c"), 1, 2, NOW)
    with pytest.raises(NotFound):
        domain.remove_item(Cart("c"), 1, NOW)


def test_removing_takes_only_that_line() -> None:
    cart = added(added(Cart("c"), product(1)), product(2))
    after, event = domain.remove_item(cart, 1, NOW)
    assert [line.product_id for line in after.items] == [2]
    assert (event.type, event.data["product_id"], event.data["quantity"]) == ("CartItemRemoved", 1, 1)


def test_clearing_empties_the_cart_and_says_what_it_held() -> None:
    cart = added(Cart("c"), product(1, "0.10"), 3)
    after, event = domain.clear(cart, NOW)
    assert after.items == () and after.total == Decimal("0.00") and after.version == 2
    assert event.type == "CartCleared"
    assert event.data["items"] == [{"product_id": 1, "quantity": 3, "price": "0.10"}]


def test_an_added_item_is_announced_keyed_by_the_cart() -> None:
    cart = added(Cart("c"), product(1), 1)
    _, event = domain.add_item(cart, product(1, "0.10"), 2, NOW)
    assert (event.type, event.key, event.occurred_at) == ("CartItemAdded", "c", NOW)
    assert event.data == {
        "cart_id": "c",
        "user_id": None,
        "product_id": 1,
        "name": "Product 1",
        "quantity": 2,
        "line_quantity": 3,
        "price": "0.10",
        "cart_version": 2,
    }


def test_a_cart_reads_back_from_its_json_exactly() -> None:
    cart = added(added(Cart("c", user_id="u1"), product(1, "19.90"), 2), product(2, "0.01"), 99)
    assert Cart.from_json(cart.to_json()) == cart


def test_a_stored_total_is_never_trusted() -> None:
    document = added(Cart("c"), product(1, "0.10"), 3).to_json() | {"total": "999.00"}
    assert Cart.from_json(document).total == Decimal("0.30")


def test_a_catalog_price_with_more_than_two_decimals_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        domain.add_item(Cart("c"), product(1, "0.105"), 1, NOW)
    assert fields(refused) == ["price"]
