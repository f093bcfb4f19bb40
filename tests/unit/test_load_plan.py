"""The load scenario's plan: the design's stages at any duration, which products it uses, and its verdict."""

from __future__ import annotations

from load.plan import Stages, Verdict, plentiful, serves_checkout


def test_the_default_stages_are_the_designs_ramp_hold_and_ramp_down() -> None:
    stages = Stages(duration=180, users=200)
    assert (stages.ramp_up, stages.hold) == (30, 120)
    assert [stages.users_at(t) for t in (0, 15, 29.9)] == [1, 25, 50]
    assert [stages.users_at(t) for t in (30, 100, 149.9)] == [200, 200, 200]
    assert [stages.users_at(t) for t in (150, 165, 179.9)] == [200, 100, 1]
    assert stages.users_at(180) is None


def test_a_short_run_keeps_the_designs_proportions() -> None:
    stages = Stages(duration=18, users=10)
    assert (stages.ramp_up, stages.hold, stages.ramp_users) == (3, 12, 2)
    assert stages.users_at(10) == 10 and stages.users_at(18) is None


def test_only_products_with_plenty_of_stock_are_used() -> None:
    products = [{"id": 1, "stock": 0}, {"id": 2, "stock": 50}, {"id": 3, "stock": 49}, {"id": 4}]
    assert plentiful(products, 50) == [2]


def test_checkout_is_on_only_when_the_gateway_documents_post_api_orders() -> None:
    assert serves_checkout({"paths": {"/api/orders": {"post": {}}}})
    assert not serves_checkout({"paths": {"/api/orders": {"get": {}}}})
    assert not serves_checkout({"paths": {"/api/cart": {"post": {}}}})


def test_the_verdict_names_each_threshold_missed() -> None:
    passed = Verdict(requests=1000, failures=9, p95_ms=120, max_p95_ms=500, max_failure_ratio=0.01)
    assert passed.problems == []
    slow_and_failing = Verdict(requests=100, failures=1, p95_ms=500, max_p95_ms=500, max_failure_ratio=0.01)
    assert [p.split()[0] for p in slow_and_failing.problems] == ["p95", "failure"]
    assert Verdict(0, 0, 0, 500, 0.01).problems == ["no request was made"]
