"""Synthetic shoppers, deterministic for a seed: who acts, what they do, on which product, at what event time.

Each event picks a shopper uniformly and an action by the configured mix, so the mix holds over many events. Each
shopper keeps a little state, so the story reads like shopping: an add puts the product they last looked at in
their cart, a purchase buys their cart (or what they last looked at) and empties it. Out-of-order events are moved
back by 1..max_skew seconds; late ones by the lateness, past the stream job's bound, to exercise its late path.
"""

from __future__ import annotations

import bisect
import itertools
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mce.kit.contracts import ACTIVITY_TYPES, ActivityPayload

DEFAULT_MIX = "view_product=70,search=15,add_to_cart=10,purchase=5"
USER_PREFIX = "sim-"
MAX_CATALOG_PRODUCTS = 10_000
MAX_TERMS = 500
# Used while the catalog has no products (or cannot be read): ids 1..100, which may not exist, at one price.
FALLBACK_PRODUCTS = 100
FALLBACK_PRICE = Decimal("10.00")
FALLBACK_TERMS = ("lamp", "chair", "desk", "pen", "notebook", "mug", "cable", "backpack", "shoes", "jacket")
_WORD = re.compile(r"[a-z]{3,20}")


def parse_mix(text: str) -> dict[str, float]:
    """'view_product=70,search=15' as weights by event type; ValueError saying what is wrong."""
    weights: dict[str, float] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, sep, raw = part.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"{part!r} must be type=weight, e.g. view_product=70")
        if name not in ACTIVITY_TYPES:
            raise ValueError(f"unknown event type {name!r}; allowed: {', '.join(ACTIVITY_TYPES)}")
        if name in weights:
            raise ValueError(f"{name} is given twice")
        try:
            weight = float(raw)
        except ValueError:
            raise ValueError(f"the weight of {name} must be a number (got {raw.strip()!r})") from None
        if not 0 <= weight <= 1e6 or weight != weight:
            raise ValueError(f"the weight of {name} must be from 0 to 1000000")
        weights[name] = weight
    if not weights or sum(weights.values()) <= 0:
        raise ValueError("give at least one event type a weight above 0, e.g. view_product=70,search=30")
    return weights


def mix_text(weights: Mapping[str, float]) -> str:
    """The mix as it is written in settings."""
    return ",".join(f"{name}={weight:g}" for name, weight in weights.items())


@dataclass(frozen=True)
class Disorder:
    """How many events to move back in time, and by how much (whole seconds)."""

    out_of_order_fraction: float = 0.0
    max_skew_s: int = 4
    late_fraction: float = 0.0
    lateness_s: int = 120

    def __post_init__(self) -> None:
        if not (0 <= self.out_of_order_fraction <= 1 and 0 <= self.late_fraction <= 1):
            raise ValueError("fractions must be from 0 to 1")
        if self.out_of_order_fraction + self.late_fraction > 1:
            raise ValueError("the out-of-order and late fractions must add up to at most 1")
        if self.max_skew_s < 1 or self.lateness_s < 1:
            raise ValueError("the skew and the lateness must be at least 1 second")


@dataclass(frozen=True)
class Catalog:
    """The products shoppers look at (id and price) and words they search for."""

    products: tuple[tuple[str, Decimal], ...]
    terms: tuple[str, ...]
    fallback: bool = False

    @classmethod
    def from_products(cls, items: Iterable[Mapping[str, Any]]) -> Catalog:
        """A catalog from GET /products items; the fallback one when they hold no usable product."""
        products: list[tuple[str, Decimal]] = []
        terms: set[str] = set()
        for item in itertools.islice(items, MAX_CATALOG_PRODUCTS):
            product_id, price = item.get("id"), item.get("price")
            if not isinstance(product_id, int) or isinstance(product_id, bool):
                continue
            try:
                amount = Decimal(str(price))
            except ArithmeticError:
                continue
            if not amount.is_finite():
                continue
            products.append((str(product_id), amount))
            terms.update(_WORD.findall(str(item.get("name", "")).lower()))
        if not products:
            return FALLBACK_CATALOG
        return cls(tuple(products), tuple(sorted(terms)[:MAX_TERMS]) or FALLBACK_TERMS)


FALLBACK_CATALOG = Catalog(
    tuple((str(n), FALLBACK_PRICE) for n in range(1, FALLBACK_PRODUCTS + 1)), FALLBACK_TERMS, fallback=True
)


@dataclass
class _Shopper:
    """What one synthetic shopper is doing: the product they last looked at and their cart."""

    last_viewed: int | None = None
    cart: dict[int, int] = field(default_factory=dict)


class ShopperSimulator:
    """Makes activity payloads; the same seed, settings, catalog and base times make the same payloads."""

    def __init__(
        self, *, seed: int, users: int, mix: Mapping[str, float], disorder: Disorder, catalog: Catalog
    ) -> None:
        if users < 1:
            raise ValueError("there must be at least one user")
        self.users = users
        self.disorder = disorder
        self.catalog = catalog
        self._rng = random.Random(seed)
        self._types = [name for name, weight in mix.items() if weight > 0]
        self._cumulative = list(itertools.accumulate(mix[name] for name in self._types))
        self._shoppers: dict[int, _Shopper] = {}
        self._orders = 0

    def next(self, base_s: int) -> ActivityPayload:
        """One shopper's next action, at base_s (seconds), or earlier when it is made out of order or late."""
        rng = self._rng
        user = rng.randrange(self.users)
        event_type = self._types[bisect.bisect_right(self._cumulative, rng.random() * self._cumulative[-1])]
        shopper = self._shoppers.setdefault(user, _Shopper())
        catalog = self.catalog
        product: str | None = None
        metadata: dict[str, Any] = {}
        if event_type == "view_product":
            shopper.last_viewed = rng.randrange(len(catalog.products))
            product = catalog.products[shopper.last_viewed][0]
        elif event_type == "search":
            metadata["query"] = rng.choice(catalog.terms)
        elif event_type == "add_to_cart":
            index = self._product_in_mind(shopper)
            quantity = 1 if rng.random() < 0.8 else rng.randint(2, 3)
            shopper.cart[index] = shopper.cart.get(index, 0) + quantity
            product = catalog.products[index][0]
            metadata["quantity"] = quantity
        else:
            if not shopper.cart:
                shopper.cart[self._product_in_mind(shopper)] = 1
            total = sum(catalog.products[i][1] * quantity for i, quantity in shopper.cart.items())
            shopper.cart.clear()
            self._orders += 1
            metadata.update(order_id=self._orders, total=f"{total:.2f}")
        return ActivityPayload(
            user_id=f"{USER_PREFIX}{user:06d}",
            event_type=event_type,
            product_id=product,
            timestamp=max(0, base_s - self._moved_back()),
            metadata=metadata,
        )

    def _product_in_mind(self, shopper: _Shopper) -> int:
        """The product the shopper last looked at, or one they come across (a catalog refresh may shrink the list)."""
        count = len(self.catalog.products)
        if shopper.last_viewed is None or shopper.last_viewed >= count:
            shopper.last_viewed = self._rng.randrange(count)
        return shopper.last_viewed

    def _moved_back(self) -> int:
        """Seconds to move this event back: 0 for most, the lateness for late ones, a skew for out-of-order ones."""
        disorder = self.disorder
        if not (disorder.late_fraction or disorder.out_of_order_fraction):
            return 0
        draw = self._rng.random()
        if draw < disorder.late_fraction:
            return disorder.lateness_s
        if draw < disorder.late_fraction + disorder.out_of_order_fraction:
            return self._rng.randint(1, disorder.max_skew_s)
        return 0


class Pacer:
    """A fixed schedule: the n-th event since the rate was set is due at start + n / rate, so rates do not drift.

    A producer that falls more than a second behind (a slow bus) starts a new schedule instead of bursting to
    catch up; the events it skipped are counted.
    """

    def __init__(self, rate: float, now: float) -> None:
        self.skipped = 0
        self.set_rate(rate, now)

    def set_rate(self, rate: float, now: float) -> None:
        """Follow a new rate from now."""
        if not rate > 0:
            raise ValueError("the rate must be above 0")
        self.rate = rate
        self._start = now
        self._sent = 0

    def due(self, now: float) -> int:
        """Events that should have been sent by now and were not."""
        owed = int((now - self._start) * self.rate) + 1 - self._sent
        if owed > max(1.0, self.rate):
            self.skipped += owed - 1
            self.set_rate(self.rate, now)
            return 1
        return max(0, owed)

    def sent(self, count: int) -> None:
        """Note that count events went out."""
        self._sent += count

    def wait(self, now: float) -> float:
        """Seconds until the next event is due (0 when one is due)."""
        return max(0.0, self._start + self._sent / self.rate - now)
