"""A loop in a daemon thread that its owner starts and stops: the consumers, the outbox relays, the trigger loop."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod


class BackgroundLoop(ABC):
    """Runs `run` in a daemon thread named `thread_name`; `stop` asks it to finish its round and waits for it."""

    def __init__(self, thread_name: str) -> None:
        self.thread_name = thread_name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def run(self) -> None:
        """The loop: it checks `self._stop` between rounds and sleeps with `self._stop.wait`, so a stop ends it."""

    def start(self) -> None:
        """Run the loop in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to finish its round and wait for it, up to timeout."""
        self._stop.set()
        self._interrupt()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the loop thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def _interrupt(self) -> None:  # noqa: B027 - a hook with nothing to do by default, not an abstract method
        """Wake a loop that waits on something besides the stop flag (a relay's wake-up); nothing by default."""
