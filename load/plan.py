"""The load test's plan, free of Locust (which patches the standard library on import): stages, products, verdict."""

from __future__ import annotations

from dataclasses import dataclass

# The design's scenario (system design, 10.2), in seconds: ramp to a quarter of the users (50 of 200) in 30 s,
# hold all of them for 2 minutes, ramp down to none in 30 s. A run of another duration keeps these proportions.
DESIGN_SECONDS = (30.0, 120.0, 30.0)
DESIGN_DURATION = sum(DESIGN_SECONDS)
RAMP_SHARE = 0.25


@dataclass(frozen=True)
class Stages:
    """The scenario scaled to a total duration and a number of users."""

    duration: float
    users: int

    @property
    def ramp_up(self) -> float:
        return self.duration * DESIGN_SECONDS[0] / DESIGN_DURATION

    @property
    def hold(self) -> float:
        return self.duration * DESIGN_SECONDS[1] / DESIGN_DURATION

    @property
    def ramp_users(self) -> int:
        return max(1, round(self.users * RAMP_SHARE))

    def users_at(self, elapsed: float) -> int | None:
        """How many users should run `elapsed` seconds into the test; None once it is over."""
        if elapsed >= self.duration:
            return None
        if elapsed < self.ramp_up:
            return max(1, round(self.ramp_users * elapsed / self.ramp_up))
        if elapsed < self.ramp_up + self.hold:
            return self.users
        left = (self.duration - elapsed) / (self.duration - self.ramp_up - self.hold)
        return round(self.users * left)


def plentiful(products: list[dict], min_stock: int) -> list[int]:
    """Ids of the products with at least `min_stock` in stock: a cart of this test never asks for more than that."""
    return [p["id"] for p in products if isinstance(p.get("stock"), int) and p["stock"] >= min_stock]


def serves_checkout(openapi: dict) -> bool:
    """Whether a gateway's OpenAPI document has `POST /api/orders`."""
    return "post" in (openapi.get("paths", {}).get("/api/orders") or {})


@dataclass(frozen=True)
class Verdict:
    """The run's figures against its thresholds."""

    requests: int
    failures: int
    p95_ms: float
    max_p95_ms: float
    max_failure_ratio: float

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def problems(self) -> list[str]:
        """Each threshold missed, in words; empty when the run passed."""
        missed = []
        if not self.requests:
            missed.append("no request was made")
        if self.p95_ms >= self.max_p95_ms:
            missed.append(f"p95 {self.p95_ms:g} ms is not under {self.max_p95_ms:g} ms")
        if self.failure_ratio >= self.max_failure_ratio:
            missed.append(f"failure ratio {self.failure_ratio:.2%} is not under {self.max_failure_ratio:.2%}")
        return missed

    def summary(self) -> str:
        return (
            f"{self.requests} requests, {self.failures} failed ({self.failure_ratio:.2%}, threshold "
            f"< {self.max_failure_ratio:.2%}), p95 {self.p95_ms:g} ms (threshold < {self.max_p95_ms:g} ms)"
        )
