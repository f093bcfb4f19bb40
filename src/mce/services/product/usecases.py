"""The catalog's use cases: plain functions over a unit of work, which commits a change and its events together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from mce.kit.contracts import PRODUCTS_TOPIC
from mce.kit.errors import Conflict, Invalid, NotFound, OutOfStock, problem
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
    if "image_url" in values and values["image_url"] != uow.products.get(product_id).image_url:
        # An image an admin chose by address replaces the uploaded one: its thumbnail goes, and an upload still
        # being processed may no longer overwrite the admin's choice.
        values.update(thumbnail_url=None, image_upload_key=None)
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


def reserve_stock(
    uow: ProductUnitOfWork, *, reference: str, items: Sequence[tuple[int, int]]
) -> list[tuple[Product, int]]:
    """Take each (product_id, quantity) out of stock, or none (OutOfStock names the short ones); once per reference."""
    if uow.products.was_released(reference):
        raise Conflict(
            f"reservation {reference!r} was released; reserve again under a new reference",
            details=[problem("reference", "already released")],
        )
    reserved: list[tuple[Product, int]] = []
    short, short_ids = [], []
    # Products locked in id order: two reservations sharing products never wait for each other in a cycle.
    for index, product_id, quantity in sorted(((i, p, q) for i, (p, q) in enumerate(items)), key=lambda t: t[1]):
        field = f"items.{index}.product_id"
        try:
            product = uow.products.change_stock(
                product_id, -quantity, reason="reserved", reference=f"{reference}:{product_id}"
            )
        except NotFound:
            short.append(problem(field, f"product {product_id} is no longer sold"))
            short_ids.append(str(product_id))
            continue
        except Conflict:
            # Nothing was changed for this product; the other lines are rolled back with the transaction.
            stock = uow.products.get(product_id).stock
            short.append(problem(field, f"product {product_id}: {stock} in stock, {quantity} wanted"))
            short_ids.append(str(product_id))
            continue
        if product is None:
            product = uow.products.get(product_id)
        else:
            uow.emit(PRODUCTS_TOPIC, product_updated(product))
        reserved.append((product, quantity))
    if short:
        names = ", ".join(short_ids)
        raise OutOfStock(f"not enough in stock of product {names}; nothing was reserved", details=short)
    order = {product_id: position for position, (product_id, _) in enumerate(items)}
    return sorted(reserved, key=lambda line: order[line[0].id])


def release_stock(uow: ProductUnitOfWork, *, reference: str) -> list[tuple[int, int]]:
    """Put back what the reservation took, once; returns (product_id, quantity) put back, empty on a repeat."""
    if not uow.products.mark_released(reference):
        return []
    released = []
    for product_id, quantity in uow.products.reserved(reference):
        try:
            product = uow.products.change_stock(
                product_id, quantity, reason="released", reference=f"{reference}:{product_id}:release"
            )
        except NotFound:
            # A product deleted since has no stock to put back.
            continue
        if product is not None:
            uow.emit(PRODUCTS_TOPIC, product_updated(product))
            released.append((product_id, quantity))
    return released


def record_upload(uow: ProductUnitOfWork, *, product_id: int, upload_key: str) -> None:
    """Make an upload the product's current picture upload; the last one recorded wins."""
    uow.products.record_upload(product_id, upload_key)


def forget_upload(uow: ProductUnitOfWork, *, product_id: int, upload_key: str) -> None:
    """Drop an upload whose bytes could not be stored, unless a newer one replaced it already."""
    uow.products.forget_upload(product_id, upload_key)


def apply_image(
    uow: ProductUnitOfWork, *, product_id: int, upload_key: str, image_url: str, thumbnail_url: str
) -> Product:
    """Give the product the thumbnails of its current upload and announce it; a repeated report changes nothing."""
    product = uow.products.apply_image(product_id, upload_key, image_url, thumbnail_url)
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
