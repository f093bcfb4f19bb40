"""The catalog's use cases: plain functions over a unit of work, which commits a change and its events together."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from mce.kit.contracts import PRODUCTS_TOPIC
from mce.kit.errors import Invalid, problem
from mce.services.product.domain import (
    Category,
    Product,
    ProductFields,
    check_changes,
    product_created,
    product_deleted,
    product_updated,
)
from mce.services.product.store.sql import ProductUnitOfWork


def _existing_category(uow: ProductUnitOfWork, name: str) -> Category:
    """The managed category of that name; a product cannot invent one."""
    category = uow.categories.find(name)
    if category is None:
        raise Invalid(
            f"category {name!r} does not exist; an admin creates categories first",
            details=[problem("category", f"no category named {name!r}")],
        )
    return category


def create_product(uow: ProductUnitOfWork, *, fields: ProductFields) -> Product:
    """Add a product to an existing category and announce it."""
    category = _existing_category(uow, fields.category)
    product = uow.products.add(replace(fields, category=category.name), category.id, datetime.now(UTC))
    uow.emit(PRODUCTS_TOPIC, product_created(product))
    return product


def update_product(
    uow: ProductUnitOfWork, *, product_id: int, changes: dict[str, Any], expected_version: int | None
) -> Product:
    """Change some fields (stock only with the version it was read at) and announce the new state."""
    check_changes(changes, expected_version)
    values = dict(changes)
    if "category" in values:
        values["category_id"] = _existing_category(uow, values.pop("category")).id
    product = uow.products.update(product_id, values, expected_version=expected_version)
    uow.emit(PRODUCTS_TOPIC, product_updated(product))
    return product


def delete_product(uow: ProductUnitOfWork, *, product_id: int) -> Product:
    """Remove a product and announce it; returns its last state."""
    product = uow.products.remove(product_id)
    uow.emit(PRODUCTS_TOPIC, product_deleted(product))
    return product


def adjust_stock(
    uow: ProductUnitOfWork, *, product_id: int, delta: int, reason: str, reference: str | None = None
) -> Product:
    """Move stock by a delta, never below zero; with a reference, a retried adjustment applies once."""
    product = uow.products.change_stock(product_id, delta, reason=reason, reference=reference)
    if product is None:
        return uow.products.get(product_id)
    uow.emit(PRODUCTS_TOPIC, product_updated(product))
    return product


def create_category(uow: ProductUnitOfWork, *, name: str) -> Category:
    """A new category; names are unique whatever their case."""
    return uow.categories.add(name, datetime.now(UTC))


def rename_category(uow: ProductUnitOfWork, *, category_id: int, name: str) -> Category:
    """Rename a category; each of its products changes with it, so search follows."""
    category = uow.categories.rename(category_id, name)
    for product in uow.products.touch_category(category_id):
        uow.emit(PRODUCTS_TOPIC, product_updated(product))
    return category


def delete_category(uow: ProductUnitOfWork, *, category_id: int) -> None:
    """Delete a category that holds no products."""
    uow.categories.remove(category_id)
