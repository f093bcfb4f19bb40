"""Admin forms: read what was typed, and place the catalog's complaints next to the right fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mce.kit.money import MoneyError, format_amount, parse_amount

PRODUCT_FIELDS = ("name", "description", "price", "stock", "category", "image_url")
# 1,299.99 groups thousands with commas; "1,50" does not, and is refused rather than read as 150.
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d{1,2})?$")
_WHOLE = re.compile(r"^[+-]?\d{1,10}$")


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


def parse_price(text: str) -> tuple[str | None, str | None]:
    """The exact price typed (as the wire's decimal string), or the message to show; "$1,299.00" is fine, "1,50" not."""
    cleaned = text.strip().removeprefix("$").strip()
    if not cleaned:
        return None, "Enter a price, like 19.99."
    if "," in cleaned:
        if not _GROUPED.match(cleaned):
            return None, "Use a dot for cents, like 1.50 (commas only between thousands, like 1,299.00)."
        cleaned = cleaned.replace(",", "")
    try:
        return format_amount(parse_amount(cleaned)), None
    except MoneyError as exc:
        return None, f"The price {exc}, like 19.99."


def parse_whole_number(text: str) -> int | None:
    """A whole number typed as 12 or -3, or None when it is not one."""
    cleaned = text.strip()
    return int(cleaned) if _WHOLE.match(cleaned) else None


def read_product_form(form: Mapping[str, Any], *, editing: bool) -> ProductForm:
    """Turn the submitted form into a product; rules beyond types are left to the catalog, which owns them."""
    values = {name: str(form.get(name, "")).strip() for name in PRODUCT_FIELDS}
    payload: dict[str, Any] = {name: values[name] for name in ("name", "description", "category")}
    errors: dict[str, str] = {}

    price, problem = parse_price(values["price"])
    if problem:
        errors["price"] = problem
    else:
        payload["price"] = price

    stock = parse_whole_number(values["stock"])
    if stock is None or stock < 0:
        errors["stock"] = "Enter a whole number of 0 or more, like 12."
    else:
        payload["stock"] = stock

    # A blank image field clears the image when editing; a new product simply has none.
    if values["image_url"]:
        payload["image_url"] = values["image_url"]
    elif editing:
        payload["image_url"] = None

    version = parse_whole_number(str(form.get("version", ""))) if editing else None
    if version is not None:
        payload["version"] = version
    return ProductForm(values=values, payload=payload, errors=errors, version=version)


def catalog_errors(body: Any, fields: tuple[str, ...] = PRODUCT_FIELDS) -> tuple[dict[str, str], str]:
    """Messages by field from the catalog's error body, and its own message when no field could be named."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return {}, "The catalog refused the change."
    by_field: dict[str, str] = {}
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        name = str(detail.get("field", "")).rsplit(".", 1)[-1]
        if name in fields and name not in by_field:
            by_field[name] = str(detail.get("message", "is not valid"))
    if by_field:
        return by_field, ""
    return by_field, str(error.get("message") or "The catalog refused the change.")


def values_from_product(product: dict[str, Any]) -> dict[str, str]:
    """A stored product as form field values."""
    return {
        "name": product.get("name") or "",
        "description": product.get("description") or "",
        "price": str(product.get("price", "")),
        "stock": str(product.get("stock", 0)),
        "category": product.get("category") or "",
        "image_url": product.get("image_url") or "",
    }
