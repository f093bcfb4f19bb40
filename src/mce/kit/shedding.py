"""Load shedding: refuse work at once when the process cannot keep up, instead of queueing it until it times out.

Two signals. Requests in flight past a bound mean callers wait on something slow. Event-loop lag means the process
itself is out of CPU: requests then queue in socket buffers, before any middleware can count them, so the lag is
what shows it. While either is over its limit, new requests get 503 with Retry-After, which costs almost nothing
and lets the backlog drain; once the loop keeps time again, requests are served again.
"""

from __future__ import annotations

import asyncio
import time

LAG_PROBE_EVERY_S = 0.05
# Each probe moves the smoothed lag this far towards what it measured: one late timer (a GC pause, a busy
# neighbour) is a hiccup and barely moves it; a loop that keeps running late moves it within a few probes.
SMOOTHING = 0.3


class LoadShedder:
    """Decides, per request, whether the process has room for it."""

    def __init__(self, *, max_in_flight: int, max_lag_s: float) -> None:
        self.max_in_flight = max_in_flight
        self.max_lag_s = max_lag_s
        self.in_flight = 0
        self.lag_s = 0.0
        self.smoothed_lag_s = 0.0
        self.shed = 0
        self._lagging = False

    @property
    def overloaded(self) -> bool:
        """Whether a new request should be refused now."""
        return self.in_flight >= self.max_in_flight or self._lagging

    def observe_lag(self, lag_s: float) -> None:
        """Record how late the loop ran a timer: shed while the smoothed lag is over the limit, until below half it."""
        self.lag_s = lag_s
        # Capped, so that one long stall (a big GC, a blocking call) counts as one late probe, not as overload.
        counted = min(lag_s, 2 * self.max_lag_s)
        self.smoothed_lag_s += SMOOTHING * (counted - self.smoothed_lag_s)
        if self.smoothed_lag_s > self.max_lag_s:
            self._lagging = True
        elif self.smoothed_lag_s < self.max_lag_s / 2:
            self._lagging = False

    async def watch_loop(self) -> None:
        """Measure the event loop's lag for as long as the service runs."""
        while True:
            expected = time.monotonic() + LAG_PROBE_EVERY_S
            await asyncio.sleep(LAG_PROBE_EVERY_S)
            self.observe_lag(max(0.0, time.monotonic() - expected))
