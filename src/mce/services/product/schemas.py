"""Request and response bodies of the product API, separate from the stored model."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from mce.services.product import domain


def _no_control_chars(value: str) -> str:
    """Reject control characters, which only ever arrive by mistake or malice."""
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _single_line(value: str) -> str:
    """Names and categories are one line of text, and never blank."""
    value = _no_control_chars(" ".join(value.split()))
    if not value:
        raise ValueError("must not be blank")
    return value


def _url(value: str | None) -> str | None:
    """An absolute http(s) URL or a path on this site."""
    if value is None or value == "":
        return None
    if not value.startswith(("http://", "https://", "/")) or any(ch.isspace() for ch in value):
        raise ValueError("must be an http(s) URL or a path starting with /")
    return value


Name = Annotated[str, Field(min_length=1, max_length=domain.NAME_MAX), AfterValidator(_single_line)]
Description = Annotated[str, Field(max_length=domain.DESCRIPTION_MAX), AfterValidator(_no_control_chars)]
Category = Annotated[
    str,
    Field(min_length=1, max_length=domain.CATEGORY_MAX),
    AfterValidator(_single_line),
    AfterValidator(domain.normalise_category),
]
# Decimal keeps prices exact; on the wire they are numbers with at most two decimals.
Price = Annotated[
    Decimal,
    Field(ge=0, le=domain.MAX_PRICE, max_digits=10, decimal_places=2, allow_inf_nan=False),
    PlainSerializer(float, return_type=float, when_used="json"),
]
Stock = Annotated[int, Field(strict=True, ge=0, le=domain.MAX_STOCK)]
ImageUrl = Annotated[str | None, Field(default=None, max_length=domain.URL_MAX), AfterValidator(_url)]


class ProductCreate(BaseModel):
    """A new product."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    price: Price
    stock: Stock = 0
    category: Category
    image_url: ImageUrl = None


class ProductUpdate(BaseModel):
    """Fields to change; omitted fields keep their value. `version`, if given, must be the current one."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    price: Price | None = None
    stock: Stock | None = None
    category: Category | None = None
    image_url: ImageUrl = None
    version: Annotated[int, Field(strict=True, ge=1)] | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> ProductUpdate:
        if not self.changes():
            raise ValueError("give at least one field to change")
        return self

    def changes(self) -> dict[str, object]:
        """The fields the caller set, without the version guard; a null image_url clears the image."""
        given = self.model_dump(exclude_unset=True, exclude={"version"})
        for field in ("name", "description", "price", "stock", "category"):
            if field in given and given[field] is None:
                raise ValueError(f"{field} cannot be null")
        return given


class ProductRead(BaseModel):
    """A product as the API shows it."""

    id: int
    name: str
    description: str
    price: Price
    stock: int
    category: str
    image_url: str | None
    thumbnail_url: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class ProductPage(BaseModel):
    """One page of a product listing."""

    items: list[ProductRead]
    total: int
    limit: int
    offset: int


class CategoryCount(BaseModel):
    """A category and how many products it holds."""

    name: str
    count: int


class CategoryList(BaseModel):
    """All categories, by name."""

    items: list[CategoryCount]
