"""Money on the wire and in code: exact Decimal amounts, read from a number or a decimal string, written as a string.

Every service, schema, event and consumer uses this one type, so an amount is never a float anywhere. On the wire an
amount is written as a string with exactly two decimals (`"19.90"`), which every JSON parser reads without rounding;
it is read from a JSON number (`19.9`) or a decimal string (`"19.9"`, `"19.90"`) with at most two decimals.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

CENTS = Decimal("0.01")
MAX_AMOUNT = Decimal("99999999.99")
# A plain decimal: digits, optionally a point and more digits; no exponent, sign, spaces or thousands separators.
_PLAIN_DECIMAL = re.compile(r"^\d{1,12}(\.\d{1,12})?$")


class MoneyError(ValueError):
    """An amount that is not a valid price."""


def parse_amount(value: Any) -> Decimal:
    """An exact amount from a JSON number, a decimal string or a Decimal; raises MoneyError saying what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise MoneyError('must be a number or a decimal string such as "19.99"')
    if isinstance(value, str):
        if not _PLAIN_DECIMAL.match(value):
            raise MoneyError('must be a decimal such as "19.99", with a point for cents and no other signs')
        amount = Decimal(value)
    else:
        try:
            # str() of a float is its shortest exact repr, so 19.99 reads as 19.99, not 19.989999...
            amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        except InvalidOperation:
            raise MoneyError("must be a finite number") from None
    if not amount.is_finite():
        raise MoneyError("must be a finite number")
    if amount < 0:
        raise MoneyError("must not be negative")
    # Before the decimals: quantizing a huge number (1e308) overflows the decimal context.
    if amount > MAX_AMOUNT:
        raise MoneyError(f"must be at most {MAX_AMOUNT}")
    if amount != amount.quantize(CENTS, rounding="ROUND_DOWN"):
        raise MoneyError("must have at most two decimals")
    return amount.quantize(CENTS)


def format_amount(amount: Decimal) -> str:
    """The wire form: two decimals, no exponent, no separators."""
    return f"{amount.quantize(CENTS):f}"


def _validate(value: Any) -> Decimal:
    try:
        return parse_amount(value)
    except MoneyError as exc:
        # pydantic turns a ValueError into a field error carrying this message.
        raise ValueError(str(exc)) from None


Money = Annotated[
    Decimal,
    BeforeValidator(_validate),
    PlainSerializer(format_amount, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\d{1,8}(\.\d{1,2})?$", "examples": ["19.99"]},
                {"type": "number", "minimum": 0, "maximum": float(MAX_AMOUNT), "multipleOf": 0.01},
            ],
            "description": 'An exact amount: a number or a decimal string with at most two decimals, e.g. "19.99"',
        },
        mode="validation",
    ),
    WithJsonSchema(
        {"type": "string", "pattern": r"^\d{1,8}\.\d{2}$", "examples": ["19.99"], "description": "An exact amount"},
        mode="serialization",
    ),
]
