"""The catalog on SQLAlchemy: SQLite embedded, PostgreSQL in production."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    Engine,
    Integer,
    Row,
    Select,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect

from mce.kit.contracts import category_key
from mce.kit.db import driver_cursor, translated_errors
from mce.kit.errors import Conflict, NotFound, problem
from mce.kit.money import CENTS
from mce.kit.uow import SqlUnitOfWork
from mce.services.product.domain import Category, Product, ProductFields, ProductSort, stock_after
from mce.services.product.store.port import CatalogQueries, CategoryRepository, ProductRepository
from mce.services.product.store.tables import (
    categories,
    idempotency_keys,
    outbox,
    products,
    stock_movements,
)

WHAT = "product database"
# A released reservation leaves a mark, a stock movement of no product, so a reservation that arrives after its own
# release (its answer was lost, the order gave up and released) takes nothing.
RELEASE_MARK_PRODUCT = 0


def _release_mark(reference: str) -> str:
    return f"{reference}:released"


_COLUMNS = (
    products.c.id,
    products.c.name,
    products.c.description,
    products.c.price,
    products.c.stock,
    categories.c.name.label("category"),
    products.c.image_url,
    products.c.thumbnail_url,
    products.c.created_at,
    products.c.updated_at,
    products.c.version,
)
_JOINED = products.join(categories, products.c.category_id == categories.c.id)

_ORDER = {
    "newest": (products.c.created_at.desc(), products.c.id.desc()),
    "name": (products.c.name.asc(), products.c.id.asc()),
    "price_asc": (products.c.price.asc(), products.c.id.asc()),
    "price_desc": (products.c.price.desc(), products.c.id.desc()),
    "id": (products.c.id.asc(),),
}


def _products(count: int) -> str:
    """'1 product', '3 products'."""
    return f"{count} product{'' if count == 1 else 's'}"


def _product(row: Row) -> Product:
    """A stored row as the domain's Product."""
    return Product(**row._mapping)


def _json_fields(dialect: str) -> list[Any]:
    """The product's JSON object fields as SQL, formatted exactly as Product.to_json formats them."""
    if dialect == "sqlite":
        # Money is integer cents; timestamps are stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC.
        # type_coerce: as raw cents, or the Money type would convert the literal 100 to cents as well.
        cents = type_coerce(products.c.price, Integer)
        price = func.printf("%d.%02d", cents / 100, cents % 100)
        created = func.replace(products.c.created_at, " ", "T").concat("Z")
        updated = func.replace(products.c.updated_at, " ", "T").concat("Z")
    else:
        price = cast(products.c.price, Text)
        stamp = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
        created = func.to_char(func.timezone("UTC", products.c.created_at), stamp)
        updated = func.to_char(func.timezone("UTC", products.c.updated_at), stamp)
    return [
        literal("id"), products.c.id,
        literal("name"), products.c.name,
        literal("description"), products.c.description,
        literal("price"), price,
        literal("stock"), products.c.stock,
        literal("category"), categories.c.name,
        literal("image_url"), products.c.image_url,
        literal("thumbnail_url"), products.c.thumbnail_url,
        literal("created_at"), created,
        literal("updated_at"), updated,
        literal("version"), products.c.version,
    ]  # fmt: skip


@dataclass(frozen=True)
class _Compiled:
    """A statement compiled once to the driver's SQL, with its constant parameters and the order it wants them in."""

    sql: str
    constants: dict[str, Any]
    order: tuple[str, ...] | None

    @classmethod
    def of(cls, statement: Select, dialect: Dialect, placeholders: dict[str, Any]) -> _Compiled:
        compiled = statement.compile(dialect=dialect)
        order = tuple(compiled.positiontup) if compiled.positiontup else None
        return cls(str(compiled), dict(compiled.construct_params(placeholders)), order)

    def rows(self, cursor: Any, values: dict[str, Any]) -> list[tuple]:
        """Execute on a driver cursor with these values: none of SQLAlchemy's per-call work, on the hottest read."""
        merged = {**self.constants, **values}
        cursor.execute(self.sql, tuple(merged[n] for n in self.order) if self.order else merged)
        return cursor.fetchall()


def _document(dialect: Dialect) -> Any:
    """A product as one JSON object built by the database."""
    if dialect.name == "sqlite":
        return func.json_object(*_json_fields(dialect.name))
    return cast(func.json_build_object(*_json_fields(dialect.name)), Text)


@cache
def _one_statement(dialect: Dialect) -> _Compiled:
    """One product's JSON, compiled once."""
    one = select(_document(dialect)).select_from(_JOINED).where(products.c.id == bindparam("id", type_=Integer))
    return _Compiled.of(one, dialect, {"id": 0})


@cache
def _page_statements(dialect: Dialect, sort: str, filtered: bool, keyset: bool) -> tuple[_Compiled, _Compiled]:
    """The listing's two statements, compiled once: each product as a JSON object made by the database, and the count.

    A listing is the hottest read; building its JSON in SQL, and compiling it once, spares the Python work per row
    and per call (measured on SQLite: 0.56 ms of CPU for a page of 20 with rows mapped in Python, 0.2 ms with the
    JSON made in SQL, about 0.08 ms compiled once).
    """
    ids = select(products.c.id).order_by(*_ORDER[sort])
    total = select(func.count()).select_from(products)
    if filtered:
        ids = ids.select_from(_JOINED).where(categories.c.name_key == bindparam("key"))
        total = total.select_from(_JOINED).where(categories.c.name_key == bindparam("key"))
    if keyset:
        after = products.c.id > bindparam("after_id", type_=Integer)
        ids, total = ids.where(after), total.where(after)
    # A deferred join: the page's ids come from an index alone, and only those rows are read and made into JSON.
    # Joining first made every skipped row cost a lookup (SQLite: 47 us at offset 0, 79 us at 180; now 51 us flat).
    chosen = ids.limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer)).subquery("page")
    page = (
        select(_document(dialect))
        .select_from(_JOINED.join(chosen, chosen.c.id == products.c.id))
        .order_by(*_ORDER[sort])
    )
    placeholders = {"limit": 0, "offset": 0, "key": "", "after_id": 0}
    return _Compiled.of(page, dialect, placeholders), _Compiled.of(total, dialect, placeholders)


# Statements built once, their values bound at execution: building them per call cost more than running them.
_INSERT_PRODUCT = insert(products).returning(products.c.id)
_FIND_CATEGORY = select(categories.c.id, categories.c.name).where(categories.c.name_key == bindparam("key"))


class SqlProductRepository(ProductRepository):
    """Products on one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, fields: ProductFields, category_id: int, now: datetime) -> Product:
        price = Decimal(fields.price).quantize(CENTS)
        values = {
            "name": fields.name,
            "description": fields.description,
            "price": price,
            "stock": fields.stock,
            "category_id": category_id,
            "image_url": fields.image_url,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        # The category's name is the caller's (fields.category), so the new row needs no second read.
        product_id = self.conn.execute(_INSERT_PRODUCT, values).scalar_one()
        return Product(
            id=product_id,
            name=fields.name,
            description=fields.description,
            price=price,
            stock=fields.stock,
            category=fields.category,
            image_url=fields.image_url,
            thumbnail_url=None,
            created_at=now,
            updated_at=now,
            version=1,
        )

    def get(self, product_id: int, *, lock: bool = False) -> Product:
        query = select(*_COLUMNS).select_from(_JOINED).where(products.c.id == product_id)
        if lock:
            # On PostgreSQL concurrent writers of one product queue here; SQLite has one writer at a time anyway.
            query = query.with_for_update(of=products)
        row = self.conn.execute(query).first()
        if row is None:
            raise NotFound(f"product {product_id} not found")
        return _product(row)

    def update(self, product_id: int, values: dict[str, Any], *, expected_version: int | None) -> Product:
        guard = products.c.id == product_id
        if expected_version is not None:
            guard &= products.c.version == expected_version
        # The version bump in the same UPDATE is what makes concurrent edits serialise.
        changed = self.conn.execute(
            update(products)
            .where(guard)
            .values(**values, version=products.c.version + 1, updated_at=datetime.now(UTC))
            .returning(products.c.id)
        ).first()
        if changed is None:
            current = self.conn.execute(select(products.c.version).where(products.c.id == product_id)).scalar()
            if current is None:
                raise NotFound(f"product {product_id} not found")
            raise Conflict(
                f"product {product_id} is at version {current}, not {expected_version}; reload and retry",
                details=[problem("version", f"the product is now at version {current}")],
            )
        return self.get(product_id)

    def change_stock(self, product_id: int, delta: int, *, reason: str, reference: str | None) -> Product | None:
        product = self.get(product_id, lock=True)
        if reference is not None:
            done = self.conn.execute(
                select(stock_movements.c.id).where(
                    stock_movements.c.product_id == product_id, stock_movements.c.reference == reference
                )
            ).first()
            if done is not None:
                return None
        after = stock_after(product, delta)
        # Conditional as well as locked: the database itself refuses to go below zero.
        changed = self.conn.execute(
            update(products)
            .where(products.c.id == product_id, products.c.stock + delta >= 0)
            .values(stock=products.c.stock + delta, version=products.c.version + 1, updated_at=datetime.now(UTC))
            .returning(products.c.stock)
        ).first()
        if changed is None:
            raise Conflict(f"not enough of product {product_id} in stock", details=[problem("delta", "not enough")])
        self.conn.execute(
            insert(stock_movements).values(
                product_id=product_id,
                delta=delta,
                stock_after=after,
                reason=reason,
                reference=reference,
                created_at=datetime.now(UTC),
            )
        )
        return self.get(product_id)

    def reserved(self, reference: str) -> list[tuple[int, int]]:
        m = stock_movements.c
        rows = self.conn.execute(
            select(m.product_id, m.delta, m.reference)
            .where(m.reference.startswith(f"{reference}:", autoescape=True), m.delta < 0)
            .order_by(m.product_id)
        ).all()
        # The prefix also matches other references' rows; only "<reference>:<product_id>" is this reservation's.
        return [(row.product_id, -row.delta) for row in rows if row.reference == f"{reference}:{row.product_id}"]

    def was_released(self, reference: str) -> bool:
        m = stock_movements.c
        found = select(m.id).where(m.product_id == RELEASE_MARK_PRODUCT, m.reference == _release_mark(reference))
        return self.conn.execute(found).first() is not None

    def mark_released(self, reference: str) -> bool:
        insert_ = postgres_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        values = {
            "product_id": RELEASE_MARK_PRODUCT,
            "delta": 0,
            "stock_after": 0,
            "reason": "reservation released",
            "reference": _release_mark(reference),
            "created_at": datetime.now(UTC),
        }
        statement = insert_(stock_movements).values(values).on_conflict_do_nothing().returning(stock_movements.c.id)
        return self.conn.execute(statement).first() is not None

    def remove(self, product_id: int) -> Product:
        product = self.get(product_id, lock=True)
        self.conn.execute(delete(products).where(products.c.id == product_id))
        return product

    def touch_category(self, category_id: int) -> list[Product]:
        self.conn.execute(
            update(products)
            .where(products.c.category_id == category_id)
            .values(version=products.c.version + 1, updated_at=datetime.now(UTC))
        )
        rows = self.conn.execute(
            select(*_COLUMNS).select_from(_JOINED).where(products.c.category_id == category_id).order_by(products.c.id)
        ).all()
        return [_product(row) for row in rows]

    def image_upload(self, product_id: int) -> str | None:
        found = self.conn.execute(select(products.c.image_upload_key).where(products.c.id == product_id)).first()
        if found is None:
            raise NotFound(f"product {product_id} not found")
        return found.image_upload_key

    def record_upload(self, product_id: int, upload_key: str) -> None:
        changed = self.conn.execute(
            update(products)
            .where(products.c.id == product_id)
            .values(image_upload_key=upload_key)
            .returning(products.c.id)
        ).first()
        if changed is None:
            raise NotFound(f"product {product_id} not found")

    def forget_upload(self, product_id: int, upload_key: str) -> None:
        self.conn.execute(
            update(products)
            .where(products.c.id == product_id, products.c.image_upload_key == upload_key)
            .values(image_upload_key=None)
        )

    def apply_image(self, product_id: int, upload_key: str, image_url: str, thumbnail_url: str) -> Product | None:
        # The check of the current upload and the change are one conditional UPDATE: an upload recorded meanwhile
        # either comes before it (and this report is refused) or after it (and its own report wins later).
        changed = self.conn.execute(
            update(products)
            .where(
                products.c.id == product_id,
                products.c.image_upload_key == upload_key,
                products.c.image_url.is_distinct_from(image_url)
                | products.c.thumbnail_url.is_distinct_from(thumbnail_url),
            )
            .values(
                image_url=image_url,
                thumbnail_url=thumbnail_url,
                version=products.c.version + 1,
                updated_at=datetime.now(UTC),
            )
            .returning(products.c.id)
        ).first()
        if changed is not None:
            return self.get(product_id)
        if self.image_upload(product_id) != upload_key:
            raise Conflict(
                f"{upload_key} is no longer the current upload of product {product_id}",
                details=[problem("upload_key", "a newer upload replaced it")],
            )
        return None


class SqlCategoryRepository(CategoryRepository):
    """Categories on one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def find(self, name: str) -> Category | None:
        row = self.conn.execute(_FIND_CATEGORY, {"key": category_key(name)}).first()
        return None if row is None else Category(row.id, row.name)

    def get(self, category_id: int) -> Category:
        row = self.conn.execute(
            select(categories.c.id, categories.c.name).where(categories.c.id == category_id)
        ).first()
        if row is None:
            raise NotFound(f"category {category_id} not found")
        count = self.conn.execute(
            select(func.count()).select_from(products).where(products.c.category_id == category_id)
        ).scalar_one()
        return Category(row.id, row.name, count)

    def add(self, name: str, now: datetime) -> Category:
        self._refuse_taken(name, None)
        category_id = self.conn.execute(
            insert(categories).values(name=name, name_key=category_key(name), created_at=now).returning(categories.c.id)
        ).scalar_one()
        return Category(category_id, name, 0)

    def rename(self, category_id: int, name: str) -> Category:
        self.get(category_id)
        self._refuse_taken(name, category_id)
        self.conn.execute(
            update(categories).where(categories.c.id == category_id).values(name=name, name_key=category_key(name))
        )
        return self.get(category_id)

    def remove(self, category_id: int) -> None:
        category = self.get(category_id)
        if category.count:
            raise Conflict(
                f"category {category.name!r} still holds {_products(category.count)}; move or delete them first",
                details=[problem("", f"{_products(category.count)} in it")],
            )
        self.conn.execute(delete(categories).where(categories.c.id == category_id))

    def _refuse_taken(self, name: str, own_id: int | None) -> None:
        """Conflict when another category already has this name, whatever its case."""
        taken = self.find(name)
        if taken is not None and taken.id != own_id:
            raise Conflict(
                f"a category named {taken.name!r} already exists", details=[problem("name", "already in use")]
            )


class ProductUnitOfWork(SqlUnitOfWork):
    """The product database's unit of work: products, categories, outbox and idempotency keys in one transaction."""

    products: SqlProductRepository
    categories: SqlCategoryRepository

    def __init__(self, engine: Engine, *, on_commit: Callable[[], None] = lambda: None) -> None:
        super().__init__(engine, what=WHAT, outbox=outbox, idempotency_table=idempotency_keys, on_commit=on_commit)

    def _open(self, conn: Connection) -> None:
        self.products = SqlProductRepository(conn)
        self.categories = SqlCategoryRepository(conn)


class SqlCatalogQueries(CatalogQueries):
    """Reads on pooled connections; each read sees one committed state."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def page(
        self, *, category: str | None, sort: ProductSort, limit: int, offset: int, after_id: int | None = None
    ) -> tuple[bytes, int]:
        page, total = _page_statements(self.engine.dialect, sort, category is not None, after_id is not None)
        values: dict[str, Any] = {"limit": limit, "offset": offset}
        if category is not None:
            values["key"] = category_key(category)
        if after_id is not None:
            values["after_id"] = after_id
        with self._cursor() as cursor:
            documents = [row[0] for row in page.rows(cursor, values)]
            ((count,),) = total.rows(cursor, values)
        return b"[" + ",".join(documents).encode() + b"]", count

    def get_json(self, product_id: int) -> bytes:
        with self._cursor() as cursor:
            found = _one_statement(self.engine.dialect).rows(cursor, {"id": product_id})
        if not found:
            raise NotFound(f"product {product_id} not found")
        return found[0][0].encode()

    def _cursor(self) -> contextlib.AbstractContextManager[Any]:
        """A driver cursor on a pooled connection (kit.db.driver_cursor)."""
        return driver_cursor(self.engine, WHAT)

    def get(self, product_id: int) -> Product:
        with translated_errors(WHAT), self.engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).select_from(_JOINED).where(products.c.id == product_id)).first()
        if row is None:
            raise NotFound(f"product {product_id} not found")
        return _product(row)

    def image_state(self, product_id: int) -> tuple[Product, str | None]:
        query = select(*_COLUMNS, products.c.image_upload_key).select_from(_JOINED).where(products.c.id == product_id)
        with translated_errors(WHAT), self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"product {product_id} not found")
        fields = dict(row._mapping)
        upload_key = fields.pop("image_upload_key")
        return Product(**fields), upload_key

    def categories(self) -> list[Category]:
        counts = (
            select(categories.c.id, categories.c.name, func.count(products.c.id).label("count"))
            .select_from(categories.outerjoin(products, products.c.category_id == categories.c.id))
            .group_by(categories.c.id, categories.c.name)
            .order_by(categories.c.name_key)
        )
        with translated_errors(WHAT), self.engine.connect() as conn:
            return [Category(row.id, row.name, row.count) for row in conn.execute(counts).all()]

    def category(self, category_id: int) -> Category:
        with translated_errors(WHAT), self.engine.connect() as conn:
            return SqlCategoryRepository(conn).get(category_id)

    def count(self) -> int:
        with translated_errors(WHAT), self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(products)).scalar_one()

    def ping(self) -> None:
        with translated_errors(WHAT), self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
