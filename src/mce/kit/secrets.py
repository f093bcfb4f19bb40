"""Local secrets: taken from the environment, else generated once and kept in the data directory."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path


def local_secret(value: str | None, data_dir: Path, name: str) -> str:
    """The configured value, or the one kept at <data_dir>/secrets/<name>, made on first use."""
    if value:
        return value
    path = Path(data_dir) / "secrets" / name
    if path.exists():
        stored = path.read_text().strip()
        if stored:
            return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    generated = secrets.token_urlsafe(24)
    # O_EXCL: when two processes race to create it, one wins and the other reads the winner's value.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_when_written(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(generated + "\n")
    return generated


def _read_when_written(path: Path, wait_s: float = 2.0) -> str:
    """Read a secret another process has just created, waiting briefly for its write."""
    deadline = time.monotonic() + wait_s
    while True:
        stored = path.read_text().strip()
        if stored or time.monotonic() > deadline:
            return stored
        time.sleep(0.01)
