"""The catalog's storage ports: repositories used inside a unit of work, and the queries that serve reads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

from mce.services.product.domain import Category, Product, ProductFields, ProductSort


class ProductRepository(ABC):
    """Products inside one unit of work; nothing is visible to others until it commits."""

    @abstractmethod
    def add(self, fields: ProductFields, category_id: int, now: datetime) -> Product:
        """Insert a product at version 1."""

    @abstractmethod
    def get(self, product_id: int, *, lock: bool = False) -> Product:
        """The product as this transaction sees it (locked against other writers when asked); raises NotFound."""

    @abstractmethod
    def update(self, product_id: int, values: dict[str, Any], *, expected_version: int | None) -> Product:
        """Set values and bump the version; NotFound, or Conflict when expected_version is not the current one."""

    @abstractmethod
    def change_stock(self, product_id: int, delta: int, *, reason: str, reference: str | None) -> Product | None:
        """Move stock by delta, never below zero, and record why; None when the reference was already applied.

        Raises NotFound, or Conflict when the stock would go below zero. The check and the change are one
        conditional update, so concurrent changes can never oversell.
        """

    @abstractmethod
    def reserved(self, reference: str) -> list[tuple[int, int]]:
        """(product_id, quantity) of each product the reservation `reference` took out of stock."""

    @abstractmethod
    def was_released(self, reference: str) -> bool:
        """Whether the reservation `reference` was released (a released reference never reserves again)."""

    @abstractmethod
    def mark_released(self, reference: str) -> bool:
        """Record that the reservation `reference` is released; False when it already was."""

    @abstractmethod
    def remove(self, product_id: int) -> Product:
        """Delete the product and return its last state; raises NotFound."""

    @abstractmethod
    def touch_category(self, category_id: int) -> list[Product]:
        """Bump the version of every product in the category (its name changed); returns their new states."""

    @abstractmethod
    def image_upload(self, product_id: int) -> str | None:
        """The key of the product's current picture upload, if any; raises NotFound."""

    @abstractmethod
    def record_upload(self, product_id: int, upload_key: str) -> None:
        """Make the upload the product's current one (the product's version does not change); raises NotFound."""

    @abstractmethod
    def forget_upload(self, product_id: int, upload_key: str) -> None:
        """Clear the current upload if it is still this one (its bytes could not be stored)."""

    @abstractmethod
    def apply_image(self, product_id: int, upload_key: str, image_url: str, thumbnail_url: str) -> Product | None:
        """Set the image fields and bump the version, only while upload_key is the current upload, in one statement.

        None when they already hold these values (a repeated report); NotFound, or Conflict when another upload is
        current.
        """


class CategoryRepository(ABC):
    """Managed categories inside one unit of work."""

    @abstractmethod
    def find(self, name: str) -> Category | None:
        """The category with this name, whatever its case and spacing."""

    @abstractmethod
    def get(self, category_id: int) -> Category:
        """The category with its product count; raises NotFound."""

    @abstractmethod
    def add(self, name: str, now: datetime) -> Category:
        """A new category; raises Conflict when one with that name exists."""

    @abstractmethod
    def rename(self, category_id: int, name: str) -> Category:
        """Give the category a new name; raises NotFound, or Conflict when another has that name."""

    @abstractmethod
    def remove(self, category_id: int) -> None:
        """Delete an empty category; raises NotFound, or Conflict while products are in it."""


class CatalogQueries(ABC):
    """Reads of the committed catalog."""

    @abstractmethod
    def page(
        self, *, category: str | None, sort: ProductSort, limit: int, offset: int, after_id: int | None = None
    ) -> tuple[bytes, int]:
        """A page of products as a JSON array (each as Product.to_json writes it), and how many match in all;
        with after_id, only products whose id is greater (total counts those too)."""

    @abstractmethod
    def get(self, product_id: int) -> Product:
        """One product; raises NotFound."""

    @abstractmethod
    def get_json(self, product_id: int) -> bytes:
        """One product as JSON, exactly as Product.to_json writes it; raises NotFound."""

    @abstractmethod
    def image_state(self, product_id: int) -> tuple[Product, str | None]:
        """One product and the key of its current picture upload; raises NotFound."""

    @abstractmethod
    def categories(self) -> list[Category]:
        """Every category with its product count, by name."""

    @abstractmethod
    def category(self, category_id: int) -> Category:
        """One category with its product count; raises NotFound."""

    @abstractmethod
    def count(self) -> int:
        """How many products there are."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the database does not answer."""
