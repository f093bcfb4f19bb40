"""A served process freezes its start-up heap before it takes requests, after collecting start-up's garbage."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from mce.cli import main
from mce.kit import logs
from mce.kit.heap import freeze_start_up_heap


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """Give the test process its collector back, whatever a test froze."""
    yield
    gc.unfreeze()


class Node:
    """An object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def test_garbage_is_collected_before_the_rest_is_frozen() -> None:
    kept, lost = Node(), Node()
    lost.other = Node()
    lost.other.other = lost  # a cycle only the collector frees
    gone = weakref.ref(lost)
    del lost

    frozen = freeze_start_up_heap()

    assert gone() is None, "garbage from start-up was frozen instead of freed"
    assert frozen == gc.get_freeze_count() > 0
    assert kept.other is None  # what is alive stays alive


def test_serve_freezes_the_heap_once_the_app_is_built_and_before_uvicorn_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, object] = {}

    def run(app, **options) -> None:  # noqa: ANN001 - uvicorn.run's own signature
        seen["frozen"] = gc.get_freeze_count()
        seen["app"] = app

    monkeypatch.setattr(uvicorn, "run", run)
    # The process's logging stays pytest's.
    monkeypatch.setattr(logs, "configure_logging", lambda *args: None)
    monkeypatch.setenv("MCE_DATA_DIR", str(tmp_path))
    gc.unfreeze()

    assert main(["serve", "stream", "--port", "0"]) == 0

    assert seen["app"] is not None
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 10_000
