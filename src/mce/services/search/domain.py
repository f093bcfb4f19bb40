"""Search rules without I/O: the validated query, the page it finds, how product events become index changes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from mce.kit.contracts import (
    PAGE_LIMIT_DEFAULT,
    PRODUCT_CREATED,
    PRODUCT_DELETED,
    PRODUCT_UPDATED,
    QUERY_MAX,
    CategoryName,
    Limit,
    Offset,
    ProductDeletedPayload,
    ProductPayload,
    SearchSort,
)
from mce.kit.errors import Invalid
from mce.kit.events import Event
from mce.kit.money import Money, format_amount
from mce.services.search.analysis import hint_for

if TYPE_CHECKING:
    from mce.services.search.index.port import SearchIndex

log = logging.getLogger(__name__)

PRODUCT_UPSERT_EVENTS = frozenset({PRODUCT_CREATED, PRODUCT_UPDATED})


def _blank_means_any(value: Any) -> Any:
    """An empty filter comes from a blank form field and means the filter is not set."""
    return None if value == "" else value


class SearchQuery(BaseModel):
    """What a shopper asks for; the search API reads it from the query string, so validation is the API's."""

    model_config = ConfigDict(frozen=True)

    q: Annotated[
        str,
        Field(max_length=QUERY_MAX, description="Words to find: as written, as the start of a word, or with a typo"),
    ] = ""
    category: Annotated[
        CategoryName | None, BeforeValidator(_blank_means_any), Field(description="Only products in this category")
    ] = None
    min_price: Annotated[
        Money | None, BeforeValidator(_blank_means_any), Field(description="Lowest price, inclusive")
    ] = None
    max_price: Annotated[
        Money | None, BeforeValidator(_blank_means_any), Field(description="Highest price, inclusive")
    ] = None
    sort: Annotated[
        SearchSort, Field(description="relevance (newest first when there are no words), price_asc or price_desc")
    ] = "relevance"
    limit: Limit = PAGE_LIMIT_DEFAULT
    offset: Offset = 0

    @field_validator("q")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        return value.strip()

    @field_validator("max_price")
    @classmethod
    def _not_below_min_price(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        lowest = info.data.get("min_price")
        if value is not None and lowest is not None and lowest > value:
            raise PydanticCustomError("price_range", "must not be less than min_price")
        return value

    @property
    def hint(self) -> str | None:
        """What to tell the shopper when the text has nothing to search for (only stop words or symbols), else None."""
        return hint_for(self.q)

    @property
    def min_cents(self) -> int | None:
        """The lowest price in cents, as the index stores prices."""
        return None if self.min_price is None else cents(self.min_price)

    @property
    def max_cents(self) -> int | None:
        """The highest price in cents, as the index stores prices."""
        return None if self.max_price is None else cents(self.max_price)


def cents(amount: Decimal) -> int:
    """An exact amount in whole cents; Money has at most two decimals, so nothing is rounded."""
    return int(amount.scaleb(2))


@dataclass(frozen=True)
class SearchPage:
    """One page of matching products, how many match in all, product counts per category, and any hint."""

    items: list[dict[str, Any]]
    total: int
    category_counts: dict[str, int] = field(default_factory=dict)
    hint: str | None = None

    @classmethod
    def hinted(cls, hint: str) -> SearchPage:
        """The answer to a query that has nothing to search for: no products, and what to try instead."""
        return cls(items=[], total=0, category_counts={}, hint=hint)


@dataclass(frozen=True)
class Product:
    """A product as the product service publishes it: its fields checked against the wire contract, and its JSON."""

    payload: ProductPayload
    document: dict[str, Any]

    @property
    def id(self) -> int:
        """The product's id."""
        return self.payload.id

    @property
    def version(self) -> int:
        """The product's version."""
        return self.payload.version

    @property
    def price_cents(self) -> int:
        """The exact price in cents, for price filters and sorting."""
        return cents(self.payload.price)


def parse_product(data: dict[str, Any]) -> Product:
    """A Product from its published JSON, or Invalid naming what is wrong with it."""
    # Search answers with the JSON as published, fields it does not know included; only the price is written in
    # the wire form ("12.50"), whatever form an older event carried it in.
    try:
        payload = ProductPayload.model_validate(data)
    except ValidationError as exc:
        raise Invalid(f"malformed product {data.get('id')!r}: {_summarise(exc)}") from None
    return Product(payload, {**data, "price": format_amount(payload.price)})


@dataclass(frozen=True)
class ProductUpsert:
    """Make this version of a product searchable, replacing any older one."""

    product: Product

    @property
    def product_id(self) -> int:
        """The product changed."""
        return self.product.id

    @property
    def version(self) -> int:
        """The product's version after the change."""
        return self.product.version


@dataclass(frozen=True)
class ProductRemoval:
    """The product was deleted at this version; older versions of it must not come back."""

    product_id: int
    version: int


ProductChange = ProductUpsert | ProductRemoval


def change_from_event(event: Event) -> ProductChange | None:
    """The index change an event asks for; None for event types search does not follow."""
    if event.type in PRODUCT_UPSERT_EVENTS:
        return ProductUpsert(parse_product(event.data))
    if event.type == PRODUCT_DELETED:
        try:
            deleted = ProductDeletedPayload.model_validate(event.data)
        except ValidationError as exc:
            raise Invalid(f"malformed {event.type} event {event.event_id}: {_summarise(exc)}") from None
        return ProductRemoval(product_id=deleted.id, version=deleted.version)
    return None


def apply_product_events(index: SearchIndex, events: Sequence[Event]) -> int:
    """Apply a batch of product events in one index write and return how many changed it; stale ones do not."""
    changes = []
    for event in events:
        change = change_from_event(event)
        if change is None:
            log.debug("ignoring %s event %s", event.type, event.event_id)
        else:
            changes.append(change)
    # The index compares versions under its write lock, so a replay or a racing rebuild never goes backwards.
    return index.apply(changes)


def _summarise(exc: ValidationError) -> str:
    """Pydantic errors as 'field: message' pairs."""
    return "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5])
