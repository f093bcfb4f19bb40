"""`mce up`: check every setting, migrate and seed what needs it, start every service at once and keep them running."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mce import registry
from mce.forkserver import ForkServer
from mce.kit.secrets import resolve_secret
from mce.kit.settings import ENV_PREFIX, SettingsError, load_settings
from mce.registry import ServiceSpec

READY_TIMEOUT_S = 120.0
STOP_GRACE_S = 10.0
PROBE_EVERY_S = 2.0
PROBE_TIMEOUT_S = 1.0
TICK_S = 0.2
TAIL_BYTES = 64 * 1024
_PROBE_LINE = re.compile(r'"route":"/(healthz|readyz)"')

# Handed to every child, these would make the services share one thing each must have for itself.
ONE_SERVICE_ONLY = {
    "MCE_DATABASE_URL": "services get their own databases in `mce up` (under the data directory, or on RDS_HOST); "
    "unset it, give each its own with MCE_<NAME>__DATABASE_URL, or run a service alone with `mce serve NAME`",
    "MCE_METRICS_PORT": "services get their own metrics ports in `mce up`; set MCE_<NAME>_METRICS_PORT instead",
}
# MCE_<NAME>__<SETTING>: a setting for one service only.
OVERRIDE_SEPARATOR = "__"
# Settings fields holding a secret that `mce up` makes once under the data directory for every service to share.
LOCAL_SECRETS = ("admin_token", "session_secret")


def say(message: str) -> None:
    """One line for the person at the terminal, if there still is one.

    A closed terminal or a reader that went away must not stop the supervisor halfway through stopping its
    children: it would leave them running with nobody to stop them.
    """
    try:
        print(f"[mce] {message}", flush=True)
    except OSError:
        # What is left in the buffer could not be written either; later lines go nowhere.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


class Process(Protocol):
    """What the supervisor needs of a child process (subprocess.Popen has it)."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


@dataclass
class Backoff:
    """Waits before restarting a failing service: 0.5 s, 1 s, 2 s, … up to 30 s, afresh once it stayed up."""

    first_s: float = 0.5
    cap_s: float = 30.0
    stable_s: float = 60.0
    failures: int = 0

    def next_delay(self, up_for_s: float) -> float:
        """The wait before the next start of a service that just failed after running for up_for_s."""
        if up_for_s >= self.stable_s:
            self.failures = 0
        delay = min(self.cap_s, self.first_s * 2 ** min(self.failures, 32))
        self.failures += 1
        return delay


@dataclass
class Child:
    """One supervised service: where it listens, its environment, its log, and how its restarts go."""

    spec: ServiceSpec
    port: int
    metrics_port: int | None
    log_path: Path
    env: dict[str, str]
    process: Process | None = None
    backoff: Backoff = field(default_factory=Backoff)
    started_at: float = 0.0
    last_healthy: float = 0.0
    next_probe: float = 0.0
    restart_at: float | None = None
    restarted: bool = False

    @property
    def name(self) -> str:
        """The service's name."""
        return self.spec.name

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        """Where Prometheus scrapes it: its metrics port if it has one, else its own port."""
        return f"http://127.0.0.1:{self.metrics_port or self.port}/metrics"

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of its log but for the supervisor's own probes, for crash and freeze reports."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - TAIL_BYTES))
                text = log.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        # The probes every two seconds would fill the report and say nothing about what went wrong.
        kept = [line for line in text.splitlines() if not _PROBE_LINE.search(line)]
        return "\n".join(kept[-lines:]) or "(nothing logged)"


def launch_service(child: Child) -> subprocess.Popen:
    """Run `mce serve NAME` with its output appended to the service's log."""
    with open(child.log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "mce", "serve", child.name, "--port", str(child.port)],
            env=child.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # A process group of its own: Ctrl-C reaches the supervisor only, which stops children in order, and a
            # frozen child is killed with anything it started.
            start_new_session=True,
        )


def signal_group(process: Process, signum: int) -> None:
    """Send a signal to the child's whole process group; one that is gone already is no error."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


# Probes go straight to loopback, whatever HTTP(S)_PROXY the developer has set.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def answers_200(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True if a GET of url answers 200 within the timeout; anything else there, however it answers, is False."""
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            return response.status == 200
    # HTTPException: what listens is not HTTP, or the probe met itself (a loopback connect to a port in the
    # ephemeral range that nothing listens on yet can be given that very port as its source, and reads its own GET).
    except (OSError, ValueError, http.client.HTTPException):
        return False


def healthz_answers(child: Child) -> bool:
    """The process is alive: /healthz answers 200."""
    return answers_200(f"{child.url}/healthz")


def readyz_answers(child: Child) -> bool:
    """The service is ready: /readyz answers 200."""
    return answers_200(f"{child.url}/readyz")


class Supervisor:
    """Starts the children together and keeps them running: restarts crashed and frozen ones, never giving up."""

    def __init__(
        self,
        children: Sequence[Child],
        *,
        freeze_timeout_s: float = 20.0,
        probe_every_s: float = PROBE_EVERY_S,
        launch: Callable[[Child], Process] = launch_service,
        healthy: Callable[[Child], bool] = healthz_answers,
        ready: Callable[[Child], bool] = readyz_answers,
        send: Callable[[Process, int], None] = signal_group,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        report: Callable[[str], None] = say,
    ) -> None:
        self.children = list(children)
        self.freeze_timeout_s = freeze_timeout_s
        self.probe_every_s = probe_every_s
        self.launch = launch
        self.healthy = healthy
        self.ready = ready
        self.send = send
        self.clock = clock
        self.sleep = sleep
        self.report = report
        # Probes of a frozen child wait out their timeout; in parallel, one frozen child does not delay the rest.
        self._probes = ThreadPoolExecutor(max_workers=max(1, len(self.children)), thread_name_prefix="probe")

    def _start(self, child: Child, now: float) -> None:
        child.process = self.launch(child)
        child.started_at = child.last_healthy = now
        child.next_probe = now + self.probe_every_s
        child.restart_at = None

    def start(self, children: Sequence[Child]) -> None:
        """Launch these children at once; none waits for another (one that calls others waits in its readiness)."""
        now = self.clock()
        for child in children:
            self._start(child, now)

    def wait_ready(self, timeout_s: float, stopping: Callable[[], bool]) -> Child | None:
        """Wait for every /readyz at once, reporting each as it comes; a child that died or timed out, or None."""
        began = self.clock()
        pending = list(self.children)
        while pending and not stopping():
            for child in pending:
                if child.process is None or child.process.poll() is not None:
                    return child
            answers = list(self._probes.map(self.ready, pending))
            for child, ok in zip(list(pending), answers, strict=True):
                if ok:
                    pending.remove(child)
                    self.report(f"{child.name} is ready ({self.clock() - child.started_at:.1f} s after its start)")
            if not pending:
                return None
            if self.clock() - began > timeout_s:
                return pending[0]
            self.sleep(0.1)
        return None

    def tick(self) -> None:
        """One round of watching: restart what is due, probe what is running, deal with what crashed or froze."""
        now = self.clock()
        for child in self.children:
            if child.process is None and child.restart_at is not None and now >= child.restart_at:
                self._start(child, now)
                child.restarted = True
                self.report(f"started {child.name} again (pid {child.process.pid})")
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        due = [c for c in running if now >= c.next_probe]
        for child, ok in zip(due, self._probes.map(self.healthy, due), strict=True):
            child.next_probe = now + self.probe_every_s
            if ok:
                child.last_healthy = now
                if child.restarted:
                    child.restarted = False
                    self.report(f"{child.name} answers again")
        for child in self.children:
            if child.process is None:
                continue
            code = child.process.poll()
            if code is not None:
                self._schedule_restart(child, now, f"{child.name} exited with code {code}")
            elif now - child.last_healthy >= self.freeze_timeout_s:
                silent = now - child.last_healthy
                self.send(child.process, signal.SIGKILL)
                child.process.wait()
                self._schedule_restart(
                    child, now, f"{child.name} has not answered /healthz for {silent:.0f} s; killed it"
                )

    def _schedule_restart(self, child: Child, now: float, what: str) -> None:
        delay = child.backoff.next_delay(now - child.started_at)
        child.process = None
        child.restart_at = now + delay
        self.report(f"{what}; starting it again in {delay:.1f} s; last log lines:\n{child.log_tail()}")

    def run(self, stopping: Callable[[], bool], tick_s: float = TICK_S) -> None:
        """Watch until asked to stop."""
        while not stopping():
            self.tick()
            self.sleep(tick_s)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop the children in reverse start order: SIGTERM, then SIGKILL if one outlives the grace period."""
        for child in reversed(self.children):
            child.restart_at = None
            process, child.process = child.process, None
            if process is None or process.poll() is not None:
                continue
            self.send(process, signal.SIGTERM)
            try:
                process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.report(f"{child.name} did not stop in {grace_s:.0f} s; killing it")
                self.send(process, signal.SIGKILL)
                process.wait()
        self._probes.shutdown(wait=False, cancel_futures=True)


def child_environment(
    base: Mapping[str, str], spec: ServiceSpec, *, data_dir: Path, metrics_port: int | None
) -> dict[str, str]:
    """What one child runs with: the caller's environment, where the others are, and its own metrics arrangement.

    MCE_<NAME>__<SETTING> (two underscores) sets MCE_<SETTING> for that service alone, e.g.
    MCE_ANALYTICS__BUS=eventhubs: `make up-real` gives each service its own backends that way.
    """
    env = {key: value for key, value in base.items() if OVERRIDE_SEPARATOR not in key or not key.startswith(ENV_PREFIX)}
    own = f"{ENV_PREFIX}{spec.name.upper().replace('-', '_')}{OVERRIDE_SEPARATOR}"
    env.update({ENV_PREFIX + key.removeprefix(own): value for key, value in base.items() if key.startswith(own)})
    env.update(registry.service_urls())
    env["MCE_DATA_DIR"] = str(data_dir)
    # `mce up` brought every database to its newest schema before starting anything; no child need check again.
    env["MCE_MIGRATE_ON_START"] = "false"
    if metrics_port is not None:
        # Shoppers reach the public service's port; Prometheus gets a port of its own.
        env["MCE_METRICS_PORT"] = str(metrics_port)
        env["MCE_PUBLIC_METRICS"] = "false"
    else:
        env.pop("MCE_METRICS_PORT", None)
        env["MCE_PUBLIC_METRICS"] = "true"
    return env


def settings_for(spec: ServiceSpec, env: Mapping[str, str], base: Mapping[str, str]) -> Any:
    """The service's settings as its process will read them: the base environment plus what `mce up` sets for it."""
    added = {
        key.removeprefix(ENV_PREFIX).lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and base.get(key) != value
    }
    return load_settings(spec.settings_class(), **added)


def refuse_shared_variables(environ: Mapping[str, str]) -> None:
    """SettingsError for a variable that would make every service share what each must have for itself."""
    for variable, why in ONE_SERVICE_ONLY.items():
        if environ.get(variable):
            raise SettingsError(f"{variable}: {why}")


def check_ports(children: Sequence[Child], is_free: Callable[[int], bool]) -> None:
    """SettingsError naming the variable of a port two services were given, or one something else listens on."""
    owners: dict[int, str] = {}
    for child in children:
        wanted = ((child.port, child.spec.port_variable), (child.metrics_port, child.spec.metrics_port_variable))
        for port, variable in wanted:
            if port is None:
                continue
            if port in owners:
                raise SettingsError(f"{variable}: port {port} is already {owners[port]}'s; each needs its own")
            owners[port] = variable
    busy = [f"{port} (set {variable})" for port, variable in owners.items() if not is_free(port)]
    if busy:
        raise SettingsError(f"ports already in use: {', '.join(busy)}; stop what listens there or choose other ports")


def port_is_free(port: int) -> bool:
    """True if nothing listens on the loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def resolve_local_secrets(settings: Sequence[Any], data_dir: Path) -> dict[str, str]:
    """Every secret the services share, by settings field: given, kept under the data directory, or made there now."""
    given: dict[str, str | None] = {}
    for item in settings:
        for name in LOCAL_SECRETS:
            if name in type(item).model_fields:
                given.setdefault(name, getattr(item, name))

    def exists(name: str) -> bool:
        return given[name] is not None or (data_dir / "secrets" / name.replace("_", "-")).exists()

    # Secrets given or kept already are checked before any is made, so a bad one stops `mce up` with nothing written.
    order = sorted(given, key=lambda name: not exists(name))
    return {
        name: resolve_secret(given[name], name=name.replace("_", "-"), data_dir=data_dir, production=False)
        for name in order
    }


@dataclass(frozen=True)
class Database:
    """A service's database; its migrations are loaded only when it is checked (they import the service's tables)."""

    spec: ServiceSpec
    url: str


def migrate_where_needed(databases: Sequence[Database], report: Callable[[str], None] = say) -> list[str]:
    """Apply migrations to each database that is not at its newest schema; the services whose databases changed."""
    migrated = []
    for database in databases:
        migrations = database.spec.load_migrations()
        if migrations.is_current(database.url):
            continue
        report(f"migrating the {database.spec.name} database…")
        migrations.apply(database.url)
        migrated.append(database.spec.name)
    return migrated


def seed_if_empty(product_settings: Any, count: int, *, pictures: bool = True) -> None:
    """Put the demo catalog into an empty product database, saying so first, since it takes a while."""
    from mce.kit.db import make_engine
    from mce.services.product.seed import seed_demo_catalog
    from mce.services.product.store.sql import SqlCatalogQueries

    engine = make_engine(product_settings.resolved_url())
    try:
        empty = SqlCatalogQueries(engine).count() == 0
    finally:
        engine.dispose()
    if not empty or count == 0:
        return
    began = time.monotonic()
    say(f"first start: seeding the demo catalog with {count} products…")
    added = seed_demo_catalog(product_settings, count=count, pictures=pictures)
    say(f"seeded {added} products in {time.monotonic() - began:.1f} s")


@dataclass
class Plan:
    """Everything `mce up` checked before writing anything: the children, their settings and their databases."""

    data_dir: Path
    children: list[Child]
    settings: dict[str, Any]
    databases: dict[str, Database]


def plan_platform(data_dir: Path, environ: Mapping[str, str]) -> Plan:
    """Check every service's settings and ports as its process will see them; SettingsError at the first bad one."""
    refuse_shared_variables(environ)
    data_dir = data_dir.resolve()
    children, settings, databases = [], {}, {}
    for spec in registry.up_services(environ):
        port, metrics_port = spec.local_port(), spec.local_metrics_port()
        env = child_environment(environ, spec, data_dir=data_dir, metrics_port=metrics_port)
        settings[spec.name] = settings_for(spec, env, environ)
        children.append(Child(spec, port, metrics_port, data_dir / "logs" / f"{spec.name}.log", env))
        if spec.migrations:
            databases[spec.name] = Database(spec, settings[spec.name].resolved_url())
    check_ports(children, port_is_free)
    return Plan(data_dir, children, settings, databases)


def _banner(children: Sequence[Child], secrets: Mapping[str, str], took_s: float) -> None:
    say(f"all services are ready in {took_s:.1f} s:")
    width = max((len(child.name) for child in children), default=0)
    for child in children:
        say(f"  {child.name:<{width}} {child.url}   metrics: {child.metrics_url}   (log: {child.log_path})")
    public = next((c for c in children if c.spec.public), None)
    if public is not None:
        say(f"storefront:  {public.url}/")
        token = secrets.get("admin_token")
        say(f"admin:       {public.url}/admin" + (f"   token: {token}" if token else ""))
    say("press Ctrl-C to stop")


def run_platform(*, data_dir: Path, seed_count: int, freeze_timeout_s: float, seed_pictures: bool = True) -> int:
    """The whole `mce up`; returns the exit code. Raises SettingsError, before writing anything, at a bad setting."""
    began = time.monotonic()
    plan = plan_platform(data_dir, os.environ)
    secrets = resolve_local_secrets(list(plan.settings.values()), plan.data_dir)
    say(f"data directory: {plan.data_dir}")
    (plan.data_dir / "logs").mkdir(parents=True, exist_ok=True)

    stopping: list[int] = []

    def request_stop(signum: int, _frame: object) -> None:
        stopping.append(signum)

    # Ctrl-C, a stop from a process manager, or the terminal closing: each stops the children, in order.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)

    # Services fork from a process that imported their common libraries once: the plain way where it cannot run.
    forks = ForkServer.start(fallback=launch_service, report=say)
    launch = forks.launch if forks is not None else launch_service
    supervisor = Supervisor(plan.children, freeze_timeout_s=freeze_timeout_s, launch=launch)
    # Each service starts as soon as what it needs is ready, one without a database at once, so the start-ups of
    # some overlap the database checks of others.
    order = sorted(plan.children, key=lambda child: child.name in plan.databases)
    try:
        for child in order:
            if child.name in plan.databases:
                migrate_where_needed([plan.databases[child.name]])
            if child.name == "product":
                seed_if_empty(plan.settings["product"], seed_count, pictures=seed_pictures)
            if stopping:
                return 0
            say(f"starting {child.name}…")
            supervisor.start([child])
        failed = supervisor.wait_ready(READY_TIMEOUT_S, lambda: bool(stopping))
        if failed is not None:
            say(f"{failed.name} did not become ready; last log lines:\n{failed.log_tail()}")
            return 1
        if stopping:
            return 0
        _banner(plan.children, secrets, time.monotonic() - began)
        supervisor.run(lambda: bool(stopping))
        return 0
    finally:
        say("stopping…")
        supervisor.stop()
        if forks is not None:
            forks.close()
        say("stopped")
