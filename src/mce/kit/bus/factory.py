"""Build the EventBus a setting names; the only place that switches on MCE_BUS."""

from __future__ import annotations

from contextlib import AsyncExitStack, ExitStack
from typing import Literal

from pydantic import Field

from mce.kit.bus.port import EventBus
from mce.kit.settings import BaseServiceSettings, SettingsError

BUS_CHOICES = ("local",)


class BusSettings(BaseServiceSettings):
    """Settings of a service that publishes or consumes events."""

    # local = the embedded SQLite log under the data directory.
    bus: Literal["local"] = "local"
    # The embedded log drops events older than this, and the oldest ones while it is bigger than its size limit.
    bus_retention_hours: float = Field(default=168.0, gt=0, le=24 * 365)
    bus_retention_mb: int = Field(default=512, ge=1, le=1_000_000)


def own_bus(stack: ExitStack | AsyncExitStack, settings: BusSettings, given: EventBus | None) -> EventBus:
    """The given bus (a test's, which the caller closes), else one built for the settings that the stack closes."""
    if given is not None:
        return given
    bus = build_bus(settings)
    stack.callback(bus.close)
    return bus


def build_bus(settings: BusSettings) -> EventBus:
    """The bus for MCE_BUS: 'local' is the embedded log at <data dir>/bus.db."""
    if settings.bus == "local":
        from mce.kit.bus.sqlite import SqliteEventBus

        return SqliteEventBus(
            settings.data_dir / "bus.db",
            retention_s=settings.bus_retention_hours * 3600,
            retention_bytes=settings.bus_retention_mb * 1024 * 1024,
        )
    raise SettingsError(f"MCE_BUS: unknown bus {settings.bus!r}; allowed: {', '.join(BUS_CHOICES)}")
