"""The `mce` command as a developer runs it: a bad setting stops it with one line and nothing written."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def mce(
    *args: str, data_dir: Path, env: dict[str, str] | None = None, module: str = "mce"
) -> subprocess.CompletedProcess:
    """Run `python -m mce ARGS` in a clean MCE_ environment of its own."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MCE_")}
    clean.update({"MCE_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT), "MCE_TEST_SERVICES": "product"})
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", module, *args], env=clean, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def assert_stopped_cleanly(result: subprocess.CompletedProcess, variable: str) -> None:
    """Exit status 2, and one line on stderr naming the variable, with no traceback."""
    assert result.returncode == 2, result.stderr + result.stdout
    assert result.stderr.startswith(f"mce: {variable}"), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


BAD_SETTINGS = [
    ({"MCE_LOG_LEVEL": "LOUD"}, "MCE_LOG_LEVEL", "'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'"),
    ({"MCE_MAX_BODY_BYTES": "-5"}, "MCE_MAX_BODY_BYTES", "greater than or equal to 1024"),
    ({"MCE_BUS": "rabbit"}, "MCE_BUS", "'local'"),
    ({"MCE_SEED_PRODUCTS": "abc"}, "MCE_SEED_PRODUCTS", "integer"),
    ({"MCE_PRODUCT_PORT": "99999"}, "MCE_PRODUCT_PORT", "from 1 to 65535"),
    ({"MCE_DATABASE_URL": "sqlite:////tmp/shared.db"}, "MCE_DATABASE_URL", "services get their own databases"),
    ({"MCE_FREEZE_TIMEOUT_S": "soon"}, "MCE_FREEZE_TIMEOUT_S", "number"),
    ({"MCE_ENV": "production"}, "MCE_ENV", "must be local"),
    ({"MCE_FORWARDED_ALLOW_IPS": "my-proxy"}, "MCE_FORWARDED_ALLOW_IPS", "IP addresses or networks"),
]


@pytest.mark.parametrize(("env", "variable", "allowed"), BAD_SETTINGS, ids=[case[1] for case in BAD_SETTINGS])
def test_up_with_a_bad_setting_says_which_in_one_line_and_writes_nothing(
    tmp_path: Path, env: dict[str, str], variable: str, allowed: str
) -> None:
    data_dir = tmp_path / "data"
    result = mce("up", data_dir=data_dir, env=env)
    assert_stopped_cleanly(result, variable)
    assert allowed in result.stderr
    assert not data_dir.exists()


# The admin-token check needs every service's settings; the subset runs `mce up` with the product service alone.
def test_up_with_an_empty_admin_token_file_stops_before_writing_anything_else(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "secrets").mkdir(parents=True)
    (data_dir / "secrets" / "admin-token").write_text("\n")
    result = mce("up", data_dir=data_dir, module="tests.mce_subset")
    assert_stopped_cleanly(result, "MCE_ADMIN_TOKEN")
    assert "shorter than 16 characters; delete the file" in result.stderr
    assert sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*")) == ["secrets", "secrets/admin-token"]


def test_up_with_a_short_admin_token_variable_stops_without_echoing_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = mce("up", data_dir=data_dir, env={"MCE_ADMIN_TOKEN": "hunter2"}, module="tests.mce_subset")
    assert_stopped_cleanly(result, "MCE_ADMIN_TOKEN")
    assert "hunter2" not in result.stderr
    assert not data_dir.exists()


def test_up_on_a_port_something_else_listens_on_names_the_variable(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = mce("up", data_dir=tmp_path / "data", env={"MCE_PRODUCT_PORT": str(port)}, module="tests.mce_subset")
    assert result.returncode == 2 and result.stderr == f"mce: ports already in use: {port} (set MCE_PRODUCT_PORT); " + (
        "stop what listens there or choose other ports\n"
    )
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MCE_LOG_LEVEL": "LOUD"}, "MCE_LOG_LEVEL"),
        ({"MCE_BUS": "rabbit"}, "MCE_BUS"),
        ({"MCE_PORT": "0"}, "MCE_PORT"),
        ({"MCE_PRODUCT_PORT": "http"}, "MCE_PRODUCT_PORT"),
        ({"MCE_FORWARDED_ALLOW_IPS": "my-proxy"}, "MCE_FORWARDED_ALLOW_IPS"),
        ({"MCE_ENV": "production"}, "MCE_DATABASE_URL"),
    ],
)
def test_serve_with_a_bad_setting_says_which_in_one_line_and_writes_nothing(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    result = mce("serve", "product", data_dir=tmp_path / "data", env=env)
    assert_stopped_cleanly(result, variable)
    assert not (tmp_path / "data").exists()


def test_serve_with_an_empty_admin_token_file_stops_cleanly(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "admin-token").write_text("")
    assert_stopped_cleanly(mce("serve", "product", data_dir=tmp_path), "MCE_ADMIN_TOKEN")
    assert not (tmp_path / "product.db").exists()


@pytest.mark.parametrize(
    ("command", "env", "variable"),
    [
        (("migrate", "product"), {"MCE_LOG_LEVEL": "LOUD"}, "MCE_LOG_LEVEL"),
        (("migrate", "product"), {"MCE_MAX_BODY_BYTES": "-5"}, "MCE_MAX_BODY_BYTES"),
        (("seed",), {"MCE_SEED_PRODUCTS": "abc"}, "MCE_SEED_PRODUCTS"),
        (("seed",), {"MCE_BUS": "rabbit"}, "MCE_BUS"),
    ],
)
def test_migrate_and_seed_with_a_bad_setting_stop_cleanly(
    tmp_path: Path, command: tuple[str, ...], env: dict[str, str], variable: str
) -> None:
    assert_stopped_cleanly(mce(*command, data_dir=tmp_path / "data", env=env), variable)
    assert not (tmp_path / "data").exists()


def test_migrate_takes_the_service_schema_from_the_registry_and_does_it_once(tmp_path: Path) -> None:
    first = mce("migrate", "product", data_dir=tmp_path)
    assert first.returncode == 0 and first.stdout == "migrated product\n", first.stderr
    assert (tmp_path / "product.db").exists()
    again = mce("migrate", "product", data_dir=tmp_path)
    assert again.stdout == "product: the database has the newest schema already\n"


@contextmanager
def serving_product(data_dir: Path, env: dict[str, str], host: str = "127.0.0.1") -> Iterator[str]:
    """`mce serve product` on a free port until the block ends; yields its URL."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MCE_")}
    clean.update({"MCE_DATA_DIR": str(data_dir), **env})
    process = subprocess.Popen(
        [sys.executable, "-m", "mce", "serve", "product", "--port", str(port)],
        env=clean,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"{url}/healthz"):
            assert process.poll() is None and time.monotonic() < deadline, "mce serve product did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(15)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wrong_token_statuses(url: str, guesses: int) -> list[int]:
    """Statuses of admin calls with a wrong token, each claiming another client address in X-Forwarded-For."""
    return [
        httpx.post(
            f"{url}/products",
            json={},
            headers={"Authorization": "Bearer not-the-token", "X-Forwarded-For": f"203.0.113.{guess}"},
            timeout=5,
        ).status_code
        for guess in range(guesses)
    ]


def test_serve_trusts_no_forwarded_header_by_default_so_a_client_cannot_dodge_its_limit(tmp_path: Path) -> None:
    with serving_product(tmp_path, {"MCE_AUTH_FAILURE_LIMIT": "2"}) as url:
        assert wrong_token_statuses(url, 4) == [401, 401, 429, 429]


def test_serve_believes_forwarded_headers_from_the_addresses_it_is_told_to_trust(tmp_path: Path) -> None:
    env = {"MCE_AUTH_FAILURE_LIMIT": "2", "MCE_FORWARDED_ALLOW_IPS": "127.0.0.1,10.0.0.0/8"}
    with serving_product(tmp_path, env) as url:
        assert wrong_token_statuses(url, 4) == [401, 401, 401, 401]


def test_serve_listens_on_the_host_the_settings_name(tmp_path: Path) -> None:
    with serving_product(tmp_path, {"MCE_HOST": "127.0.0.2"}, host="127.0.0.2") as url:
        assert not _answers(f"{url.replace('127.0.0.2', '127.0.0.1')}/healthz")
