"""Build the EventBus a setting names; the only place that switches on MCE_BUS."""

from __future__ import annotations

from pathlib import Path

from mce.kit.bus.port import EventBus
from mce.kit.settings import SettingsError

BUS_CHOICES = ("local",)


def build_bus(kind: str, *, data_dir: Path) -> EventBus:
    """The bus for MCE_BUS: 'local' is the embedded log under the data directory."""
    if kind == "local":
        from mce.kit.bus.sqlite import SqliteEventBus

        return SqliteEventBus(Path(data_dir) / "bus.db")
    raise SettingsError(f"MCE_BUS: unknown bus {kind!r}; allowed: {', '.join(BUS_CHOICES)}")
