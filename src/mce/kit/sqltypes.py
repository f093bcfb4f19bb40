"""Column types the services' SQL tables share: exact money and timezone-aware UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import DateTime, Dialect, Integer, Numeric
from sqlalchemy.types import TypeDecorator

from mce.kit.money import CENTS


class Money(TypeDecorator):
    """NUMERIC(10,2) on PostgreSQL; integer cents on SQLite, which has no exact decimal type."""

    impl = Numeric(10, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect):  # noqa: ANN201 - SQLAlchemy's signature
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Integer())
        return dialect.type_descriptor(Numeric(10, 2))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> object:
        if value is None:
            return None
        value = Decimal(value).quantize(CENTS)
        return int(value * 100) if dialect.name == "sqlite" else value

    def process_result_value(self, value: object, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(CENTS)
        return Decimal(value).quantize(CENTS)


class UtcDateTime(TypeDecorator):
    """Timestamps always come back timezone-aware in UTC, whatever the engine stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
