"""An order's total: exact cents from Decimal prices and whole quantities, and nothing else."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mce.kit.errors import Invalid
from mce.services.order.pricing import order_total


def test_the_total_is_the_exact_sum_of_price_times_quantity_with_two_decimals() -> None:
    total = order_total([(Decimal("19.90"), 3), (Decimal("0.1"), 1), (Decimal("0.01"), 7)])
    assert total == Decimal("59.87") and str(total) == "59.87"


def test_cents_never_drift_however_many_lines_there_are() -> None:
    # 0.1 + 0.2 in floats is 0.30000000000000004; a thousand such lines would show it.
    assert order_total([(Decimal("0.10"), 1), (Decimal("0.20"), 1)] * 1000) == Decimal("300.00")


def test_no_lines_total_zero() -> None:
    assert str(order_total([])) == "0.00"


def test_the_lines_may_be_any_iterable() -> None:
    assert order_total(line for line in [(Decimal("2.50"), 2)]) == Decimal("5.00")


def test_the_largest_amount_is_a_valid_total_and_a_cent_more_is_not() -> None:
    assert order_total([(Decimal("99999999.99"), 1)]) == Decimal("99999999.99")
    with pytest.raises(Invalid, match="total is over 99999999.99"):
        order_total([(Decimal("99999999.99"), 1), (Decimal("0.01"), 1)])


@pytest.mark.parametrize(
    ("price", "says"),
    [
        (Decimal("-0.01"), "must not be negative"),
        (Decimal("1.999"), "at most two decimals"),
        (Decimal("0.001"), "at most two decimals"),
        (Decimal("NaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (1.5, "must be a Decimal"),
        (2, "must be a Decimal"),
        ("3.00", "must be a Decimal"),
    ],
)
def test_a_price_that_is_not_a_decimal_in_cents_is_refused_naming_its_line(price: object, says: str) -> None:
    with pytest.raises(Invalid, match=says) as raised:
        order_total([(Decimal("1.00"), 1), (price, 1)])  # type: ignore[list-item]
    assert raised.value.details[0]["field"] == "items.1.price"


@pytest.mark.parametrize("quantity", [0, -1, True, 1.0, "2", Decimal("2")])
def test_a_quantity_must_be_a_whole_number_of_at_least_one(quantity: object) -> None:
    with pytest.raises(Invalid, match="quantity") as raised:
        order_total([(Decimal("1.00"), quantity)])  # type: ignore[list-item]
    assert raised.value.details[0]["field"] == "items.0.quantity"


@pytest.mark.parametrize("quantity", [10**10, 10**15, 10**16, 10**40])
def test_a_huge_quantity_is_refused_for_its_total_never_rounded(quantity: int) -> None:
    with pytest.raises(Invalid, match="total is over"):
        order_total([(Decimal("0.01"), quantity)])
