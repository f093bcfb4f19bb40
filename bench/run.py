"""`make bench`: the foundation's speed figures, measured in one run on this machine, printed as a table."""

from __future__ import annotations

import json
import os
import platform as host
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx
import orjson

from bench.queries import SEARCHES
from bench.vegeta import (
    MAX_P99_S,
    MIN_PACE,
    MIN_SUCCESS,
    Target,
    attack,
    attack_by_second,
    attack_closed,
    attack_targets,
    ensure_vegeta,
    max_sustainable_rate,
)
from mce.harness import free_port, real_backend_env, start_platform

CATALOG_SIZE = int(os.environ.get("MCE_BENCH_PRODUCTS", "10000"))
FIXED_RATE = 200
FIXED_SECONDS = float(os.environ.get("MCE_BENCH_SECONDS", "15"))
CHANGES = 40
# Products each bench shopper adds once (a cart holds at most 50 lines).
CART_PRODUCTS = 30
ADMIN_CLIENTS = 20
ADMIN_SECONDS = float(os.environ.get("MCE_BENCH_ADMIN_SECONDS", "10"))
# The overload step offers this much more than the maximum sustained rate; the recovery step this much less.
OVERLOAD_FACTOR = 1.5
RECOVERY_FACTOR = 0.8
RESULTS = Path(__file__).resolve().parent / "results"
# The analytics and image figures, each measured by a module of its own in a process of its own (the thumbnail one
# pins itself to one core; the Flink one runs PyFlink's interpreter).
STANDALONE = ("bench.stream_runner", "bench.stream_flink", "bench.thumbnails")
# The real engines' own figures, run with the real servers' endpoints in their environment.
REAL_STANDALONE = (
    "bench.kafka_producer",
    "bench.search_opensearch",
    "bench.aws_moto",
    "bench.flink_kafka",
    "bench.mirror_flink",
)
# MCE_BENCH_REAL=0 measures the embedded platform only (no real servers started).
REAL = os.environ.get("MCE_BENCH_REAL", "1") != "0"
# MCE_BENCH_EMBEDDED=0 measures the real backends only, beside the embedded figures of bench/results/latest.json.
EMBEDDED = os.environ.get("MCE_BENCH_EMBEDDED", "1") != "0"
ROOT = Path(__file__).resolve().parents[1]


def log(line: str) -> None:
    print(line, flush=True)


def machine() -> str:
    """CPU model and core count, so figures are read against the machine they came from."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {host.python_version()}"


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def measure_ceiling() -> dict:
    """The bare uvicorn hello endpoint's maximum sustainable rate."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.hello:app",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/"), 30, "the hello server")
        log("ceiling: bare uvicorn JSON hello")
        best = max_sustainable_rate([f"http://127.0.0.1:{port}/"], start=1000, log=log)
        return {"max_rate": best.rate, "p99_ms": best.p99_ms}
    finally:
        server.terminate()
        server.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _indexed(base: str) -> int:
    """How many products search finds for an empty query (0 while it cannot answer)."""
    response = httpx.get(f"{base}/api/search", params={"limit": 1}, timeout=5)
    return response.json()["total"] if response.status_code == 200 else 0


def _handled(url: str) -> int:
    """How many events a service's consumer has handled (its /stats); -1 while it cannot answer."""
    try:
        response = httpx.get(f"{url}/stats", timeout=5)
        return response.json()["consumer"]["handled"] if response.status_code == 200 else -1
    except httpx.HTTPError:
        return -1


def wait_for_rest(running, *, pictures: bool = True) -> float:
    """Seconds until the first start's work is done: every seeded picture thumbnailed and search caught up.

    A first start hands the image processor one picture per product, and each finished picture is a product change
    search indexes; the figures are of a platform at rest, not of one still busy with that.
    """
    began = time.monotonic()
    processor, search = running.url("image-processor"), running.url("search")
    if pictures:
        wait_until(lambda: _handled(processor) >= CATALOG_SIZE, 1200, "the image processor to finish the pictures")
    last, now = -2, _handled(search)
    while now != last:
        time.sleep(2)
        last, now = now, _handled(search)
    return time.monotonic() - began


def measure_products(base: str, ceiling: int) -> dict:
    """GET /api/products (a page of 20) through the frontend: ceiling ratio and fixed-rate latency.

    Measured twice: as shoppers get it (the gateway's 1 s catalog cache on), and with `Cache-Control: no-cache`
    so every request goes through to the product service and its database.
    """
    urls = [f"{base}/api/products?limit=20&offset={20 * i}" for i in range(10)]
    figures = {}
    for mode, headers in (("cached", None), ("uncached", {"Cache-Control": "no-cache"})):
        log(f"GET /api/products via the frontend ({mode}): maximum sustainable rate")
        best = max_sustainable_rate(urls, start=100, headers=headers, log=log)
        fixed = attack(urls, FIXED_RATE, FIXED_SECONDS, headers)
        figures[mode] = {
            "max_rate": best.rate,
            # Unrounded, so the verdict cannot round a miss up to the target.
            "ratio_to_ceiling": best.rate / ceiling,
            "at_200": {
                "p50_ms": fixed.p50_ms,
                "p95_ms": fixed.p95_ms,
                "p99_ms": fixed.p99_ms,
                "success": fixed.success,
            },
        }
        if mode == "uncached":
            figures["overload"] = measure_overload_recovery(urls, best.rate, headers)
    return figures


def measure_overload_recovery(urls: list[str], max_rate: int, headers: dict[str, str] | None) -> dict:
    """Push past the maximum, then straight back below it: the excess must be shed fast and the next rate served.

    No pause between the two steps: a platform that queued the overload would still be draining it.
    """
    over, under = int(max_rate * OVERLOAD_FACTOR), int(max_rate * RECOVERY_FACTOR)
    log(f"overload: {over}/s for 5 s, then at once {under}/s for {FIXED_SECONDS:.0f} s")
    overloaded = attack(urls, over, 5, headers)
    by_second = attack_by_second(urls, under, FIXED_SECONDS, headers)
    # Recovered from the first second after which every second serves >= 99.9 %: the overload's backlog drained.
    recovered_at = next(
        (n for n in range(len(by_second)) if all(share >= MIN_SUCCESS for share in by_second[n:])), len(by_second)
    )
    after = by_second[recovered_at:] or [0.0]
    shed = int(overloaded.status_codes.get("503", 0))
    return {
        "overload_rate": over,
        "overload_success": overloaded.success,
        "overload_shed_503": shed,
        "overload_timed_out": int(overloaded.status_codes.get("0", 0)),
        "overload_p99_ms": overloaded.p99_ms,
        "recovery_rate": under,
        "recovery_success_by_second": [round(share, 4) for share in by_second],
        "recovered_after_s": recovered_at,
        "recovery_success": min(after),
    }


def measure_admin_creates(base: str, token: str) -> dict:
    """Products created per second through the gateway by 20 admin clients, each waiting for its answer."""
    body = orjson.dumps(
        {
            "name": "Bench Lamp",
            "description": "A lamp for the bench.",
            "price": "19.99",
            "stock": 5,
            "category": "Office",
        }
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    result = attack_closed(f"{base}/api/products", body, headers, ADMIN_CLIENTS, ADMIN_SECONDS)
    return {
        "clients": ADMIN_CLIENTS,
        "creates_per_s": round(result.throughput, 1),
        "success": result.success,
        "p50_ms": result.p50_ms,
        "p95_ms": result.p95_ms,
        "status_codes": result.status_codes,
    }


def measure_search(base: str) -> dict:
    """GET /api/search over a mix of exact, typo, prefix and filtered queries at a fixed rate."""
    urls = [f"{base}/api/search?{urllib.parse.urlencode(params)}" for params in SEARCHES]
    fixed = attack(urls, FIXED_RATE, FIXED_SECONDS)
    return {"p50_ms": fixed.p50_ms, "p95_ms": fixed.p95_ms, "p99_ms": fixed.p99_ms, "success": fixed.success}


def measure_change_to_searchable(base: str, token: str) -> dict:
    """Rename a product through the gateway and time until search finds it by the new name."""
    admin = {"Authorization": f"Bearer {token}"}
    timings = []
    with httpx.Client(base_url=base, timeout=10) as client:
        ids = [p["id"] for p in client.get("/api/products", params={"limit": CHANGES}).json()["items"]]
        for n, product_id in enumerate(ids):
            marker = f"benchmark{n}x{int(time.time())}"
            started = time.perf_counter()
            response = client.put(f"/api/products/{product_id}", json={"name": f"Renamed {marker}"}, headers=admin)
            response.raise_for_status()
            while not client.get("/api/search", params={"q": marker}).json()["items"]:
                if time.perf_counter() - started > 30:
                    raise RuntimeError("a change took over 30 s to become searchable")
                time.sleep(0.005)
            timings.append(time.perf_counter() - started)
    quantiles = statistics.quantiles(timings, n=20)
    return {"samples": len(timings), "p50_ms": statistics.median(timings) * 1000, "p95_ms": quantiles[18] * 1000}


def measure_add_to_cart(base: str) -> dict:
    """POST /api/cart/items through the gateway at a fixed rate, by many shoppers with carts of their own.

    Each shopper (a session made by one add beforehand) adds each of a few dozen products once, so no line nears its
    limit of 99 and no cart its limit of 50 lines; the products chosen have stock to spare.
    """
    requests = int(FIXED_RATE * FIXED_SECONDS)
    shoppers = max(1, requests // CART_PRODUCTS + 1)
    with httpx.Client(base_url=base, timeout=10) as client:
        listed = client.get("/api/products", params={"limit": 100}).json()["items"]
        product_ids = [item["id"] for item in listed if item["stock"] >= shoppers + 1][: CART_PRODUCTS + 1]
        if len(product_ids) <= CART_PRODUCTS:
            raise RuntimeError("not enough products with stock to spare for the add-to-cart figure")
        cookies = []
        for _ in range(shoppers):
            # A new visitor each time: no cookie, so the add makes a session and a cart of its own.
            client.cookies.clear()
            first = client.post("/api/cart/items", json={"product_id": product_ids[-1]})
            first.raise_for_status()
            cookies.append(f"mce_session={first.cookies['mce_session']}")
    targets = [
        Target(
            "POST",
            f"{base}/api/cart/items",
            {"Cookie": cookies[n % shoppers], "Content-Type": "application/json"},
            orjson.dumps({"product_id": product_ids[(n // shoppers) % CART_PRODUCTS], "quantity": 1}),
        )
        for n in range(requests)
    ]
    fixed = attack_targets(targets, FIXED_RATE, FIXED_SECONDS)
    return {
        "rate": FIXED_RATE,
        "shoppers": shoppers,
        "p50_ms": fixed.p50_ms,
        "p95_ms": fixed.p95_ms,
        "p99_ms": fixed.p99_ms,
        "success": fixed.success,
        "status_codes": fixed.status_codes,
    }


CHECKOUT_RATE = 50
CHECKOUT_CLIENTS = 10
CHECKOUT_BODY = orjson.dumps(
    {
        "payment": {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123", "name": "Bench Shopper"},
        "shipping_address": {
            "name": "Bench Shopper",
            "line1": "1 Main St",
            "city": "Springfield",
            "postal_code": "12345",
            "country": "US",
        },
    }
)


def _checkout_targets(base: str, count: int) -> list[Target]:
    """`count` checkouts, each by a shopper of its own whose cart holds one product (spread over many products)."""
    targets = []
    with httpx.Client(base_url=base, timeout=10) as client:
        listed = client.get("/api/products", params={"limit": 100, "sort": "id"}).json()["items"]
        product_ids = [item["id"] for item in listed if item["stock"] >= 20]
        for n in range(count):
            client.cookies.clear()
            added = client.post("/api/cart/items", json={"product_id": product_ids[n % len(product_ids)]})
            added.raise_for_status()
            headers = {
                "Cookie": f"mce_session={added.cookies['mce_session']}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"bench-{n}-{time.time_ns()}",
            }
            targets.append(Target("POST", f"{base}/api/orders", headers, CHECKOUT_BODY))
    return targets


def measure_checkout(base: str) -> dict:
    """Checkout through the gateway: p95 at a fixed 50/s, then the most a closed loop of 10 clients completes."""
    seconds = min(FIXED_SECONDS, 10.0)
    fixed = attack_targets(_checkout_targets(base, int(CHECKOUT_RATE * seconds)), CHECKOUT_RATE, seconds)
    # Carts for the closed loop: more than it can use, since each checkout empties one.
    closed = attack_targets(_checkout_targets(base, 1500), 0, 5.0, workers=CHECKOUT_CLIENTS)
    return {
        "rate": CHECKOUT_RATE,
        "p50_ms": fixed.p50_ms,
        "p95_ms": fixed.p95_ms,
        "p99_ms": fixed.p99_ms,
        "success": fixed.success,
        "status_codes": fixed.status_codes,
        "clients": CHECKOUT_CLIENTS,
        "max_per_s": round(closed.throughput, 1),
        "max_success": closed.success,
        "max_p95_ms": closed.p95_ms,
    }


def print_report(report: dict) -> None:
    """The figures, each beside its target."""
    ceiling = report["ceiling"]["max_rate"]
    search = report["search"]
    change = report["change_to_searchable"]

    def verdict(ok: bool) -> str:
        return "meets target" if ok else "MISSES target"

    log("")
    log(f"machine: {report['machine']}")
    log(
        f"sustained = success >= {MIN_SUCCESS:.1%}, throughput >= {MIN_PACE:.0%} of offered, "
        f"p99 <= {MAX_P99_S * 1000:.0f} ms"
    )
    log(f"ceiling, bare uvicorn JSON hello: {ceiling}/s")
    for mode in ("cached", "uncached"):
        figures = report["products"][mode]
        ratio, at = figures["ratio_to_ceiling"], figures["at_200"]
        target = 0.25 if mode == "cached" else 0.10
        log(
            f"GET /api/products ({mode}): max {figures['max_rate']}/s, ratio {ratio:.4f} "
            f"(target >= {target:.2f}: {verdict(ratio >= target)}); at 200/s p50 {at['p50_ms']:.1f} ms, "
            f"p95 {at['p95_ms']:.1f} ms, p99 {at['p99_ms']:.1f} ms (target p95 <= 25 ms: {verdict(at['p95_ms'] <= 25)})"
        )
    over = report["products"]["overload"]
    log(
        f"overload at {over['overload_rate']}/s: {over['overload_success']:.1%} served, "
        f"{over['overload_shed_503']} shed with 503, {over['overload_timed_out']} timed out, "
        f"p99 {over['overload_p99_ms']:.0f} ms; then at once {over['recovery_rate']}/s: "
        f"recovered after {over['recovered_after_s']} s, then >= {over['recovery_success']:.2%} served every second "
        f"(target >= 99.9%: {verdict(over['recovery_success'] >= MIN_SUCCESS)})"
    )
    creates = report["admin_creates"]
    log(
        f"admin creates through the gateway, {creates['clients']} clients: {creates['creates_per_s']:.0f}/s, "
        f"p50 {creates['p50_ms']:.0f} ms, p95 {creates['p95_ms']:.0f} ms, success {creates['success']:.2%} "
        f"(target >= 300/s: {verdict(creates['creates_per_s'] >= 300)})"
    )
    log(
        f"GET /api/search, {report['catalog_size']} products, 200/s: p50 {search['p50_ms']:.1f} ms, "
        f"p99 {search['p99_ms']:.1f} ms (target p99 <= 15 ms: {verdict(search['p99_ms'] <= 15)})"
    )
    log(
        f"product change -> searchable, {change['samples']} changes: p50 {change['p50_ms']:.0f} ms, "
        f"p95 {change['p95_ms']:.0f} ms (target p95 <= 2000 ms: {verdict(change['p95_ms'] <= 2000)})"
    )
    checkout = report["checkout"]
    checkout_ok = checkout["p95_ms"] <= 100 and checkout["success"] >= MIN_SUCCESS
    log(
        f"checkout through the gateway at {checkout['rate']}/s: p50 {checkout['p50_ms']:.0f} ms, "
        f"p95 {checkout['p95_ms']:.0f} ms, success {checkout['success']:.2%} "
        f"(target p95 <= 100 ms, all placed: {verdict(checkout_ok)}); {checkout['clients']} clients flat out: "
        f"{checkout['max_per_s']:.0f} checkouts/s, success {checkout['max_success']:.2%}, "
        f"p95 {checkout['max_p95_ms']:.0f} ms"
    )
    cart = report["add_to_cart"]
    cart_ok = cart["p95_ms"] <= 30 and cart["success"] >= MIN_SUCCESS
    log(
        f"add to cart through the gateway, {cart['rate']}/s by {cart['shoppers']} shoppers: "
        f"p50 {cart['p50_ms']:.1f} ms, p95 {cart['p95_ms']:.1f} ms, p99 {cart['p99_ms']:.1f} ms, "
        f"success {cart['success']:.2%} (target p95 <= 30 ms, all served: {verdict(cart_ok)})"
    )


def measure_platform(report: dict, extra_env: dict[str, str] | None = None, *, keep_going: bool = False) -> None:
    """The foundation's and checkout's figures of one platform (embedded, or on the given real backends)."""
    with tempfile.TemporaryDirectory(prefix="mce-bench-") as data_dir:
        log(f"starting the platform with {CATALOG_SIZE} products…")
        running = start_platform(Path(data_dir), seed=CATALOG_SIZE, extra_env=extra_env, timeout=600)
        try:
            base = running.url()
            wait_until(lambda: _indexed(base) >= CATALOG_SIZE, 600, "search to index the catalog")
            log("waiting for the seed's pictures to be thumbnailed and indexed…")
            pictures = (extra_env or {}).get("MCE_SEED_PICTURES", "true") != "false"
            report["first_start_work_s"] = wait_for_rest(running, pictures=pictures)
            log(f"the platform is at rest after {report['first_start_work_s']:.0f} s more")
            steps = [
                ("products", "GET /api/products", lambda: measure_products(base, report["ceiling"]["max_rate"])),
                ("search", "GET /api/search at 200/s", lambda: measure_search(base)),
                (
                    "change_to_searchable",
                    "product change -> searchable",
                    lambda: measure_change_to_searchable(base, running.admin_token),
                ),
                (
                    "add_to_cart",
                    f"add to cart through the gateway at {FIXED_RATE}/s",
                    lambda: measure_add_to_cart(base),
                ),
                (
                    "checkout",
                    f"checkout at {CHECKOUT_RATE}/s, then {CHECKOUT_CLIENTS} clients flat out",
                    lambda: measure_checkout(base),
                ),
                (
                    "admin_creates",
                    f"admin creates through the gateway, {ADMIN_CLIENTS} clients",
                    lambda: measure_admin_creates(base, running.admin_token),
                ),
            ]
            for name, what, measure in steps:
                log(what)
                try:
                    report[name] = measure()
                except Exception as exc:
                    if not keep_going:
                        raise
                    # One step that fails (a 503 in its set-up, say) leaves the others' figures standing.
                    report[name] = {"failed": repr(exc)[:300]}
                    log(f"{what}: failed: {report[name]['failed']}")
        finally:
            running.stop(timeout=60)


def start_real_servers() -> dict[str, str]:
    """Fresh real servers (deploy/local/servers.sh reset, then start): their endpoints by name."""
    servers = ROOT / "deploy" / "local" / "servers.sh"
    subprocess.run([str(servers), "reset"], check=True)
    printed = subprocess.run([str(servers), "start"], check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in printed.splitlines() if "=" in line)


def _printed(script: Path) -> str:
    """What a deploy/local script prints on stdout, stripped."""
    return subprocess.run([str(script)], check=True, capture_output=True, text=True).stdout.strip()


def main() -> int:
    ensure_vegeta()
    report: dict = {
        "machine": machine(),
        "catalog_size": CATALOG_SIZE,
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    report["ceiling"] = measure_ceiling()
    if EMBEDDED:
        log("== on embedded backends")
        measure_platform(report)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "latest.json").write_text(json.dumps(report, indent=2))
    else:
        # A real-only run sets its figures beside the embedded ones of the last full run on this machine.
        report = json.loads((RESULTS / "latest.json").read_text())
        log(f"embedded figures from {report['taken_at']} (bench/results/latest.json)")
    print_report(report)
    endpoints: dict[str, str] = {}
    if REAL:
        log("\n== on real backends (deploy/local/servers.sh)")
        endpoints = start_real_servers()
        flink_python = _printed(ROOT / "deploy" / "local" / "flink-env.sh")
        flink_jar = _printed(ROOT / "deploy" / "local" / "flink-kafka.sh").partition("=")[2]
        endpoints["MCE_FLINK_KAFKA_JAR"] = flink_jar
        env = real_backend_env(endpoints, flink_python=flink_python, flink_kafka_jar=flink_jar)
        # moto's SQS slows down with every message queued (115 ms a send with 5,500 waiting, 4 ms on an empty
        # queue), and the seed's 10,000 photos queue faster than they are thumbnailed: no photos on this pass.
        env["MCE_SEED_PICTURES"] = "false"
        real = {"ceiling": report["ceiling"]}
        try:
            measure_platform(real, env, keep_going=True)
        except Exception as exc:  # noqa: BLE001 - the embedded figures above stand; say why the real ones are missing
            log(f"the real-backend platform failed: {exc!r}")
        report["real"] = real
        (RESULTS / "latest.json").write_text(json.dumps(report, indent=2))
        print_side_by_side(report, real)
    standalone = (STANDALONE if EMBEDDED else ()) + (REAL_STANDALONE if REAL else ())
    for module in standalone:
        log(f"\n{module}:")
        if subprocess.run([sys.executable, "-m", module], env={**os.environ, **endpoints}).returncode != 0:
            log(f"{module} missed its target or failed (above)")
    return 0


def print_side_by_side(embedded: dict, real: dict) -> None:
    """The main figures of both platforms, one line each, embedded beside real."""
    rows = [
        ("GET /api/products cached, max /s", lambda r: r["products"]["cached"]["max_rate"]),
        ("GET /api/products uncached, max /s", lambda r: r["products"]["uncached"]["max_rate"]),
        ("GET /api/search p99 ms", lambda r: r["search"]["p99_ms"]),
        ("change -> searchable p95 ms", lambda r: r["change_to_searchable"]["p95_ms"]),
        ("add to cart p95 ms", lambda r: r["add_to_cart"]["p95_ms"]),
        ("add to cart success %", lambda r: 100 * r["add_to_cart"]["success"]),
        ("checkout p95 ms", lambda r: r["checkout"]["p95_ms"]),
        ("checkouts /s flat out", lambda r: r["checkout"]["max_per_s"]),
        ("admin creates /s", lambda r: r["admin_creates"]["creates_per_s"]),
    ]

    def shown(report: dict, pick) -> str:
        try:
            return f"{pick(report):.1f}"
        except (KeyError, TypeError):
            return "failed"

    log("")
    log(f"{'figure':<38} {'embedded':>12} {'real':>12}")
    for name, pick in rows:
        log(f"{name:<38} {shown(embedded, pick):>12} {shown(real, pick):>12}")
    for name, figures in real.items():
        if isinstance(figures, dict) and "failed" in figures:
            log(f"real {name} failed: {figures['failed']}")


if __name__ == "__main__":
    sys.exit(main())
