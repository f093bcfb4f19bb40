"""A simulated card payment: card checks (Luhn, expiry, CVC, holder) and a charge decided by the card number; no I/O.

Test card numbers (all pass the Luhn check; spaces and dashes are ignored):

- 4242 4242 4242 4242  approved
- 4000 0000 0000 0002  declined: "card declined"
- 4000 0000 0000 9995  declined: "insufficient funds"
- 4000 0000 0000 0119  the payment service does not answer: PaymentTimeout
- any other number that passes the checks is approved.

A card number is never kept, returned, logged or put in an error message: a result keeps only its last four digits
and a brand guessed from its first digit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from mce.kit.contracts import single_line
from mce.kit.errors import Unavailable
from mce.kit.money import parse_amount

APPROVED_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"
TIMEOUT_CARD = "4000000000000119"
DECLINES = {DECLINED_CARD: "card declined", INSUFFICIENT_FUNDS_CARD: "insufficient funds"}

CARD_DIGITS_MIN, CARD_DIGITS_MAX = 12, 19
HOLDER_MAX = 100
IDEMPOTENCY_KEY_MAX = 200
# A guess only: the first digit names the card network for the common ones.
BRANDS = {"3": "amex", "4": "visa", "5": "mastercard", "6": "discover"}
UNKNOWN_BRAND = "card"

# ASCII digits only: str.isdigit() and \d also accept other scripts' digits and superscripts.
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_SEPARATORS = re.compile(r"[ -]")
_EXPIRY = re.compile(r"([0-9]{2})/([0-9]{2})", re.ASCII)
_CVC = re.compile(r"[0-9]{3,4}", re.ASCII)


class CardError(ValueError):
    """A card detail that cannot be charged; the message says why and never repeats the card's digits."""


class PaymentTimeout(Unavailable):
    """The payment service did not answer in time; the charge is in doubt, so retry it with the same key."""

    def __init__(self) -> None:
        super().__init__("the payment service did not answer in time; try again", service="payment")


def check_card_number(value: str) -> str:
    """The card number's digits, spaces and dashes removed, or CardError when it cannot be a card number."""
    digits = _SEPARATORS.sub("", value)
    if not _DIGITS.fullmatch(digits):
        raise CardError("must contain only digits, spaces and dashes")
    if not CARD_DIGITS_MIN <= len(digits) <= CARD_DIGITS_MAX:
        raise CardError(f"must have {CARD_DIGITS_MIN} to {CARD_DIGITS_MAX} digits")
    if not luhn_valid(digits):
        raise CardError("is not a valid card number (check digit mismatch); check it for a typo")
    return digits


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check that every card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def check_expiry(value: str, *, today: date) -> tuple[int, int]:
    """(month, year) of an `MM/YY` expiry, or CardError when it is malformed or before `today`'s month."""
    found = _EXPIRY.fullmatch(value)
    if not found:
        raise CardError("must be MM/YY, e.g. 04/29")
    month, year = int(found[1]), 2000 + int(found[2])
    if not 1 <= month <= 12:
        raise CardError("month must be 01 to 12")
    # A card works through the last day of its expiry month.
    if (year, month) < (today.year, today.month):
        raise CardError("the card has expired")
    return month, year


def check_cvc(value: str) -> str:
    """The 3 or 4 digit security code, or CardError."""
    if not _CVC.fullmatch(value):
        raise CardError("must be 3 or 4 digits")
    return value


def check_holder_name(value: str) -> str:
    """The cardholder's name on one line, 1 to 100 printable characters, or CardError."""
    try:
        name = single_line(value)
    except ValueError as exc:
        raise CardError(str(exc)) from None
    if len(name) > HOLDER_MAX:
        raise CardError(f"must be at most {HOLDER_MAX} characters")
    if not name.isprintable():
        raise CardError("must contain only printable characters")
    return name


def guess_brand(digits: str) -> str:
    """The card network guessed from the first digit."""
    return BRANDS.get(digits[:1], UNKNOWN_BRAND)


def reference(idempotency_key: str) -> str:
    """The payment reference for a charge: the same key always gives the same reference."""
    if not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX:
        raise ValueError(f"an idempotency key has 1 to {IDEMPOTENCY_KEY_MAX} characters")
    return "pay_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Card:
    """A card that passed every check; its repr never shows the number or the security code."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = field(repr=False)
    name: str

    @property
    def last4(self) -> str:
        """The last four digits, all of the number that may be kept or shown."""
        return self.number[-4:]

    @property
    def brand(self) -> str:
        """The card network, guessed."""
        return guess_brand(self.number)


def read_card(*, card_number: str, expiry: str, cvc: str, name: str, today: date) -> Card:
    """A checked card from what the shopper typed, or CardError for the first detail that is wrong."""
    month, year = check_expiry(expiry, today=today)
    return Card(check_card_number(card_number), month, year, check_cvc(cvc), check_holder_name(name))


@dataclass(frozen=True)
class PaymentResult:
    """The outcome of a charge: approved or why not, its reference, and the card as it may be kept."""

    approved: bool
    reason: str | None
    reference: str
    amount: Decimal
    brand: str
    last4: str


def charge(card: Card, *, amount: Decimal, idempotency_key: str) -> PaymentResult:
    """Charge the card: approved or declined with a reason (or PaymentTimeout); one key always gives one reference."""
    if not isinstance(amount, Decimal) or parse_amount(amount) <= 0:
        raise ValueError("a charge needs a positive Decimal amount with at most two decimals")
    ref = reference(idempotency_key)
    if card.number == TIMEOUT_CARD:
        raise PaymentTimeout()
    declined = DECLINES.get(card.number)
    return PaymentResult(
        approved=declined is None,
        reason=declined,
        reference=ref,
        amount=amount.quantize(Decimal("0.01")),
        brand=card.brand,
        last4=card.last4,
    )
