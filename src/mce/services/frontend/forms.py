"""The admin product form: read what was typed, and place the catalog's complaints next to the right fields."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PRODUCT_FIELDS = ("name", "description", "price", "stock", "category", "image_url")


@dataclass
class ProductForm:
    """What the admin typed, the product it makes, and what is wrong with it."""

    values: dict[str, str]
    payload: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    version: int | None = None

    @property
    def valid(self) -> bool:
        """Whether the form can be sent to the catalog."""
        return not self.errors


def _price(text: str) -> float | None:
    """A price typed as 19.99 or $1,299.00, or None when it is not a number."""
    try:
        value = float(text.replace("$", "").replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _whole_number(text: str) -> int | None:
    """A count typed as 12, or None when it is not a whole number."""
    try:
        return int(text)
    except ValueError:
        return None


def read_product_form(form: Mapping[str, Any], *, editing: bool) -> ProductForm:
    """Turn the submitted form into a product; rules beyond types are left to the catalog, which owns them."""
    values = {name: str(form.get(name, "")).strip() for name in PRODUCT_FIELDS}
    payload: dict[str, Any] = {name: values[name] for name in ("name", "description", "category")}
    errors: dict[str, str] = {}

    price = _price(values["price"])
    if price is None:
        errors["price"] = "Enter a price, like 19.99."
    else:
        payload["price"] = price

    stock = _whole_number(values["stock"])
    if stock is None:
        errors["stock"] = "Enter a whole number, like 12."
    else:
        payload["stock"] = stock

    # A blank image field clears the image when editing; a new product simply has none.
    if values["image_url"]:
        payload["image_url"] = values["image_url"]
    elif editing:
        payload["image_url"] = None

    version = _whole_number(str(form.get("version", "")).strip()) if editing else None
    if version is not None:
        payload["version"] = version
    return ProductForm(values=values, payload=payload, errors=errors, version=version)


def catalog_errors(body: Any) -> tuple[dict[str, str], str]:
    """Messages by field from the catalog's error body, and its own message when no field could be named."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return {}, "The catalog refused the product."
    by_field: dict[str, str] = {}
    details = error.get("details")
    if isinstance(details, dict):
        details = [{"field": key, "message": value} for key, value in details.items()]
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        name = str(detail.get("field", "")).rsplit(".", 1)[-1]
        if name in PRODUCT_FIELDS and name not in by_field:
            by_field[name] = str(detail.get("message", "is not valid"))
    if by_field:
        return by_field, ""
    return by_field, str(error.get("message") or "The catalog refused the product.")


def values_from_product(product: dict[str, Any]) -> dict[str, str]:
    """A stored product as form field values."""
    return {
        "name": product.get("name") or "",
        "description": product.get("description") or "",
        "price": f"{product.get('price', 0):.2f}",
        "stock": str(product.get("stock", 0)),
        "category": product.get("category") or "",
        "image_url": product.get("image_url") or "",
    }
