"""Synthetic shoppers: deterministic for a seed, the configured mix, disorder as asked, a steady schedule."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from mce.kit.contracts import activity_event
from mce.services.events_producer.domain import (
    FALLBACK_CATALOG,
    Catalog,
    Disorder,
    Pacer,
    ShopperSimulator,
    parse_mix,
)

MIX = parse_mix("view_product=70,search=15,add_to_cart=10,purchase=5")
CATALOG = Catalog.from_products(
    [
        {"id": 7, "name": "Desk Lamp", "price": "12.50"},
        {"id": 9, "name": "Fountain Pen", "price": "3.20"},
        {"id": 11, "name": "Oak Chair", "price": "80.00"},
    ]
)
BASE = 1_750_000_000


def simulator(seed: int = 1, *, users: int = 50, disorder: Disorder = Disorder(), mix=MIX, catalog=CATALOG):
    return ShopperSimulator(seed=seed, users=users, mix=mix, disorder=disorder, catalog=catalog)


def run(sim: ShopperSimulator, count: int) -> list:
    return [sim.next(BASE + i // 100) for i in range(count)]


def test_the_same_seed_tells_the_same_story_and_another_seed_another() -> None:
    first, again, other = run(simulator(5), 2000), run(simulator(5), 2000), run(simulator(6), 2000)
    assert first == again
    assert first != other


def test_the_mix_holds_over_many_events() -> None:
    counts = Counter(event.event_type for event in run(simulator(), 50_000))
    for event_type, weight in MIX.items():
        assert counts[event_type] / 50_000 == pytest.approx(weight / 100, abs=0.01)


def test_a_type_weighted_zero_never_happens() -> None:
    counts = Counter(e.event_type for e in run(simulator(mix=parse_mix("view_product=1,purchase=0")), 1000))
    assert counts == {"view_product": 1000}


def test_shoppers_are_the_configured_number_with_stable_ids_and_real_product_ids() -> None:
    events = run(simulator(users=7), 5000)
    assert {event.user_id for event in events} == {f"sim-{n:06d}" for n in range(7)}
    assert {event.product_id for event in events} - {None} == {"7", "9", "11"}
    assert all((event.product_id is None) == (event.event_type in ("search", "purchase")) for event in events)


def test_a_purchase_buys_what_the_shopper_put_in_their_cart() -> None:
    sim = simulator(users=1, mix=parse_mix("view_product=1,add_to_cart=1,purchase=1"))
    cart, prices = Decimal(0), {"7": Decimal("12.50"), "9": Decimal("3.20"), "11": Decimal("80.00")}
    checked = 0
    for event in run(sim, 300):
        if event.event_type == "add_to_cart":
            cart += prices[event.product_id] * event.metadata["quantity"]
        elif event.event_type == "purchase":
            if cart:
                assert Decimal(event.metadata["total"]) == cart
                checked += 1
            cart = Decimal(0)
    assert checked > 20


def test_searches_use_words_from_the_catalog() -> None:
    queries = {e.metadata["query"] for e in run(simulator(), 3000) if e.event_type == "search"}
    assert queries == {"desk", "lamp", "fountain", "pen", "oak", "chair"}


def test_timestamps_are_whole_seconds_at_the_base_when_in_order() -> None:
    events = [simulator().next(BASE) for _ in range(100)]
    assert {event.timestamp for event in events} == {BASE}
    assert all(type(event.timestamp) is int for event in events)


def test_out_of_order_and_late_events_come_in_the_configured_shares_and_distances() -> None:
    disorder = Disorder(out_of_order_fraction=0.2, max_skew_s=4, late_fraction=0.05, lateness_s=120)
    sim = simulator(disorder=disorder)
    moved = Counter(BASE - sim.next(BASE).timestamp for _ in range(20_000))
    assert set(moved) == {0, 1, 2, 3, 4, 120}
    assert moved[120] / 20_000 == pytest.approx(0.05, abs=0.006)
    assert sum(moved[s] for s in (1, 2, 3, 4)) / 20_000 == pytest.approx(0.2, abs=0.01)


def test_disorder_that_cannot_be_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 1"):
        Disorder(out_of_order_fraction=0.7, late_fraction=0.5)
    with pytest.raises(ValueError):
        Disorder(max_skew_s=0)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "at least one"),
        ("view_product=0", "at least one"),
        ("click=5", "unknown event type"),
        ("view_product", "type=weight"),
        ("search=x", "must be a number"),
        ("search=-1", "from 0"),
        ("search=nan", "from 0"),
        ("search=1,search=2", "twice"),
    ],
)
def test_a_mix_that_makes_no_sense_is_refused_with_a_reason(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_mix(text)


def test_an_empty_or_unusable_catalog_falls_back_to_made_up_ids() -> None:
    assert Catalog.from_products([]) is FALLBACK_CATALOG
    assert Catalog.from_products([{"id": "x", "price": "1"}, {"id": True, "price": "1"}]).fallback
    assert {e.product_id for e in run(simulator(catalog=FALLBACK_CATALOG), 2000)} - {None} <= {
        str(n) for n in range(1, 101)
    }


def test_the_envelope_is_keyed_by_user_and_occurs_at_the_event_time() -> None:
    payload = simulator().next(BASE)
    event = activity_event(payload)
    assert event.key == payload.user_id and event.data == payload.model_dump(mode="json")
    assert event.occurred_at.timestamp() == BASE


def test_the_pacer_keeps_a_fixed_schedule_and_takes_a_new_rate_at_once() -> None:
    pacer = Pacer(100, now=0.0)
    assert pacer.due(0.0) == 1
    pacer.sent(1)
    assert pacer.due(0.005) == 0 and pacer.wait(0.005) == pytest.approx(0.005)
    assert pacer.due(0.5) == 50
    pacer.sent(50)
    pacer.set_rate(10, now=0.5)
    assert pacer.due(0.5) == 1
    pacer.sent(1)
    assert pacer.due(1.5) == 10


def test_a_pacer_far_behind_starts_afresh_instead_of_bursting() -> None:
    pacer = Pacer(100, now=0.0)
    assert pacer.due(5.0) == 1 and pacer.skipped == 500
    pacer.sent(1)
    assert pacer.due(5.25) == 25
