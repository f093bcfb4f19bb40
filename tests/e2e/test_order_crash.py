"""A crash between an order's commit and its publication loses nothing: the restarted process publishes it once.

Deterministic: the order process starts with its outbox relay held back (MCE_RELAY_START_DELAY_S), so the checkout
commits the order and its events while nothing can publish them; then the process is SIGKILLed, and started again
with the relay running at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from mce.harness import free_ports
from mce.kit.bus.sqlite import SqliteEventBus
from mce.services.order.store.tables import outbox
from tests.inprocess import ADDRESS, ADMIN, ADMIN_TOKEN, payment

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serving(name: str, port: int, data_dir: Path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """`python -m mce serve NAME` on the port until the block ends (or the test kills it); yields the process."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MCE_")}
    # This checkout's code, whichever copy of mce the environment has installed.
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), clean.get("PYTHONPATH")]))
    clean.update({"MCE_DATA_DIR": str(data_dir), "MCE_ADMIN_TOKEN": ADMIN_TOKEN, **env})
    process = subprocess.Popen(
        [sys.executable, "-m", "mce", "serve", name, "--port", str(port)],
        env=clean,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not _answers(f"http://127.0.0.1:{port}/healthz"):
            assert process.poll() is None, f"mce serve {name} exited with {process.returncode}"
            assert time.monotonic() < deadline, f"mce serve {name} did not start"
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(15)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def unpublished(data_dir: Path) -> int:
    engine = create_engine(f"sqlite:///{data_dir / 'order.db'}")
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).where(outbox.c.published_at.is_(None))).scalar_one()
    finally:
        engine.dispose()


def order_events(data_dir: Path, *, wait_for: int, timeout: float) -> list:
    """Every event on the orders topic, read from the start, once `wait_for` are there or the timeout passes."""
    subscription = SqliteEventBus(data_dir / "bus.db").subscribe("orders", f"crash-test-{time.monotonic_ns()}")
    seen: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += [d.event for d in subscription.poll(timeout=0.2)]
        if len(seen) >= wait_for:
            break
    subscription.close()
    return seen


def test_an_order_committed_before_a_sigkill_is_published_exactly_once_after_restart(tmp_path: Path) -> None:
    product_port, cart_port, order_port = free_ports(3)
    urls = {"MCE_PRODUCT_URL": f"http://127.0.0.1:{product_port}", "MCE_CART_URL": f"http://127.0.0.1:{cart_port}"}
    with ExitStack() as stack:
        stack.enter_context(serving("product", product_port, tmp_path, urls))
        stack.enter_context(serving("cart", cart_port, tmp_path, urls))
        product, cart = urls["MCE_PRODUCT_URL"], urls["MCE_CART_URL"]
        httpx.post(f"{product}/categories", json={"name": "Office"}, headers=ADMIN, timeout=10)
        body = {"name": "Pen", "price": "2.50", "stock": 5, "category": "Office"}
        pen = httpx.post(f"{product}/products", json=body, headers=ADMIN, timeout=10).json()["id"]
        httpx.post(f"{cart}/carts/guest-a/items", json={"product_id": pen, "quantity": 2}, timeout=10)

        held_back = {**urls, "MCE_RELAY_START_DELAY_S": "3600"}
        with serving("order", order_port, tmp_path, held_back) as first:
            checkout = {"owner": "guest-a", "payment": payment(), "shipping_address": ADDRESS}
            answer = httpx.post(
                f"http://127.0.0.1:{order_port}/orders", json=checkout, headers={"Idempotency-Key": "k1"}, timeout=30
            )
            assert answer.status_code == 201, answer.text
            order_id = answer.json()["id"]
            # Committed, not published: the answer came from the same transaction that staged the events.
            assert unpublished(tmp_path) == 2
            assert order_events(tmp_path, wait_for=1, timeout=1.0) == []
            first.send_signal(signal.SIGKILL)
            assert first.wait(15) == -signal.SIGKILL

        with serving("order", order_port, tmp_path, urls):
            assert len(order_events(tmp_path, wait_for=2, timeout=30)) >= 2
            # Several relay rounds: a second publication would have arrived by now.
            time.sleep(2)
            seen = order_events(tmp_path, wait_for=99, timeout=1.0)
            assert unpublished(tmp_path) == 0
            again = httpx.get(
                f"http://127.0.0.1:{order_port}/orders/{order_id}", params={"owner": "guest-a"}, timeout=10
            )
            assert again.json()["status"] == "paid"

    assert [(e.type, e.key) for e in seen] == [("OrderCreated", str(order_id)), ("OrderPaid", str(order_id))]
    assert len({e.event_id for e in seen}) == 2
