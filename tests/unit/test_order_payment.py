"""The simulated card payment: card checks, the test cards' outcomes, stable references, and no card number leaks."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import pytest

from mce.kit.errors import Unavailable
from mce.services.order import payment
from mce.services.order.payment import (
    APPROVED_CARD,
    DECLINED_CARD,
    INSUFFICIENT_FUNDS_CARD,
    TIMEOUT_CARD,
    Card,
    CardError,
    PaymentResult,
    PaymentTimeout,
    charge,
    check_card_number,
    check_cvc,
    check_expiry,
    check_holder_name,
    luhn_valid,
    read_card,
    reference,
)

TODAY = date(2025, 6, 15)
TEST_CARDS = [APPROVED_CARD, DECLINED_CARD, INSUFFICIENT_FUNDS_CARD, TIMEOUT_CARD]
# Public test numbers of the major networks, each known to pass the Luhn check.
OTHER_VALID = ["378282246310005", "5555555555554444", "6011111111111117", "4111111111111111"]


def _luhn(digits: str) -> bool:
    """An independent Luhn check: double every second digit from the right and add the digits of the products."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char) * (2 if i % 2 else 1)
        total += sum(int(d) for d in str(n))
    return total % 10 == 0


def card(number: str = APPROVED_CARD) -> Card:
    return read_card(card_number=number, expiry="12/30", cvc="123", name="Ada Lovelace", today=TODAY)


def test_the_documented_test_numbers_are_in_the_docstring_and_pass_luhn() -> None:
    doc = payment.__doc__ or ""
    for number in TEST_CARDS:
        assert _luhn(number) and luhn_valid(number)
        grouped = " ".join(number[i : i + 4] for i in range(0, 16, 4))
        assert grouped in doc


@pytest.mark.parametrize("number", ["79927398713", *OTHER_VALID, *TEST_CARDS])
def test_luhn_accepts_numbers_that_pass_it(number: str) -> None:
    assert luhn_valid(number) and _luhn(number)


@pytest.mark.parametrize("number", ["79927398710", "4242424242424241", "4000000000000001", "5555555555554445"])
def test_luhn_refuses_a_wrong_check_digit(number: str) -> None:
    assert not luhn_valid(number)


def test_luhn_agrees_with_an_independent_check_on_every_last_digit() -> None:
    for stem in ("424242424242424", "400000000000000", "37828224631000", "12345678901"):
        for last in "0123456789":
            assert luhn_valid(stem + last) is _luhn(stem + last)


@pytest.mark.parametrize(
    "typed", ["4242 4242 4242 4242", "4242-4242-4242-4242", " 4242 4242-4242 4242 ", "4242424242424242"]
)
def test_a_card_number_may_be_typed_with_spaces_and_dashes(typed: str) -> None:
    assert check_card_number(typed) == APPROVED_CARD


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("4242 4242 4242 4241", "check digit"),
        ("4242.4242.4242.4242", "only digits"),
        ("4242\t4242 4242 4242", "only digits"),
        ("4242\u00a04242 4242 4242", "only digits"),
        ("４２４２４２４２４２４２４２４２", "only digits"),  # full-width digits pass str.isdigit()
        ("٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢", "only digits"),  # Arabic-Indic digits match a Unicode \d
        ("4242424242424242\n", "only digits"),
        ("+4242424242424242", "only digits"),
        ("", "only digits"),
        ("   ", "only digits"),
        ("42424242424", "12 to 19 digits"),
        ("4" * 20, "12 to 19 digits"),
    ],
)
def test_a_card_number_that_cannot_be_one_is_refused_saying_why(typed: str, says: str) -> None:
    with pytest.raises(CardError, match=says):
        check_card_number(typed)


def test_card_numbers_of_12_and_19_digits_are_accepted() -> None:
    for stem in ("12345678901", "123456789012345678"):
        number = next(stem + last for last in "0123456789" if _luhn(stem + last))
        assert check_card_number(number) == number


def test_a_card_expiring_this_month_is_accepted_until_its_last_day() -> None:
    assert check_expiry("06/25", today=date(2025, 6, 30)) == (6, 2025)
    assert check_expiry("06/25", today=date(2025, 6, 1)) == (6, 2025)


def test_a_card_that_expired_last_month_is_refused() -> None:
    with pytest.raises(CardError, match="expired"):
        check_expiry("05/25", today=TODAY)
    with pytest.raises(CardError, match="expired"):
        check_expiry("12/24", today=date(2025, 1, 1))


def test_a_future_expiry_is_read_as_month_and_full_year() -> None:
    assert check_expiry("01/26", today=TODAY) == (1, 2026)
    assert check_expiry("12/99", today=TODAY) == (12, 2099)


@pytest.mark.parametrize("bad_month", ["13/30", "00/30", "99/30"])
def test_a_month_outside_1_to_12_is_refused(bad_month: str) -> None:
    with pytest.raises(CardError, match="month must be 01 to 12"):
        check_expiry(bad_month, today=TODAY)


@pytest.mark.parametrize(
    "malformed",
    ["1/2", "1/30", "01/2", "01/2030", "0130", "01-30", " 01/30", "01/30\n", "01 / 30", "", "٠١/٣٠", "ab/cd"],
)
def test_an_expiry_that_is_not_mm_slash_yy_is_refused(malformed: str) -> None:
    with pytest.raises(CardError, match="must be MM/YY"):
        check_expiry(malformed, today=TODAY)


@pytest.mark.parametrize("good", ["123", "0000", "9999"])
def test_a_cvc_has_3_or_4_digits(good: str) -> None:
    assert check_cvc(good) == good


@pytest.mark.parametrize("bad", ["12", "12345", "12a", " 123", "123\n", "１２３", "", "-123"])
def test_any_other_cvc_is_refused(bad: str) -> None:
    with pytest.raises(CardError, match="3 or 4 digits"):
        check_cvc(bad)


def test_a_holder_name_is_kept_on_one_line_up_to_100_characters() -> None:
    assert check_holder_name("  Ada   Lovelace ") == "Ada Lovelace"
    assert check_holder_name("Zoë O'Brien-Núñez") == "Zoë O'Brien-Núñez"
    assert check_holder_name("A" * 100) == "A" * 100


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("", "blank"),
        ("   ", "blank"),
        ("A" * 101, "at most 100"),
        ("Ada\x00Lovelace", "control characters"),
        ("Ada\x1b[31mLovelace", "control characters"),
        ("Ada\u200bLovelace", "printable"),  # zero-width space: invisible, so never on a card
        ("Ada\u202eLovelace", "printable"),  # right-to-left override, a classic spoofing trick
    ],
)
def test_a_holder_name_that_is_blank_too_long_or_unprintable_is_refused(bad: str, says: str) -> None:
    with pytest.raises(CardError, match=says):
        check_holder_name(bad)


def test_a_card_reads_every_detail_and_keeps_the_number_out_of_its_repr() -> None:
    read = read_card(card_number="4242-4242-4242-4242", expiry="07/27", cvc="987", name=" Ada ", today=TODAY)
    assert (read.number, read.exp_month, read.exp_year, read.cvc, read.name) == (APPROVED_CARD, 7, 2027, "987", "Ada")
    assert (read.brand, read.last4) == ("visa", "4242")
    assert APPROVED_CARD not in repr(read) and "987" not in repr(read) and "4242" not in repr(read)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("378282246310005", "amex"),
        ("4111111111111111", "visa"),
        ("5555555555554444", "mastercard"),
        ("6011111111111117", "discover"),
        ("700000000005", "card"),
        ("1000000000009", "card"),
    ],
)
def test_the_brand_is_guessed_from_the_first_digit(number: str, expected: str) -> None:
    assert _luhn(number)
    assert card(number).brand == expected


def test_the_approving_test_card_is_approved() -> None:
    result = charge(card(APPROVED_CARD), amount=Decimal("19.90"), idempotency_key="k1")
    assert result == PaymentResult(
        approved=True, reason=None, reference=reference("k1"), amount=Decimal("19.90"), brand="visa", last4="4242"
    )


@pytest.mark.parametrize(
    ("number", "reason"), [(DECLINED_CARD, "card declined"), (INSUFFICIENT_FUNDS_CARD, "insufficient funds")]
)
def test_the_declining_test_cards_are_declined_with_their_reason(number: str, reason: str) -> None:
    result = charge(card(number), amount=Decimal("5"), idempotency_key="k2")
    assert (result.approved, result.reason, result.last4) == (False, reason, number[-4:])


def test_the_timeout_test_card_raises_a_payment_timeout_a_retryable_unavailable() -> None:
    with pytest.raises(PaymentTimeout) as raised:
        charge(card(TIMEOUT_CARD), amount=Decimal("5.00"), idempotency_key="k3")
    assert isinstance(raised.value, Unavailable) and raised.value.status == 503
    assert raised.value.service == "payment" and "retry-after" in raised.value.headers


@pytest.mark.parametrize("number", OTHER_VALID)
def test_any_other_valid_number_is_approved(number: str) -> None:
    assert charge(card(number), amount=Decimal("1.00"), idempotency_key="k4").approved


def test_a_retried_charge_gets_the_same_reference_and_another_key_another() -> None:
    first = charge(card(), amount=Decimal("10.00"), idempotency_key="order-7-attempt")
    again = charge(card(), amount=Decimal("10.00"), idempotency_key="order-7-attempt")
    other = charge(card(), amount=Decimal("10.00"), idempotency_key="order-8-attempt")
    assert first.reference == again.reference != other.reference
    assert first.reference.startswith("pay_") and len(first.reference) == 28


def test_the_reference_is_the_same_in_every_process() -> None:
    # A fixed value: a reference built from hash() or a random salt would change after a restart.
    assert reference("abc") == "pay_ba7816bf8f01cfea414140de"


@pytest.mark.parametrize("key", ["", "k" * 201])
def test_an_idempotency_key_must_be_1_to_200_characters(key: str) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        charge(card(), amount=Decimal("1.00"), idempotency_key=key)


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-1.00"), Decimal("1.001"), Decimal("NaN"), 1.5, 2, "3.00"])
def test_a_charge_needs_a_positive_decimal_amount_in_cents(amount: object) -> None:
    with pytest.raises(ValueError):
        charge(card(), amount=amount, idempotency_key="k5")  # type: ignore[arg-type]


def test_no_result_or_error_ever_holds_the_full_card_number(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for i, number in enumerate([*TEST_CARDS, *OTHER_VALID]):
        try:
            seen.append(repr(charge(card(number), amount=Decimal("1.00"), idempotency_key=f"key-{i}")))
        except PaymentTimeout as exc:
            seen.append(f"{exc} {exc.message} {exc.details}")
        grouped = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
        for typed in (number[:-1] + str((int(number[-1]) + 1) % 10), grouped + "x", number + "0" * 5):
            with pytest.raises(CardError) as raised:
                check_card_number(typed)
            seen.append(str(raised.value))
    seen.append(caplog.text)
    for number in [*TEST_CARDS, *OTHER_VALID]:
        for text in seen:
            assert number not in text and number[:-4] not in text
