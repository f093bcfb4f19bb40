"""What a request carries through every call it makes: its id, for the logs, and its deadline, for the waits."""

from __future__ import annotations

import contextvars
import time

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# time.monotonic() by which the request must be answered; None outside a request (background work).
deadline_var: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)

# Header that hands the remaining budget, in seconds, to the next service, so it never works past its caller.
TIMEOUT_HEADER = "x-request-timeout"


def remaining(default: float) -> float:
    """Seconds left before the current request's deadline, or `default` outside a request; never below 0."""
    deadline = deadline_var.get()
    if deadline is None:
        return default
    return max(0.0, deadline - time.monotonic())


def parse_timeout(raw: bytes | None) -> float | None:
    """A caller's remaining budget from the timeout header; None when absent or not a sane positive number."""
    if not raw or len(raw) > 16:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0 < value < 3600 else None
