"""The order service's wire contracts: checkout bodies refused field by field as the kit's 422; the order as read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from mce.kit.app import create_service_app
from mce.kit.settings import BaseServiceSettings
from mce.services.order.payment import APPROVED_CARD
from mce.services.order.schemas import (
    COUNTRIES,
    CheckoutRequest,
    OrderRead,
    PaymentDetails,
    PaymentSummary,
)

NOW = datetime.now(UTC)
THIS_MONTH = f"{NOW.month:02d}/{NOW.year % 100:02d}"
GOOD: dict[str, Any] = {
    "payment": {"card_number": "4242 4242 4242 4242", "expiry": "12/99", "cvc": "123", "name": "Ada Lovelace"},
    "shipping_address": {
        "name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    },
}


def body(**changes: Any) -> dict[str, Any]:
    """GOOD with some fields changed, e.g. body(**{"payment.cvc": "12"}); a value of ... removes the field."""
    new = {part: dict(fields) for part, fields in GOOD.items()}
    for path, value in changes.items():
        part, _, name = path.partition(".")
        if value is ...:
            new[part].pop(name)
        else:
            new[part][name] = value
    return new


def _app() -> FastAPI:
    app = create_service_app("order", BaseServiceSettings(data_dir="/nonexistent-order-test"))

    @app.post("/checkout")
    async def checkout(request: CheckoutRequest) -> dict[str, Any]:
        card = request.payment
        return {
            "digits": len(card.card_number),
            "last4": card.card_number[-4:],
            **request.shipping_address.model_dump(),
        }

    return app


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    with TestClient(_app()) as client:
        yield client


def refusal(api: TestClient, sent: Any) -> tuple[dict[str, str], str]:
    """The details of a 422 answer by field, and the answer's whole text."""
    response = api.post("/checkout", json=sent)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid"
    return {d["field"]: d["message"] for d in error["details"]}, response.text


def test_a_good_checkout_is_accepted_with_the_card_number_as_digits_and_the_country_in_upper_case(
    api: TestClient,
) -> None:
    response = api.post("/checkout", json=body(**{"shipping_address.country": "gb"}))
    assert response.status_code == 200, response.text
    assert response.json() == {"digits": 16, "last4": "4242", **GOOD["shipping_address"]}


def test_a_card_expiring_this_month_is_accepted(api: TestClient) -> None:
    assert api.post("/checkout", json=body(**{"payment.expiry": THIS_MONTH})).status_code == 200


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("payment.card_number", "4242 4242 4242 4241", "not a valid card number"),
        ("payment.card_number", "4242 4242 4242 424x", "only digits, spaces and dashes"),
        ("payment.card_number", "4242 4242", "12 to 19 digits"),
        ("payment.card_number", "4" * 39, "at most 38 characters"),
        ("payment.card_number", "", "at least 1 character"),
        ("payment.card_number", 4242424242424242, "valid string"),
        ("payment.expiry", "1/2", "must be MM/YY"),
        ("payment.expiry", "13/30", "month must be 01 to 12"),
        ("payment.expiry", "01/20", "expired"),
        ("payment.expiry", "12/2099", "at most 5 characters"),
        ("payment.expiry", 1230, "valid string"),
        ("payment.cvc", "12", "3 or 4 digits"),
        ("payment.cvc", 123, "valid string"),
        ("payment.name", "   ", "blank"),
        ("payment.name", "A" * 101, "at most 100"),
        ("payment.name", "Ada\u200bLovelace", "printable"),
        ("payment.name", None, "valid string"),
        ("shipping_address.name", "", "at least 1 character"),
        ("shipping_address.name", "x" * 101, "at most 100"),
        ("shipping_address.line1", "1 Main St\x00", "control characters"),
        ("shipping_address.line1", "x" * 201, "at most 200"),
        ("shipping_address.city", " \t ", "blank"),
        ("shipping_address.city", ["London"], "valid string"),
        ("shipping_address.postal_code", "1", "at least 2"),
        ("shipping_address.postal_code", "1234567890123", "at most 12"),
        ("shipping_address.postal_code", "SW1Y_4JH", "letters, digits, spaces and dashes"),
        ("shipping_address.postal_code", "--", "letters, digits, spaces and dashes"),
        ("shipping_address.postal_code", "Ｗ１２", "letters, digits, spaces and dashes"),
        ("shipping_address.postal_code", 10115, "valid string"),
        ("shipping_address.country", "XX", "ISO 3166-1 alpha-2"),
        ("shipping_address.country", "U1", "ISO 3166-1 alpha-2"),
        ("shipping_address.country", "USA", "at most 2"),
        ("shipping_address.country", "ÜS", "ISO 3166-1 alpha-2"),
    ],
)
def test_a_bad_value_is_a_422_naming_its_field_and_why(api: TestClient, field: str, value: Any, says: str) -> None:
    details, _ = refusal(api, body(**{field: value}))
    assert list(details) == [field]
    assert says in details[field]


@pytest.mark.parametrize("field", ["payment.card_number", "payment.expiry", "payment.cvc", "shipping_address.country"])
def test_a_missing_field_is_named(api: TestClient, field: str) -> None:
    details, _ = refusal(api, body(**{field: ...}))
    assert details == {field: "Field required"}


@pytest.mark.parametrize("where", ["", "payment.", "shipping_address."])
def test_an_unknown_field_is_refused_at_every_level(api: TestClient, where: str) -> None:
    sent = body()
    target = sent if not where else sent[where.rstrip(".")]
    target["coupon"] = "FREE"
    details, _ = refusal(api, sent)
    assert details == {f"{where}coupon": "Extra inputs are not permitted"}


def test_every_problem_is_named_at_once(api: TestClient) -> None:
    details, _ = refusal(
        api, body(**{"payment.card_number": "1234", "payment.expiry": "00/30", "shipping_address.country": "zz"})
    )
    assert set(details) == {"payment.card_number", "payment.expiry", "shipping_address.country"}


@pytest.mark.parametrize(
    "sent",
    [
        body(**{"payment.card_number": "4242 4242 4242 4241"}),
        body(**{"payment.card_number": APPROVED_CARD + "0000"}),
        body(**{"payment.expiry": "01/20"}),
        body(**{"payment.cvc": "12"}),
        {**body(), "extra": APPROVED_CARD},
    ],
)
def test_no_refusal_repeats_the_card_number(api: TestClient, sent: dict[str, Any]) -> None:
    _, text = refusal(api, sent)
    assert "4242424242424" not in text and "4242 4242 4242" not in text


def test_a_checkout_request_never_shows_the_card_number_or_cvc_in_its_repr_or_errors() -> None:
    request = CheckoutRequest.model_validate(body(**{"payment.cvc": "9876"}))
    assert request.payment.card_number == APPROVED_CARD
    assert APPROVED_CARD not in repr(request) and "9876" not in repr(request)
    with pytest.raises(ValidationError) as raised:
        PaymentDetails.model_validate({**GOOD["payment"], "card_number": "4242 4242 4242 4241", "cvc": "98765"})
    assert "4242 4242 4242 4241" not in str(raised.value) and "98765" not in str(raised.value)


def test_the_country_list_is_the_249_assigned_codes() -> None:
    assert len(COUNTRIES) == 249 and {"US", "GB", "DE", "JP", "BR", "ZA", "SS", "AX"} <= COUNTRIES
    assert all(len(code) == 2 and code.isascii() and code.isupper() for code in COUNTRIES)
    assert not {"UK", "EU", "XX", "ZZ"} & COUNTRIES


@pytest.mark.parametrize("typed", ["de", "De", "DE", "dE"])
def test_a_country_is_read_in_any_case_and_kept_in_upper_case(typed: str) -> None:
    assert CheckoutRequest.model_validate(body(**{"shipping_address.country": typed})).shipping_address.country == "DE"


def test_address_text_is_kept_on_one_line() -> None:
    request = CheckoutRequest.model_validate(body(**{"shipping_address.line1": "  12  St James's\nSquare "}))
    assert request.shipping_address.line1 == "12 St James's Square"


ORDER: dict[str, Any] = {
    "id": 7,
    "status": "paid",
    "items": [
        {"product_id": 3, "name": "Hat", "quantity": 2, "price": Decimal("9.95")},
        {"product_id": 4, "name": "Scarf", "quantity": 1, "price": Decimal("0.1")},
    ],
    "total_amount": Decimal("20.00"),
    "created_at": datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC),
    "shipping_address": GOOD["shipping_address"],
    "payment": {"brand": "visa", "last4": "4242"},
    "history": [
        {"status": "created", "at": datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)},
        {"status": "paid", "at": datetime(2025, 3, 14, 9, 26, 54, tzinfo=UTC), "reason": "payment approved"},
    ],
}


def test_an_order_reads_with_money_as_two_decimal_strings_in_usd() -> None:
    wire = OrderRead.model_validate(ORDER).model_dump(mode="json")
    assert wire["total_amount"] == "20.00" and wire["currency"] == "USD"
    assert [item["price"] for item in wire["items"]] == ["9.95", "0.10"]
    assert wire["payment"] == {"brand": "visa", "last4": "4242"}
    assert wire["history"] == [
        {"status": "created", "at": "2025-03-14T09:26:53Z", "reason": None},
        {"status": "paid", "at": "2025-03-14T09:26:54Z", "reason": "payment approved"},
    ]
    assert wire["status"] == "paid" and wire["created_at"] == "2025-03-14T09:26:53Z"


def test_an_order_not_yet_paid_has_no_payment_summary() -> None:
    assert OrderRead.model_validate({**ORDER, "status": "created", "payment": None}).payment is None


@pytest.mark.parametrize("last4", [APPROVED_CARD, "424", "42424", "abcd", "４２４２"])
def test_a_payment_summary_holds_four_digits_and_never_a_card_number(last4: str) -> None:
    with pytest.raises(ValidationError):
        PaymentSummary(brand="visa", last4=last4)


@pytest.mark.parametrize(
    ("field", "value"),
    [("currency", "EUR"), ("status", "lost"), ("total_amount", Decimal("1.999")), ("total_amount", 19.9)],
)
def test_an_order_refuses_other_currencies_statuses_and_inexact_money(field: str, value: Any) -> None:
    if field == "total_amount" and isinstance(value, float):
        # Money reads a JSON number exactly by its shortest repr, so 19.9 is the amount 19.90: no refusal there.
        assert OrderRead.model_validate({**ORDER, field: value}).total_amount == Decimal("19.90")
        return
    with pytest.raises(ValidationError):
        OrderRead.model_validate({**ORDER, field: value})
