"""The order service's wire contracts: the checkout request and the order as the API answers with it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mce.kit.contracts import Id, ShopperKey, single_line
from mce.kit.money import Money
from mce.services.order.lifecycle import Status
from mce.services.order.payment import (
    CARD_DIGITS_MAX,
    HOLDER_MAX,
    check_card_number,
    check_cvc,
    check_expiry,
    check_holder_name,
)

ADDRESS_NAME_MAX = 100
LINE1_MAX = 200
CITY_MAX = 100
# Separators people type between the digits, at most one per digit.
CARD_INPUT_MAX = 2 * CARD_DIGITS_MAX
# Every ISO 3166-1 alpha-2 code assigned today (249, as in the IANA time zone database's iso3166.tab).
COUNTRIES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO
    FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE
    JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO
    MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM
    TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split()  # noqa: SIM905
)
_POSTAL_CODE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 -]*[A-Za-z0-9])?", re.ASCII)


def country_code(value: str) -> str:
    """An ISO 3166-1 alpha-2 code in upper case, read in any case."""
    code = value.upper()
    if code not in COUNTRIES:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, e.g. US or DE")
    return code


def postal_code(value: str) -> str:
    """Letters, digits, spaces and dashes, starting and ending with a letter or digit."""
    if not _POSTAL_CODE.fullmatch(value):
        raise ValueError("must be letters, digits, spaces and dashes, starting and ending with a letter or digit")
    return value


def _expiry(value: str) -> str:
    # A card works through its expiry month wherever the shopper is; UTC is at most a day off at a month's edge.
    check_expiry(value, today=datetime.now(UTC).date())
    return value


ShortText = Annotated[str, Field(min_length=1), AfterValidator(single_line)]
# repr=False: a logged or printed request never shows the card number or the security code.
CardNumber = Annotated[
    str, Field(min_length=1, max_length=CARD_INPUT_MAX, repr=False), AfterValidator(check_card_number)
]
Expiry = Annotated[str, Field(max_length=5), AfterValidator(_expiry)]
Cvc = Annotated[str, Field(repr=False), AfterValidator(check_cvc)]
HolderName = Annotated[str, Field(max_length=4 * HOLDER_MAX), AfterValidator(check_holder_name)]
Country = Annotated[str, Field(min_length=2, max_length=2), AfterValidator(country_code)]
PostalCode = Annotated[
    str, Field(min_length=2, max_length=12), AfterValidator(single_line), AfterValidator(postal_code)
]

# Strict: a card number or postal code sent as a JSON number is refused rather than turned into text (losing
# leading zeros); hide_input_in_errors: a validation error's text never repeats what was typed, card number included.
_INPUT = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True)


class PaymentDetails(BaseModel):
    """The card a shopper pays with, as typed; `card_number` comes out as its digits only."""

    model_config = _INPUT

    card_number: CardNumber
    expiry: Expiry = Field(description="MM/YY, e.g. 04/29")
    cvc: Cvc
    name: HolderName = Field(description="The cardholder's name as on the card")


class ShippingAddress(BaseModel):
    """Where an order goes."""

    model_config = _INPUT

    name: Annotated[ShortText, Field(max_length=ADDRESS_NAME_MAX)]
    line1: Annotated[ShortText, Field(max_length=LINE1_MAX)]
    city: Annotated[ShortText, Field(max_length=CITY_MAX)]
    postal_code: PostalCode
    country: Country = Field(description="ISO 3166-1 alpha-2, e.g. US; read in any case")


class CheckoutRequest(BaseModel):
    """A checkout: the card to charge and where to ship."""

    model_config = _INPUT

    payment: PaymentDetails
    shipping_address: ShippingAddress


class OrderItemRead(BaseModel):
    """One line of an order, at the price it was bought for."""

    model_config = ConfigDict(frozen=True)

    product_id: Id
    name: str
    quantity: int
    price: Money


class StatusChangeRead(BaseModel):
    """A status an order reached, when and why."""

    model_config = ConfigDict(frozen=True)

    status: Status
    at: datetime
    reason: str | None = None


class PaymentSummary(BaseModel):
    """The card an order was paid with, as it may be shown: the brand and the last four digits, nothing more."""

    model_config = ConfigDict(frozen=True)

    brand: str
    last4: Annotated[str, Field(pattern=r"^[0-9]{4}$")]


class OrderRead(BaseModel):
    """An order as the API answers with it."""

    model_config = ConfigDict(frozen=True)

    id: Id
    status: Status
    items: list[OrderItemRead]
    total_amount: Money
    currency: Literal["USD"] = "USD"
    created_at: datetime
    shipping_address: ShippingAddress
    payment: PaymentSummary | None = None
    history: list[StatusChangeRead]


Owner = ShopperKey


class OrderCheckout(CheckoutRequest):
    """A checkout as the gateway sends it: for whom (the shopper's cart key, decided from the session), and how."""

    owner: Owner = Field(description="The shopper's cart key: account-<id> or guest-<id>")


class StatusChangeRequest(BaseModel):
    """A status staff move an order to, and why."""

    model_config = ConfigDict(extra="forbid")

    status: Status
    reason: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(single_line)] | None = None


class OrderClaim(BaseModel):
    """Move a guest's orders to the account the guest just signed in to."""

    model_config = ConfigDict(extra="forbid")

    from_owner: Owner
    to_owner: Owner


class OrderPage(BaseModel):
    """One page of orders, newest first, and how many there are in all."""

    items: list[OrderRead]
    total: int
    limit: int
    offset: int
