"""The shared stream test vectors (tests/vectors/stream/<case>/), read the same way by every implementation's tests.

A case is a directory holding events.jsonl (ActivityPayload objects in arrival order), expected.jsonl (WindowPayload
objects in window_start order) and case.json ({description, out_of_orderness_ms, late_events}).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parent / "vectors" / "stream"


@dataclass(frozen=True)
class StreamCase:
    """One vector: its events in arrival order, the windows they must give, and the late count."""

    name: str
    path: Path
    description: str
    out_of_orderness_ms: int
    late_events: int
    events: list[dict[str, Any]]
    expected: list[dict[str, Any]]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def case_names() -> list[str]:
    """Every case's name, sorted; fails when there are none, so a moved folder cannot pass by testing nothing."""
    names = sorted(p.parent.name for p in VECTORS.glob("*/case.json"))
    if not names:
        raise FileNotFoundError(f"no stream test vectors under {VECTORS}")
    return names


def load_case(name: str) -> StreamCase:
    """One case, read from its folder."""
    path = VECTORS / name
    params = json.loads((path / "case.json").read_text())
    return StreamCase(
        name=name,
        path=path,
        description=params["description"],
        out_of_orderness_ms=params["out_of_orderness_ms"],
        late_events=params["late_events"],
        events=_jsonl(path / "events.jsonl"),
        expected=_jsonl(path / "expected.jsonl"),
    )


def all_cases() -> list[StreamCase]:
    """Every case, loaded."""
    return [load_case(name) for name in case_names()]
