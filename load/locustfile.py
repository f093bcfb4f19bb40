"""`make load`: the design's load scenario (system design, 10.2) with Locust, and a checkout journey.

Run headless: `locust -f load/locustfile.py --headless --host URL [--duration S] [--users-peak N]`. The shape below
drives the users (ramp to a quarter of them, hold all, ramp down); at the end the run exits 1 when p95 or the failure
ratio misses its threshold, and prints the figures either way.
"""

from __future__ import annotations

import logging
import random
import sys
import uuid
from pathlib import Path
from urllib.parse import urlencode

import requests
from locust import FastHttpUser, LoadTestShape, constant, events, task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from load.plan import DESIGN_DURATION, Stages, Verdict, plentiful, serves_checkout  # noqa: E402

log = logging.getLogger("load")

# How much of the catalog is read for product ids, and how many adds a shopper makes before starting afresh (a new
# visitor, a new cart): a cart holds at most 50 products, and this keeps every line well within the product's stock.
CATALOG_PAGES = 5
PAGE = 100
# Each visit makes between these many adds (20 on average), drawn anew per visit: with one fixed number the users
# spawned together at the peak all became new visitors in the same second, every 20 s.
ADDS_PER_VISIT = (10, 30)
# Which users each scenario runs: the design's shoppers, whole purchases, or both (one user in ten buying).
SCENARIOS = ("design", "checkout", "mixed")
SCENARIO_USERS = {
    "design": "each user lists products, adds one to the cart, sleeps 1 s",
    "checkout": "each user browses, searches, adds two products, checks out and reads the order",
    "mixed": "the design's users, and one user in ten checking out",
}
SEARCH_WORDS = ("headphones", "shirt", "kitchen", "lamp", "book", "shoes", "mug", "chair")


class Catalog:
    """What the run learned from the gateway at its start: ids of products with plenty of stock, checkout or not."""

    product_ids: list[int] = []
    names: dict[int, str] = {}
    checkout: bool = False
    checkout_note: str = ""


@events.init_command_line_parser.add_listener
def _arguments(parser) -> None:
    group = parser.add_argument_group("mce load scenario")
    group.add_argument(
        "--duration", type=float, env_var="LOAD_DURATION", default=DESIGN_DURATION, help="seconds the shape runs"
    )
    group.add_argument("--users-peak", type=int, env_var="LOAD_USERS", default=200, help="users at the peak")
    group.add_argument("--p95-ms", type=float, env_var="LOAD_P95_MS", default=500.0, help="p95 must stay under this")
    group.add_argument(
        "--max-failure-ratio", type=float, env_var="LOAD_MAX_FAILURE_RATIO", default=0.01, help="failures under this"
    )
    group.add_argument(
        "--scenario",
        choices=SCENARIOS,
        env_var="LOAD_SCENARIO",
        default="design",
        help="design: the design's shoppers (list, add, sleep); checkout: whole purchases; mixed: one user in ten buys",
    )
    group.add_argument(
        "--min-stock", type=int, env_var="LOAD_MIN_STOCK", default=50, help="only products with this much stock"
    )


def _discover(host: str, min_stock: int) -> None:
    """Read product ids from the catalog and ask the gateway's OpenAPI whether it serves checkout."""
    products: list[dict] = []
    for page in range(CATALOG_PAGES):
        answer = requests.get(f"{host}/api/products", params={"limit": PAGE, "offset": page * PAGE}, timeout=10)
        answer.raise_for_status()
        products.extend(answer.json()["items"])
        if len(products) >= answer.json()["total"]:
            break
    Catalog.product_ids = plentiful(products, min_stock)
    Catalog.names = {p["id"]: p.get("name", "") for p in products}
    if not Catalog.product_ids:
        raise RuntimeError(f"none of the {len(products)} products read has a stock of {min_stock} or more")
    try:
        openapi = requests.get(f"{host}/openapi.json", timeout=10)
        Catalog.checkout = openapi.status_code == 200 and serves_checkout(openapi.json())
        Catalog.checkout_note = f"/openapi.json answered {openapi.status_code} without POST /api/orders"
    except (requests.RequestException, ValueError) as error:
        Catalog.checkout, Catalog.checkout_note = False, f"/openapi.json could not be read ({error})"


@events.init.add_listener
def _on_init(environment, **_kwargs) -> None:
    if not environment.host or not environment.parsed_options:
        return
    host = environment.host.rstrip("/")
    try:
        _discover(host, environment.parsed_options.min_stock)
    except (requests.RequestException, RuntimeError, KeyError, ValueError) as error:
        log.error("load: cannot read the catalog at %s: %s", host, error)
        sys.exit(1)
    log.info("load: %d products with plenty of stock from %s", len(Catalog.product_ids), host)
    scenario = environment.parsed_options.scenario
    if scenario != "design" and not Catalog.checkout:
        log.error("load: the %s scenario buys, but %s", scenario, Catalog.checkout_note)
        sys.exit(1)
    log.info("load: scenario %s: %s", scenario, SCENARIO_USERS[scenario])


class CartShopper(FastHttpUser):
    """The design's shopper: list products, add one to the cart, sleep 1 s."""

    weight = 9
    wait_time = constant(1)

    def on_start(self) -> None:
        self.adds, self.visit_adds = 0, random.randint(*ADDS_PER_VISIT)

    @task
    def list_and_add(self) -> None:
        offset = random.randrange(0, max(1, len(Catalog.product_ids) - 20) + 1)
        self.client.get(f"/api/products?limit=20&offset={offset}", name="/api/products")
        add_to_cart(self.client, random.choice(Catalog.product_ids))
        self.adds += 1
        if self.adds >= self.visit_adds:
            self.client.cookiejar.clear()
            self.adds, self.visit_adds = 0, random.randint(*ADDS_PER_VISIT)


def add_to_cart(client, product_id: int) -> None:
    """Put one of the product in the cart: 201 for a new cart, 200 for an existing one; anything else fails."""
    with client.post(
        "/api/cart/items", json={"product_id": product_id, "quantity": 1}, catch_response=True, name="/api/cart/items"
    ) as answer:
        if answer.status_code not in (200, 201):
            answer.failure(f"{answer.status_code}: {answer.text[:200]}")


CHECKOUT = {
    "payment": {"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123", "name": "Load Tester"},
    "shipping_address": {
        "name": "Load Tester",
        "line1": "1 Test Street",
        "city": "Testville",
        "postal_code": "12345",
        "country": "US",
    },
}


class CheckoutShopper(FastHttpUser):
    """A purchase: browse, search, add two products, check out, read the order (the checkout and mixed scenarios)."""

    weight = 1
    wait_time = constant(1)

    @task
    def purchase(self) -> None:
        self.client.cookiejar.clear()
        self.client.get("/api/products?limit=20", name="/api/products")
        first, second = random.sample(Catalog.product_ids, 2)
        self.client.get(f"/api/products/{first}", name="/api/products/{id}")
        self.client.get(f"/api/search?{urlencode({'q': random.choice(SEARCH_WORDS)})}", name="/api/search")
        add_to_cart(self.client, first)
        add_to_cart(self.client, second)
        self.client.get("/api/cart", name="/api/cart")
        with self.client.post(
            "/api/orders",
            json=CHECKOUT,
            headers={"Idempotency-Key": str(uuid.uuid4())},
            catch_response=True,
            name="/api/orders",
        ) as answer:
            if answer.status_code not in (200, 201):
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")
                return
            order_id = answer.json().get("id")
        self.client.get(f"/api/orders/{order_id}", name="/api/orders/{id}")


# The user classes of each scenario; in `mixed` their weights make one user in ten a buyer.
SCENARIO_CLASSES = {"design": [CartShopper], "checkout": [CheckoutShopper], "mixed": [CartShopper, CheckoutShopper]}


class DesignShape(LoadTestShape):
    """Ramp to a quarter of the users, hold all of them, ramp down: 30 s, 2 min, 30 s at the default duration."""

    def tick(self):
        options = self.runner.environment.parsed_options
        stages = Stages(duration=options.duration, users=options.users_peak)
        users = stages.users_at(self.get_run_time())
        if users is None:
            return None
        return users, max(1, stages.users), SCENARIO_CLASSES[options.scenario]


@events.quitting.add_listener
def _thresholds(environment, **_kwargs) -> None:
    options = environment.parsed_options
    total = environment.stats.total
    verdict = Verdict(
        requests=total.num_requests,
        failures=total.num_failures,
        p95_ms=total.get_response_time_percentile(0.95) or 0.0,
        max_p95_ms=options.p95_ms,
        max_failure_ratio=options.max_failure_ratio,
    )
    problems = verdict.problems
    if environment.runner and environment.runner.exceptions:
        problems.append(f"{len(environment.runner.exceptions)} kinds of exception in the users' code")
    print(f"load: {verdict.summary()}", flush=True)
    if problems:
        print("load: FAILED: " + "; ".join(problems), flush=True)
        environment.process_exit_code = 1
    else:
        print("load: PASSED", flush=True)
        environment.process_exit_code = 0
