"""Run `mce up` in a child process and wait for it: for end-to-end tests, benchmarks and load tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mce import registry

UP = (sys.executable, "-m", "mce", "up")
# What `make up-real` sets on top of the servers' endpoints: which backend each service uses.
REAL_ENV = Path(__file__).resolve().parents[2] / "deploy" / "local" / "real.env"
# The last line `mce up` prints once every service is ready.
READY_LINE = "press Ctrl-C to stop"


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports nothing listens on right now: all held open together, so none is handed out twice."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@dataclass
class Platform:
    """A running `mce up`: where each service and its metrics listen, and the admin token it printed."""

    process: subprocess.Popen
    ports: dict[str, int]
    admin_token: str
    data_dir: Path
    output: list[str] = field(default_factory=list)
    metrics_ports: dict[str, int] = field(default_factory=dict)

    def url(self, service: str = "frontend") -> str:
        """Base URL of a service."""
        return f"http://127.0.0.1:{self.ports[service]}"

    def metrics_url(self, service: str) -> str:
        """Where Prometheus scrapes a service: a port of its own for the public one, else the service's port."""
        return f"http://127.0.0.1:{self.metrics_ports.get(service, self.ports[service])}/metrics"

    def stop(self, timeout: float = 30.0) -> int:
        """Ctrl-C the supervisor and wait for it; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)


@dataclass(frozen=True)
class Launch:
    """How to run `mce up` on free ports: its environment, and where each service and its metrics will listen."""

    env: dict[str, str]
    ports: dict[str, int]
    metrics_ports: dict[str, int]


def read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines, skipping blanks and # comments (the format deploy/local/real.env and servers.env use)."""
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def real_backend_env(
    endpoints: Mapping[str, str], *, flink_python: str | None = None, flink_kafka_jar: str | None = None
) -> dict[str, str]:
    """The environment `make up-real` gives `mce up`: the servers' endpoints, then deploy/local/real.env, then where
    PyFlink and its Kafka connector are (deploy/local/flink-env.sh and flink-kafka.sh print them)."""
    env = dict(endpoints)
    env.update(read_env_file(REAL_ENV))
    if flink_python:
        env["MCE_FLINK_PYTHON"] = flink_python
    if flink_kafka_jar:
        env["MCE_FLINK_KAFKA_JAR"] = flink_kafka_jar
    return env


def platform_launch(data_dir: Path, *, seed: int = 200, extra_env: dict[str, str] | None = None) -> Launch:
    """The environment `mce up` gets: free ports for every service, the data directory and the seed size."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCE_") or k == "MCE_CHROMIUM"}
    env.update(extra_env or {})
    services = registry.up_services(env)
    public = [spec for spec in services if spec.public]
    chosen = iter(free_ports(len(services) + len(public)))
    ports = {spec.name: next(chosen) for spec in services}
    metrics_ports = {spec.name: next(chosen) for spec in public}
    env.update({spec.port_variable: str(ports[spec.name]) for spec in services})
    env.update({spec.metrics_port_variable: str(metrics_ports[spec.name]) for spec in public})
    env.update({"MCE_DATA_DIR": str(data_dir), "MCE_SEED_PRODUCTS": str(seed)})
    env.update(extra_env or {})
    return Launch(env, ports, metrics_ports)


def start_platform(
    data_dir: Path,
    *,
    seed: int = 200,
    timeout: float = 300.0,
    extra_env: dict[str, str] | None = None,
    command: Sequence[str] = UP,
) -> Platform:
    """Run `mce up` the way a developer does, on free ports, and wait for its ready banner."""
    launch = platform_launch(data_dir, seed=seed, extra_env=extra_env)
    process = subprocess.Popen(
        list(command), env=launch.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        for line in process.stdout:
            output.append(line.rstrip())
            if READY_LINE in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            # Ctrl-C first, so that `mce up` stops what it started; a SIGKILL alone would orphan its services.
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
            raise RuntimeError("mce up did not become ready:\n" + "\n".join(output))
    token = (data_dir / "secrets" / "admin-token").read_text().strip()
    return Platform(process, launch.ports, token, data_dir, output, launch.metrics_ports)
