"""The analytics API's documents."""

from __future__ import annotations

from pydantic import BaseModel

from mce.kit.contracts import WindowPayload


class WindowList(BaseModel):
    """Stored windows, newest first."""

    windows: list[WindowPayload]
