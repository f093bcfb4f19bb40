"""The wire contracts more than one service reads: limits, ids, text rules, product and category payloads, pages.

The product service, the gateway, search and the tests' fakes all validate with these, so none of them can accept
what another refuses. Pure pydantic: no I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from mce.kit.errors import Invalid, problem
from mce.kit.events import Event
from mce.kit.money import Money

# Ids and versions are 32-bit integers in PostgreSQL.
MAX_ID = 2**31 - 1
NAME_MAX = 255
DESCRIPTION_MAX = 5000
CATEGORY_MAX = 64
URL_MAX = 2048
QUERY_MAX = 200
STOCK_MAX = 1_000_000_000
STOCK_DELTA_MAX = 1_000_000
REASON_MAX = 200
PAGE_LIMIT_DEFAULT = 20
PAGE_LIMIT_MAX = 100
# offset + limit stays within 10,000: the deepest result window a search engine serves (OpenSearch's
# max_result_window), and deeper than anyone pages a listing.
MAX_OFFSET = 10_000 - PAGE_LIMIT_MAX

PRODUCTS_TOPIC = "products"
ORDERS_TOPIC = "orders"
# Whose a cart or an order is: the gateway's key for a shopper, `account-<id>` or `guest-<id>`, the same at the cart
# and order services.
SHOPPER_KEY_MAX = 64
SHOPPER_KEY_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_SHOPPER_KEY = re.compile(SHOPPER_KEY_PATTERN)
ShopperKey = Annotated[str, Field(min_length=1, max_length=SHOPPER_KEY_MAX, pattern=SHOPPER_KEY_PATTERN)]


def check_shopper_key(value: object, field: str) -> str:
    """The key as given, or Invalid naming the field: 1 to 64 letters, digits, '-' or '_' (fullmatch: no newline)."""
    if not isinstance(value, str) or not _SHOPPER_KEY.fullmatch(value):
        raise Invalid(
            f"{field} is 1 to {SHOPPER_KEY_MAX} letters, digits, '-' or '_'",
            details=[problem(field, f"must be 1 to {SHOPPER_KEY_MAX} of A-Z, a-z, 0-9, '-' and '_'")],
        )
    return value


# A cart's limits: the cart service enforces them, the gateway checks them first, the pages draw them.
CART_QUANTITY_MIN = 1
CART_QUANTITY_MAX = 99
CART_LINES_MAX = 50
PRODUCT_CREATED, PRODUCT_UPDATED, PRODUCT_DELETED = "ProductCreated", "ProductUpdated", "ProductDeleted"

ProductSort = Literal["newest", "name", "price_asc", "price_desc", "id"]
SearchSort = Literal["relevance", "price_asc", "price_desc"]
PRODUCT_SORTS: tuple[str, ...] = get_args(ProductSort)
SEARCH_SORTS: tuple[str, ...] = get_args(SearchSort)


def no_control_chars(value: str) -> str:
    """Refuse control characters other than line breaks and tabs; they only ever arrive by mistake or malice."""
    if any((ord(ch) < 32 and ch not in "\n\r\t") or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


def single_line(value: str) -> str:
    """One line of text with inner whitespace collapsed, never blank."""
    value = no_control_chars(" ".join(value.split()))
    if not value:
        raise ValueError("must not be blank")
    return value


def web_address(value: str | None) -> str | None:
    """An absolute http(s) URL or a path on this site; empty means none."""
    if value is None or value == "":
        return None
    if not value.startswith(("http://", "https://", "/")) or value.startswith("//") or any(c.isspace() for c in value):
        raise ValueError("must be an http(s) URL or a path starting with /")
    return no_control_chars(value)


Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
Version = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
Stock = Annotated[int, Field(strict=True, ge=0, le=STOCK_MAX)]
StockDelta = Annotated[int, Field(strict=True, ge=-STOCK_DELTA_MAX, le=STOCK_DELTA_MAX)]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(single_line)]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX), AfterValidator(no_control_chars)]
CategoryName = Annotated[str, Field(min_length=1, max_length=CATEGORY_MAX), AfterValidator(single_line)]
ImageUrl = Annotated[str | None, Field(max_length=URL_MAX), AfterValidator(web_address)]
SearchWords = Annotated[str, Field(max_length=QUERY_MAX), AfterValidator(no_control_chars)]
Reason = Annotated[str, Field(min_length=1, max_length=REASON_MAX), AfterValidator(single_line)]
Limit = Annotated[int, Field(ge=1, le=PAGE_LIMIT_MAX)]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]


def category_key(name: str) -> str:
    """The form two category names share when they are the same category: case and spacing ignored."""
    return " ".join(name.split()).casefold()


class ProductListQuery(BaseModel):
    """The parameters of a product listing (one model, so the framework validates them in one go)."""

    limit: Limit = Field(default=PAGE_LIMIT_DEFAULT, description="How many items to return")
    offset: Offset = Field(default=0, description="How many items to skip (offset + limit ≤ 10,000)")
    category: CategoryName | None = Field(default=None, description="Only this category (case does not matter)")
    sort: ProductSort = Field(default="newest", description="Order; newest first by default")
    after_id: Annotated[int, Field(strict=False, ge=0, le=MAX_ID)] | None = Field(
        default=None,
        description="Only products with a greater id: pages a whole catalogue of any size with sort=id (keyset paging)",
    )


class ProductCreate(BaseModel):
    """A new product, as an admin sends it."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    price: Money
    stock: Stock = 0
    category: CategoryName
    image_url: ImageUrl = None


class ProductUpdate(BaseModel):
    """Fields to change; absent ones keep their value. `version` must be the current one when given; changing
    `stock` requires it, since an absolute stock written from a stale read would undo sales."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    price: Money | None = None
    stock: Stock | None = None
    category: CategoryName | None = None
    image_url: ImageUrl = None
    version: Version | None = None

    def changes(self) -> dict[str, Any]:
        """The fields the caller set, without the version guard; a null image_url clears the image."""
        given = {name: getattr(self, name) for name in self.model_fields_set if name != "version"}
        nulls = sorted(name for name, value in given.items() if value is None and name != "image_url")
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return given


class StockAdjustment(BaseModel):
    """Stock moved by a delta, with the reason it moved; `reference` makes a retried adjustment apply once."""

    model_config = ConfigDict(extra="forbid")

    delta: StockDelta
    reason: Reason
    reference: Annotated[str, Field(min_length=1, max_length=REASON_MAX), AfterValidator(single_line)] | None = None


class ProductPayload(BaseModel):
    """A product as APIs answer with it and as product events carry it."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    description: str
    price: Money
    stock: int
    category: str
    image_url: str | None = None
    thumbnail_url: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int


class ProductDeletedPayload(BaseModel):
    """A deleted product: its id and the version its deletion is, one past its last state."""

    id: int
    version: int


class ProductPage(BaseModel):
    """One page of a product listing and how many products match in all."""

    items: list[ProductPayload]
    total: int
    limit: int
    offset: int


class CategoryCreate(BaseModel):
    """A new category."""

    model_config = ConfigDict(extra="forbid")

    name: CategoryName


class CategoryRename(BaseModel):
    """A category's new name."""

    model_config = ConfigDict(extra="forbid")

    name: CategoryName


class CategoryPayload(BaseModel):
    """A category and how many products it holds."""

    id: int
    name: str
    count: int


class CategoryList(BaseModel):
    """Every category, by name."""

    items: list[CategoryPayload]


class SearchFacets(BaseModel):
    """Counts that help narrow a search."""

    category: dict[str, int] = Field(
        description="Matching products per category, counted without the category filter so every choice shows"
    )


class SearchResults(BaseModel):
    """One page of search hits; `hint` says why a query found nothing before it was run, e.g. only stop words."""

    items: list[ProductPayload]
    total: int = Field(description="How many products match, across all pages")
    facets: SearchFacets
    limit: int
    offset: int
    hint: str | None = None


CartQuantity = Annotated[int, Field(strict=True, ge=CART_QUANTITY_MIN, le=CART_QUANTITY_MAX)]


class CartItemAdd(BaseModel):
    """A product to put in the cart; its name and price come from the catalog, never from the client."""

    model_config = ConfigDict(extra="forbid")

    product_id: Id
    quantity: CartQuantity = 1


class CartQuantityChange(BaseModel):
    """A line's new quantity; to take a product out, delete its line."""

    model_config = ConfigDict(extra="forbid")

    quantity: CartQuantity


class CartMerge(BaseModel):
    """Another cart to fold into this one, which it leaves empty and gone (a visitor's cart at sign-in)."""

    model_config = ConfigDict(extra="forbid")

    from_cart_id: ShopperKey


class CartLinePayload(BaseModel):
    """One product in a cart."""

    product_id: int
    name: str
    quantity: int
    price: Money
    subtotal: Money


class CartPayload(BaseModel):
    """A cart; `total` is computed by the server, and version 0 means no cart was ever written."""

    cart_id: str
    user_id: str | None
    items: list[CartLinePayload]
    total: Money
    updated_at: str | None
    version: int


# A reservation's reference names who holds the stock (e.g. "order-123"); it becomes part of each stock movement's
# reference, so it is short and plain.
RESERVATION_REFERENCE_MAX = 100
RESERVATION_REFERENCE_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"
RESERVATION_LINES_MAX = 100

ReservationReference = Annotated[
    str, Field(min_length=1, max_length=RESERVATION_REFERENCE_MAX, pattern=RESERVATION_REFERENCE_PATTERN)
]


class StockReservationItem(BaseModel):
    """How many of one product to take out of stock."""

    model_config = ConfigDict(extra="forbid")

    product_id: Id
    quantity: Annotated[int, Field(strict=True, ge=1, le=STOCK_DELTA_MAX)]


class StockReservationRequest(BaseModel):
    """Products to take out of stock together, all or none; a repeated `reference` is applied once."""

    model_config = ConfigDict(extra="forbid")

    reference: ReservationReference
    items: Annotated[list[StockReservationItem], Field(min_length=1, max_length=RESERVATION_LINES_MAX)]

    @field_validator("items")
    @classmethod
    def _each_product_once(cls, items: list[StockReservationItem]) -> list[StockReservationItem]:
        ids = [item.product_id for item in items]
        if len(set(ids)) != len(ids):
            raise ValueError("each product may appear once")
        return items


class ReservedItemPayload(BaseModel):
    """A reserved line, with the product's name and price read in the same transaction as its stock."""

    product_id: int
    name: str
    quantity: int
    price: Money


class StockReservationPayload(BaseModel):
    """What a reservation holds."""

    reference: str
    items: list[ReservedItemPayload]


class ReleasedItemPayload(BaseModel):
    """Stock a release put back."""

    product_id: int
    quantity: int


class StockReleasePayload(BaseModel):
    """What a release put back; empty when the reference held nothing or was released before."""

    reference: str
    items: list[ReleasedItemPayload]


# Shopper activity and the unique-users windows. The topics are settings (production reads the Event Hubs hubs
# `events` and `results`); these are the defaults. Each topic carries the kit envelope (kit.events.Event) whose
# `data` is the design doc's shape: `ActivityPayload` on user-events, `WindowPayload` on analytics-results.
USER_EVENTS_TOPIC = "user-events"
ANALYTICS_RESULTS_TOPIC = "analytics-results"
USER_ACTIVITY = "UserActivityRecorded"  # key: user_id, so one shopper's events stay in order
WINDOW_COUNTED = "ActivityWindowCounted"  # key: str(window_start), so one window's corrections stay in order
ActivityType = Literal["view_product", "search", "add_to_cart", "purchase"]
ACTIVITY_TYPES: tuple[str, ...] = get_args(ActivityType)
ACTIVITY_USER_ID_MAX = 100  # the design doc's VARCHAR(100)
ACTIVITY_USER_ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,100}$"
ACTIVITY_METADATA_KEYS_MAX = 20
ACTIVITY_METADATA_VALUE_MAX = 200
WINDOW_SIZE_MS = 60_000
ActivityMetadataValue = Annotated[str, Field(max_length=ACTIVITY_METADATA_VALUE_MAX)] | int | bool | None


class ActivityPayload(BaseModel):
    """One shopper action in the design doc's schema; `timestamp` is event time in whole seconds since the epoch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: Annotated[str, Field(min_length=1, max_length=ACTIVITY_USER_ID_MAX, pattern=ACTIVITY_USER_ID_PATTERN)]
    event_type: ActivityType
    product_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    timestamp: Annotated[int, Field(ge=0, le=2**40)]
    metadata: dict[str, ActivityMetadataValue] = Field(default_factory=dict, max_length=ACTIVITY_METADATA_KEYS_MAX)


def activity_event(payload: ActivityPayload) -> Event:
    """The envelope for a payload: keyed by user, occurred when it says."""
    return Event(
        type=USER_ACTIVITY,
        key=payload.user_id,
        data=payload.model_dump(mode="json"),
        occurred_at=datetime.fromtimestamp(payload.timestamp, UTC),
    )


class WindowPayload(BaseModel):
    """One closed one-minute event-time window: distinct users and events in [window_start, window_end), in ms."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_start: Annotated[int, Field(ge=0)]
    window_end: Annotated[int, Field(ge=0)]
    unique_users: Annotated[int, Field(ge=0)]
    event_count: Annotated[int, Field(ge=0)]

    @field_validator("window_end")
    @classmethod
    def _after_start(cls, value: int, info: Any) -> int:
        start = info.data.get("window_start")
        if start is not None and value <= start:
            raise ValueError("must be after window_start")
        return value
