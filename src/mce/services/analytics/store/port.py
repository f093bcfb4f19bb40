"""The windows' storage port: each result applied once by its event id, and per window the newest copy kept."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum

from mce.services.analytics.domain import WindowRecord


class Outcome(StrEnum):
    """What applying one result did."""

    NEW = "new"  # the first copy of its window
    REPLACED = "replaced"  # a newer copy of a stored window (a correction)
    STALE = "stale"  # an older (or the same) copy of a stored window: nothing changed
    DUPLICATE = "duplicate"  # this event was applied before (the inbox has it)


class WindowStore(ABC):
    """Windows by their start; a batch of results is applied whole or not at all."""

    @abstractmethod
    def apply(self, group: str, windows: Sequence[WindowRecord]) -> list[Outcome]:
        """Apply each result once per (group, event id), keeping per window the newest (occurred_at, event_id) copy."""

    @abstractmethod
    def recent(self, limit: int) -> list[WindowRecord]:
        """Up to limit windows, newest window_start first."""

    @abstractmethod
    def purge(self, older_than: timedelta) -> int:
        """Forget windows stored (or last corrected) longer ago than this, and inbox entries as old; windows removed."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store does not answer."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
