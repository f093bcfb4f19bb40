"""ProductRepository on SQLAlchemy: SQLite embedded, PostgreSQL in production."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Row, delete, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from mce.kit.errors import Conflict, Invalid, NotFound, Unavailable
from mce.kit.outbox import add_to_outbox
from mce.services.product.domain import (
    EDITABLE_FIELDS,
    PRODUCTS_TOPIC,
    Product,
    ProductFields,
    ProductSort,
    product_created,
    product_deleted,
    product_updated,
)
from mce.services.product.store.port import ProductRepository
from mce.services.product.store.tables import outbox, products

_ORDER = {
    ProductSort.NEWEST: (products.c.created_at.desc(), products.c.id.desc()),
    ProductSort.NAME: (products.c.name.asc(), products.c.id.asc()),
    ProductSort.PRICE_ASC: (products.c.price.asc(), products.c.id.asc()),
    ProductSort.PRICE_DESC: (products.c.price.desc(), products.c.id.desc()),
    ProductSort.ID: (products.c.id.asc(),),
}


def _to_product(row: Row) -> Product:
    """A stored row as the domain's Product."""
    return Product(**row._mapping)


class SqlProductRepository(ProductRepository):
    """Products and their outbox in one database, so a change and its event commit together."""

    def __init__(self, engine: Engine, *, on_commit: Callable[[], None] | None = None) -> None:
        self.engine = engine
        # Lets the outbox relay publish at once instead of at its next poll.
        self.on_commit = on_commit or (lambda: None)

    def create(self, fields: ProductFields) -> Product:
        with self._write() as conn:
            product = self._insert(conn, fields, datetime.now(UTC))
        self.on_commit()
        return product

    def create_many(self, batch: Sequence[ProductFields]) -> int:
        now = datetime.now(UTC)
        with self._write() as conn:
            for fields in batch:
                self._insert(conn, fields, now)
        self.on_commit()
        return len(batch)

    def get(self, product_id: int) -> Product:
        with self._read() as conn:
            row = conn.execute(select(products).where(products.c.id == product_id)).first()
        if row is None:
            raise NotFound(f"product {product_id} not found")
        return _to_product(row)

    def update(self, product_id: int, changes: dict[str, Any], *, expected_version: int | None = None) -> Product:
        unknown = set(changes) - EDITABLE_FIELDS
        if unknown:
            raise Invalid(f"cannot change {', '.join(sorted(unknown))}")
        with self._write() as conn:
            guard = products.c.id == product_id
            if expected_version is not None:
                guard &= products.c.version == expected_version
            # The version bump in the same UPDATE is what makes concurrent edits serialise.
            row = conn.execute(
                update(products)
                .where(guard)
                .values(**changes, version=products.c.version + 1, updated_at=datetime.now(UTC))
                .returning(*products.c)
            ).first()
            if row is None:
                current = conn.execute(select(products.c.version).where(products.c.id == product_id)).scalar()
                if current is None:
                    raise NotFound(f"product {product_id} not found")
                raise Conflict(
                    f"product {product_id} is at version {current}, not {expected_version}; reload and retry",
                    details={"current_version": current},
                )
            product = _to_product(row)
            add_to_outbox(conn, outbox, PRODUCTS_TOPIC, product_updated(product))
        self.on_commit()
        return product

    def delete(self, product_id: int) -> None:
        with self._write() as conn:
            row = conn.execute(delete(products).where(products.c.id == product_id).returning(*products.c)).first()
            if row is None:
                raise NotFound(f"product {product_id} not found")
            add_to_outbox(conn, outbox, PRODUCTS_TOPIC, product_deleted(_to_product(row)))
        self.on_commit()

    def list(self, *, category: str | None, sort: ProductSort, limit: int, offset: int) -> tuple[list[Product], int]:
        page = select(products)
        total = select(func.count()).select_from(products)
        if category is not None:
            page = page.where(products.c.category == category)
            total = total.where(products.c.category == category)
        with self._read() as conn:
            rows = conn.execute(page.order_by(*_ORDER[sort]).limit(limit).offset(offset)).all()
            count = conn.execute(total).scalar_one()
        return [_to_product(row) for row in rows], count

    def categories(self) -> list[tuple[str, int]]:
        query = select(products.c.category, func.count()).group_by(products.c.category).order_by(products.c.category)
        with self._read() as conn:
            return [(name, count) for name, count in conn.execute(query).all()]

    def count(self) -> int:
        with self._read() as conn:
            return conn.execute(select(func.count()).select_from(products)).scalar_one()

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute(text("SELECT 1"))

    def _insert(self, conn: Connection, fields: ProductFields, now: datetime) -> Product:
        """Insert one product and stage its event on the given connection."""
        row = conn.execute(
            insert(products).values(**asdict(fields), created_at=now, updated_at=now, version=1).returning(*products.c)
        ).first()
        product = _to_product(row)
        add_to_outbox(conn, outbox, PRODUCTS_TOPIC, product_created(product))
        return product

    def _write(self) -> AbstractContextManager[Connection]:
        """A transaction whose driver errors become domain errors."""
        return _translated(self.engine.begin)

    def _read(self) -> AbstractContextManager[Connection]:
        """A connection whose driver errors become domain errors."""
        return _translated(self.engine.connect)


@contextmanager
def _translated(open_connection: Callable[[], AbstractContextManager[Connection]]) -> Iterator[Connection]:
    """Turn constraint violations into Conflict and lost connections into Unavailable."""
    try:
        with open_connection() as conn:
            yield conn
    except IntegrityError as exc:
        raise Conflict("the change breaks a catalog rule (stock and price must not be negative)") from exc
    except OperationalError as exc:
        raise Unavailable(f"product database unavailable: {type(exc.orig).__name__}") from exc
