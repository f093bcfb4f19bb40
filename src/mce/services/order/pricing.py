"""An order's total from its lines, exact to the cent; no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from mce.kit.errors import Invalid, problem
from mce.kit.money import CENTS, MAX_AMOUNT, MoneyError, parse_amount


def order_total(lines: Iterable[tuple[Decimal, int]]) -> Decimal:
    """Sum of price x quantity over `(price, quantity)` lines to the cent; Invalid for a bad line or too big a total."""
    total = Decimal("0")
    for index, (price, quantity) in enumerate(lines):
        field = f"items.{index}"
        if not isinstance(price, Decimal):
            # A float price has already lost cents on the way here; refuse it rather than guess them back.
            raise Invalid(
                f"line {index}: a price must be a Decimal", details=[problem(f"{field}.price", "not a Decimal")]
            )
        try:
            parse_amount(price)
        except MoneyError as exc:
            raise Invalid(f"line {index}: price {exc}", details=[problem(f"{field}.price", str(exc))]) from None
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise Invalid(
                f"line {index}: quantity must be a whole number of at least 1",
                details=[problem(f"{field}.quantity", "must be a whole number of at least 1")],
            )
        # Capped so the product stays exact in the decimal context; a capped line of a non-zero price is over the
        # largest amount anyway, so the cap changes no answer but keeps a hostile quantity from being rounded.
        total += price * min(quantity, 10**15)
        if total > MAX_AMOUNT:
            raise Invalid(
                f"the order total is over {MAX_AMOUNT}", details=[problem("items", f"total over {MAX_AMOUNT}")]
            )
    return total.quantize(CENTS)
