"""What `mce up` decides, over fake processes and a fake clock: restarts, freezes, stopping, child settings."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from mce import registry
from mce.kit.settings import SettingsError
from mce.registry import ServiceSpec
from mce.supervisor import (
    Backoff,
    Child,
    Database,
    Supervisor,
    answers_200,
    check_ports,
    child_environment,
    migrate_where_needed,
    refuse_shared_variables,
)

PRODUCT = ServiceSpec("product", "x:create_app", "x:Settings", 8001, migrations="x:MIGRATIONS")
SEARCH = ServiceSpec("search", "x:create_app", "x:Settings", 8002)
FRONTEND = ServiceSpec("frontend", "x:create_app", "x:Settings", 8000, public=True)


class FakeMigrations:
    """Records what was applied; current once applied."""

    def __init__(self) -> None:
        self.current: set[str] = set()
        self.applied: list[str] = []

    def is_current(self, url: str) -> bool:
        return url in self.current

    def apply(self, url: str) -> None:
        self.applied.append(url)
        self.current.add(url)


class SpecWith:
    """A service spec whose migrations are the fake given."""

    def __init__(self, name: str, migrations: FakeMigrations) -> None:
        self.name = name
        self.migrations = migrations

    def load_migrations(self) -> FakeMigrations:
        return self.migrations


class FakeProcess:
    """A child that runs until told otherwise; a stubborn one ignores SIGTERM."""

    def __init__(self, pid: int, *, stubborn: bool = False) -> None:
        self.pid = pid
        self.code: int | None = None
        self.signals: list[int] = []
        self.stubborn = stubborn

    def poll(self) -> int | None:
        return self.code

    def wait(self, timeout: float | None = None) -> int:
        if self.code is None:
            raise subprocess.TimeoutExpired("fake", timeout or 0)
        return self.code


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Rig:
    """A supervisor over fake processes, with what it launched, signalled and said."""

    def __init__(self, *specs: ServiceSpec, healthy: bool = True, stubborn: tuple[str, ...] = ()) -> None:
        self.clock = FakeClock()
        self.launched: list[tuple[str, FakeProcess]] = []
        self.signalled: list[tuple[str, int]] = []
        self.reports: list[str] = []
        self.health = {spec.name: healthy for spec in specs}
        self.stubborn = stubborn
        self.children = [Child(spec, spec.default_port, None, Path("/nonexistent/log"), {}) for spec in specs]
        self.supervisor = Supervisor(
            self.children,
            freeze_timeout_s=20.0,
            probe_every_s=2.0,
            launch=self.launch,
            healthy=lambda child: self.health[child.name],
            ready=lambda child: True,
            send=self.send,
            clock=self.clock,
            sleep=self.clock.sleep,
            report=self.reports.append,
        )

    def launch(self, child: Child) -> FakeProcess:
        process = FakeProcess(100 + len(self.launched), stubborn=child.name in self.stubborn)
        self.launched.append((child.name, process))
        return process

    def send(self, process: FakeProcess, signum: int) -> None:
        name = next(name for name, p in self.launched if p is process)
        self.signalled.append((name, signum))
        if signum == signal.SIGKILL or not process.stubborn:
            process.code = -signum

    def process(self, name: str) -> FakeProcess:
        return next(c.process for c in self.children if c.name == name)

    def launches(self, name: str) -> int:
        return sum(1 for launched, _ in self.launched if launched == name)

    def run_for(self, seconds: float, step: float = 0.1) -> None:
        end = self.clock.now + seconds
        while self.clock.now < end - 1e-9:
            self.supervisor.tick()
            self.clock.sleep(step)


def test_backoff_doubles_from_half_a_second_up_to_thirty_seconds() -> None:
    backoff = Backoff()
    assert [backoff.next_delay(up_for_s=1) for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


def test_backoff_starts_afresh_once_a_service_stayed_up_a_minute() -> None:
    backoff = Backoff()
    for _ in range(5):
        backoff.next_delay(up_for_s=1)
    assert backoff.next_delay(up_for_s=59) == 16
    assert backoff.next_delay(up_for_s=60) == 0.5


def test_backoff_stays_at_its_cap_however_long_the_crashes_go_on() -> None:
    backoff = Backoff()
    delays = [backoff.next_delay(up_for_s=0) for _ in range(5000)]
    assert max(delays) == delays[-1] == 30


def test_a_crashed_service_is_started_again_after_its_backoff() -> None:
    rig = Rig(PRODUCT)
    rig.supervisor.start(rig.children)
    rig.process("product").code = 1
    rig.supervisor.tick()
    assert "product exited with code 1; starting it again in 0.5 s; last log lines:" in rig.reports[-1]
    rig.run_for(0.45)
    assert rig.launches("product") == 1
    rig.run_for(0.1)
    assert rig.launches("product") == 2
    assert rig.reports[-1] == "started product again (pid 101)"


def test_a_service_that_keeps_crashing_is_never_given_up() -> None:
    rig = Rig(PRODUCT)
    rig.supervisor.start(rig.children)
    for _ in range(30):
        rig.process("product").code = 1
        rig.run_for(31)
    assert rig.launches("product") == 31
    assert "starting it again in 30.0 s" in rig.reports[-2]


def test_a_service_that_ran_a_minute_before_crashing_restarts_quickly_again() -> None:
    rig = Rig(PRODUCT)
    rig.supervisor.start(rig.children)
    for _ in range(4):
        rig.process("product").code = 1
        rig.run_for(10)
    rig.run_for(60)
    rig.process("product").code = 1
    rig.supervisor.tick()
    assert "starting it again in 0.5 s" in rig.reports[-1]


def test_a_frozen_service_is_killed_with_its_process_group_and_started_again() -> None:
    rig = Rig(PRODUCT, SEARCH)
    rig.supervisor.start(rig.children)
    frozen = rig.process("product")
    rig.health["product"] = False
    rig.run_for(19.5)
    assert rig.signalled == []
    rig.run_for(1)
    assert rig.signalled == [("product", signal.SIGKILL)]
    assert frozen.code == -signal.SIGKILL
    assert (
        "product has not answered /healthz for 20 s; killed it; starting it again in 0.5 s; last log lines:"
        in (rig.reports[-1])
    )
    rig.health["product"] = True
    rig.run_for(3)
    assert rig.launches("product") == 2 and rig.launches("search") == 1
    assert rig.reports[-2:] == ["started product again (pid 102)", "product answers again"]


def test_a_service_that_keeps_answering_healthz_is_left_alone() -> None:
    rig = Rig(PRODUCT)
    rig.supervisor.start(rig.children)
    rig.run_for(300, step=1)
    assert rig.signalled == [] and rig.launches("product") == 1


def test_healthz_is_probed_every_two_seconds() -> None:
    rig = Rig(PRODUCT)
    probes = []
    rig.supervisor.healthy = lambda child: probes.append(rig.clock.now) or True
    rig.supervisor.start(rig.children)
    rig.run_for(10, step=0.5)
    assert [round(t - 1000) for t in probes] == [2, 4, 6, 8]


def test_a_frozen_service_that_freezes_again_waits_longer_each_time() -> None:
    rig = Rig(PRODUCT, healthy=False)
    rig.supervisor.start(rig.children)
    rig.run_for(21)
    rig.run_for(21)
    assert "starting it again in 1.0 s" in rig.reports[-2]


def test_every_service_is_launched_before_any_readiness_is_awaited() -> None:
    rig = Rig(PRODUCT, SEARCH, FRONTEND)
    launched_when_asked = []

    def ready(child: Child) -> bool:
        launched_when_asked.append(len(rig.launched))
        return True

    rig.supervisor.ready = ready
    rig.supervisor.start(rig.children)
    assert rig.supervisor.wait_ready(10, stopping=lambda: False) is None
    assert launched_when_asked == [3, 3, 3]
    assert [r.split(" is ready")[0] for r in rig.reports] == ["product", "search", "frontend"]


def test_waiting_for_readiness_names_a_service_that_died() -> None:
    rig = Rig(PRODUCT, SEARCH)
    rig.supervisor.ready = lambda child: False
    rig.supervisor.start(rig.children)
    rig.process("search").code = 3
    assert rig.supervisor.wait_ready(10, stopping=lambda: False).name == "search"


def test_waiting_for_readiness_gives_up_at_its_timeout() -> None:
    rig = Rig(PRODUCT)
    rig.supervisor.ready = lambda child: False
    rig.supervisor.start(rig.children)
    assert rig.supervisor.wait_ready(5, stopping=lambda: False).name == "product"
    assert 1005 <= rig.clock.now < 1006


def test_stop_goes_in_reverse_start_order_and_kills_what_outlives_the_grace_period() -> None:
    rig = Rig(PRODUCT, SEARCH, FRONTEND, stubborn=("search",))
    rig.supervisor.start(rig.children)
    rig.supervisor.stop(grace_s=10)
    assert rig.signalled == [
        ("frontend", signal.SIGTERM),
        ("search", signal.SIGTERM),
        ("search", signal.SIGKILL),
        ("product", signal.SIGTERM),
    ]
    assert rig.reports == ["search did not stop in 10 s; killing it"]


def test_a_service_waiting_out_its_backoff_is_not_started_after_a_stop() -> None:
    rig = Rig(PRODUCT)
    rig.supervisor.start(rig.children)
    rig.process("product").code = 1
    rig.supervisor.tick()
    rig.supervisor.stop()
    rig.run_for(5)
    assert rig.launches("product") == 1


def test_the_public_service_gets_metrics_on_a_port_of_its_own() -> None:
    env = child_environment({"PATH": "/bin"}, FRONTEND, data_dir=Path("/data"), metrics_port=9000)
    assert env["MCE_METRICS_PORT"] == "9000"
    assert env["MCE_PUBLIC_METRICS"] == "false"
    assert env["MCE_DATA_DIR"] == "/data" and env["MCE_MIGRATE_ON_START"] == "false" and env["PATH"] == "/bin"


def test_other_services_keep_metrics_on_their_own_port() -> None:
    env = child_environment({"MCE_PUBLIC_METRICS": "false"}, PRODUCT, data_dir=Path("/data"), metrics_port=None)
    assert "MCE_METRICS_PORT" not in env
    assert env["MCE_PUBLIC_METRICS"] == "true"


def test_every_child_learns_where_the_others_listen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCE_PRODUCT_PORT", "18001")
    env = child_environment({}, SEARCH, data_dir=Path("/data"), metrics_port=None)
    assert env["MCE_PRODUCT_URL"] == "http://127.0.0.1:18001"


def test_a_setting_named_for_one_service_reaches_that_service_alone() -> None:
    base = {"MCE_BUS": "kafka", "MCE_SEARCH__SEARCH_INDEX": "opensearch", "MCE_PRODUCT__BUS": "local"}
    search = child_environment(base, SEARCH, data_dir=Path("/data"), metrics_port=None)
    product = child_environment(base, PRODUCT, data_dir=Path("/data"), metrics_port=None)
    assert search["MCE_SEARCH_INDEX"] == "opensearch" and search["MCE_BUS"] == "kafka"
    assert "MCE_SEARCH_INDEX" not in product and product["MCE_BUS"] == "local"
    assert not [key for key in {**search, **product} if "__" in key]


def test_up_starts_a_real_only_service_when_named_and_refuses_an_unknown_one() -> None:
    assert [spec.name for spec in registry.up_services({})] == [spec.name for spec in registry.SERVICES]
    assert registry.up_services({"MCE_UP_ALSO": "analytics-function"})[-1].name == "analytics-function"
    with pytest.raises(SettingsError, match="^MCE_UP_ALSO: unknown service nope; allowed: analytics-function"):
        registry.up_services({"MCE_UP_ALSO": "analytics-function,nope"})


@pytest.mark.parametrize("variable", ["MCE_DATABASE_URL", "MCE_METRICS_PORT"])
def test_up_refuses_a_variable_every_service_would_share(variable: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: services get their own"):
        refuse_shared_variables({variable: "x"})


def test_two_services_on_one_port_are_refused_naming_the_variable() -> None:
    children = [
        Child(PRODUCT, 8001, None, Path("p.log"), {}),
        Child(FRONTEND, 8000, 8001, Path("f.log"), {}),
    ]
    with pytest.raises(SettingsError, match="^MCE_FRONTEND_METRICS_PORT: port 8001 is already MCE_PRODUCT_PORT's"):
        check_ports(children, is_free=lambda port: True)


def test_a_busy_port_is_refused_naming_the_variable_to_change() -> None:
    children = [Child(PRODUCT, 8001, None, Path("p.log"), {}), Child(SEARCH, 8002, None, Path("s.log"), {})]
    with pytest.raises(SettingsError, match=r"^ports already in use: 8002 \(set MCE_SEARCH_PORT\)"):
        check_ports(children, is_free=lambda port: port != 8002)


def test_a_database_already_current_is_not_migrated() -> None:
    migrations = FakeMigrations()
    migrations.current.add("sqlite:///p.db")
    assert migrate_where_needed([Database(SpecWith("product", migrations), "sqlite:///p.db")], lambda _: None) == []
    assert migrations.applied == []


def test_each_database_behind_is_migrated_once() -> None:
    product, frontend = FakeMigrations(), FakeMigrations()
    databases = [Database(SpecWith("product", product), "p"), Database(SpecWith("frontend", frontend), "f")]
    said: list[str] = []
    assert migrate_where_needed(databases, report=said.append) == ["product", "frontend"]
    assert migrate_where_needed(databases, report=said.append) == []
    assert (product.applied, frontend.applied) == (["p"], ["f"])
    assert said == ["migrating the product database…", "migrating the frontend database…"]


@pytest.mark.parametrize("answer", [b"GET /readyz HTTP/1.1\r\n\r\n", b"\x00\xffnot http at all\r\n\r\n", b""])
def test_a_probe_of_something_that_does_not_speak_http_is_a_failed_probe(answer):
    # The first answer is what a probe reads when its loopback connect meets itself: its own request.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer_once() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(answer)

        server = threading.Thread(target=answer_once, daemon=True)
        server.start()
        assert answers_200(f"http://127.0.0.1:{listener.getsockname()[1]}/readyz") is False
        server.join(5)
