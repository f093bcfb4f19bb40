"""Shapes of the JSON API, for request validation and for the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

ProductSort = Literal["newest", "name", "price_asc", "price_desc", "id"]
SearchSort = Literal["relevance", "price_asc", "price_desc"]

# The largest integer every JSON client reads exactly; ids and versions never come near it.
MAX_ID = 2**53 - 1
MAX_OFFSET = 1_000_000
MAX_SEARCH_OFFSET = 10_000
MAX_PRICE = 99_999_999.99
MAX_STOCK = 1_000_000_000
# No backend can store a NUL character, so text carrying one is refused at the gateway.
NO_NUL = r"^[^\x00]*$"

# The same bounds as the product service, so the gateway refuses exactly what the catalog would.
Name = Annotated[str, Field(min_length=1, max_length=255, pattern=NO_NUL)]
Description = Annotated[str, Field(max_length=5000, pattern=NO_NUL)]
CategoryName = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
ImageUrl = Annotated[str, Field(max_length=2048, pattern=NO_NUL)]


def _whole_float_as_int(value: Any) -> Any:
    """JSON Schema counts 3.0 as an integer, so it is taken as 3; anything else is left to validation."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Bounds come before the float conversion so that they stay in the JSON schema as minimum / maximum.
Stock = Annotated[int, Field(ge=0, le=MAX_STOCK), BeforeValidator(_whole_float_as_int)]
Version = Annotated[int, Field(ge=0, le=MAX_ID), BeforeValidator(_whole_float_as_int)]
Price = Annotated[float, Field(ge=0, le=MAX_PRICE, allow_inf_nan=False)]


class Product(BaseModel):
    """A product as the catalog returns it."""

    id: int
    name: str
    description: str | None = None
    price: float
    stock: int | None = None
    category: str | None = None
    image_url: str | None = None
    thumbnail_url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    version: int | None = None


class ProductPage(BaseModel):
    """One page of products."""

    items: list[Product]
    total: int
    limit: int
    offset: int


class Category(BaseModel):
    """A category and how many products it holds."""

    name: str
    count: int


class CategoryList(BaseModel):
    """Every category."""

    items: list[Category]


class SearchPage(BaseModel):
    """One page of search hits, with counts per category for the whole result."""

    items: list[Product]
    total: int
    facets: dict[str, dict[str, int]] = Field(default_factory=dict)
    limit: int
    offset: int


class ProductCreate(BaseModel):
    """A new product."""

    # Strict, so neither a boolean is taken for a stock count nor a string for a price.
    model_config = ConfigDict(strict=True)

    name: Name
    description: Description = ""
    price: Price
    stock: Stock = 0
    category: CategoryName
    image_url: ImageUrl | None = None


class ProductUpdate(BaseModel):
    """Changes to a product; absent fields stay as they are, `version` guards against lost updates."""

    model_config = ConfigDict(strict=True)

    # Absent means "unchanged" while null is refused, so these default to None without allowing it.
    name: Name = None  # type: ignore[assignment]
    description: Description = None  # type: ignore[assignment]
    price: Price = None  # type: ignore[assignment]
    stock: Stock = None  # type: ignore[assignment]
    category: CategoryName = None  # type: ignore[assignment]
    image_url: ImageUrl | None = None
    version: Version = None  # type: ignore[assignment]


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail
