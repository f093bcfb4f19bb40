"""Failed-attempt limits: a client that keeps presenting wrong credentials is refused for a while with 429."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from mce.kit.errors import TooManyRequests

# Bounded memory: past this many clients, those whose window has passed are forgotten.
MAX_TRACKED_CLIENTS = 10_000


class AttemptLimiter(Protocol):
    """Counts a client's failed attempts in a fixed window; past the limit every attempt is refused until it ends."""

    def check(self, client: str) -> None:
        """Raise TooManyRequests, with the seconds to wait, while the client is locked out."""

    def failed(self, client: str) -> None:
        """Count one failed attempt."""


class MemoryAttemptLimiter:
    """An AttemptLimiter in this process's memory (each replica counts on its own)."""

    def __init__(self, *, max_failures: int = 10, window_s: float = 600.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        with self._lock:
            started, failures = self._windows.get(client, (0.0, 0))
        wait = started + self.window_s - time.monotonic()
        if failures >= self.max_failures and wait > 0:
            raise TooManyRequests("too many failed attempts; wait before trying again", retry_after_s=int(wait) + 1)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            started, failures = self._windows.get(client, (now, 0))
            if now - started >= self.window_s:
                started, failures = now, 0
            self._windows[client] = (started, failures + 1)
            if len(self._windows) > MAX_TRACKED_CLIENTS:
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < self.window_s}
