"""`mce up`: start every service as its own process, wait until ready, report and restart crashes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from mce.kit.secrets import local_secret
from mce.registry import SERVICES, ServiceSpec, service_urls

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0


def say(message: str) -> None:
    """One line for the person at the terminal."""
    print(f"[mce] {message}", flush=True)


@dataclass
class Child:
    """One supervised service process and its log file."""

    spec: ServiceSpec
    port: int
    log_path: Path
    process: subprocess.Popen | None = None
    restarts: deque[float] = field(default_factory=deque)
    given_up: bool = False

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str]) -> None:
        """Launch `mce serve NAME` with output appended to the service's log."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mce", "serve", self.spec.name, "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Own process group: Ctrl-C reaches the supervisor only, which then stops children in order.
            start_new_session=True,
        )
        log.close()

    def exit_code(self) -> int | None:
        """None while running."""
        return None if self.process is None else self.process.poll()

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of its log, for crash reports."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _port_free(port: int) -> bool:
    """True if nothing listens on the loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _ready(url: str) -> bool:
    """True once the service's /readyz answers 200."""
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _wait_ready(child: Child) -> bool:
    """Wait for readiness; False if the process died or time ran out."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.exit_code() is not None:
            return False
        if _ready(child.url):
            return True
        time.sleep(0.2)
    return False


def _stop(children: list[Child]) -> None:
    """SIGTERM in reverse start order, then SIGKILL whatever outlives the grace period."""
    for child in reversed(children):
        if child.exit_code() is None and child.process is not None:
            child.process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in reversed(children):
        if child.process is None:
            continue
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{child.spec.name} did not stop in {STOP_TIMEOUT_S:.0f}s; killing it")
            child.process.kill()
            child.process.wait()


def _prepare_catalog(data_dir: Path, seed_count: int) -> None:
    """Migrate the product database and seed the demo catalog on first start."""
    from mce.kit.settings import load_settings
    from mce.services.product.seed import seed_demo_catalog
    from mce.services.product.settings import ProductSettings

    added = seed_demo_catalog(load_settings(ProductSettings, data_dir=data_dir), count=seed_count)
    if added:
        say(f"seeded the demo catalog with {added} products")


def _supervise(children: list[Child], env: dict[str, str], stopping: list[bool]) -> None:
    """Until asked to stop: report any crashed service and restart it, within limits."""
    while not stopping:
        time.sleep(0.5)
        for child in children:
            code = child.exit_code()
            if code is None or child.given_up or stopping:
                continue
            say(f"{child.spec.name} exited with code {code}; last log lines:\n{child.log_tail()}")
            now = time.monotonic()
            while child.restarts and now - child.restarts[0] > RESTART_WINDOW_S:
                child.restarts.popleft()
            if len(child.restarts) >= MAX_RESTARTS:
                child.given_up = True
                say(
                    f"{child.spec.name} crashed {MAX_RESTARTS} times in {RESTART_WINDOW_S:.0f}s; not restarting it "
                    f"(log: {child.log_path})"
                )
                continue
            child.restarts.append(now)
            say(f"restarting {child.spec.name}")
            child.start(env)


def run_platform(*, data_dir: Path, seed_count: int) -> int:
    """The whole `mce up`; returns the exit code."""
    data_dir = data_dir.resolve()
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    children = [Child(spec, spec.local_port(), data_dir / "logs" / f"{spec.name}.log") for spec in SERVICES]
    busy = [f"{c.port} ({c.spec.name}; set {c.spec.port_variable})" for c in children if not _port_free(c.port)]
    if busy:
        say("these ports are already in use: " + ", ".join(busy))
        return 2

    env = dict(os.environ)
    env["MCE_DATA_DIR"] = str(data_dir)
    env.update(service_urls())
    admin_token = local_secret(os.environ.get("MCE_ADMIN_TOKEN"), data_dir, "admin-token")
    env["MCE_ADMIN_TOKEN"] = admin_token
    # The catalog is migrated here before seeding; the product process need not do it again.
    env["MCE_MIGRATE_ON_START"] = "false"

    stopping: list[bool] = []

    def request_stop(signum: int, _frame: object) -> None:
        stopping.append(True)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    say(f"data directory: {data_dir}")
    _prepare_catalog(data_dir, seed_count)
    started: list[Child] = []
    try:
        for child in children:
            say(f"starting {child.spec.name} on {child.url}")
            child.start(env)
            started.append(child)
            if not _wait_ready(child) and not stopping:
                say(f"{child.spec.name} did not become ready; last log lines:\n{child.log_tail()}")
                return 1
            if stopping:
                return 0
        frontend = next(c for c in children if c.spec.name == "frontend")
        say("all services are ready:")
        for child in children:
            say(f"  {child.spec.name:<9} {child.url}   (log: {child.log_path})")
        say(f"storefront:  {frontend.url}/")
        say(f"admin:       {frontend.url}/admin   token: {admin_token}")
        say("press Ctrl-C to stop")
        _supervise(children, env, stopping)
        return 0
    finally:
        say("stopping…")
        _stop(started)
        say("stopped")
