"""The event envelope every topic carries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field

ENVELOPE_VERSION = 1


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """A past-tense fact with a unique id, a partition key and a versioned payload."""

    model_config = {"frozen": True}

    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    type: str
    version: int = ENVELOPE_VERSION
    occurred_at: datetime = Field(default_factory=_now)
    key: str
    data: dict[str, Any] = Field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """Serialise for the wire."""
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> Event:
        """Parse from the wire; raises pydantic.ValidationError on a malformed event."""
        return cls.model_validate_json(raw)
