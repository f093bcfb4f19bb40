"""A PostgreSQL server that stops: calls fail fast with 503 and /readyz goes red; it comes back, the service recovers.

The server is a throwaway of this test's own (deploy/local/postgres.sh on another port and folder), so stopping it
disturbs no other test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mce.services.product.app import create_app
from mce.services.product.settings import ProductSettings
from tests.conftest import free_port, skip_or_fail
from tests.inprocess import ADMIN, ADMIN_TOKEN, IN_PROCESS

pytestmark = pytest.mark.postgres
SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "local" / "postgres.sh"


@pytest.fixture
def scratch_postgres() -> Iterator[tuple[str, dict[str, str]]]:
    """A PostgreSQL of this test's own: its URL, and the environment that starts and stops it."""
    if not os.environ.get("MCE_TEST_POSTGRES_URL"):
        skip_or_fail("MCE_TEST_POSTGRES_URL is not set; PostgreSQL is not installed here")
    # Beside the test server's folder, not under pytest's: the postgres user must reach it through its parents.
    folder = Path(f"/tmp/mce-pg-outage-{uuid.uuid4().hex[:8]}")
    env = {**os.environ, "MCE_PG_PORT": str(free_port()), "MCE_PG_DIR": str(folder), "MCE_PG_KEEP": "1"}
    url = subprocess.run([str(SCRIPT), "start"], env=env, check=True, capture_output=True, text=True).stdout.strip()
    try:
        yield url, env
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_stopped_database_fails_calls_fast_and_they_recover_when_it_returns(scratch_postgres, tmp_path) -> None:
    url, env = scratch_postgres
    settings = ProductSettings(data_dir=tmp_path, database_url=url, admin_token=ADMIN_TOKEN, **IN_PROCESS)
    with TestClient(create_app(settings)) as client:
        assert client.post("/categories", json={"name": "Office"}, headers=ADMIN).status_code == 201
        made = client.post("/products", json={"name": "Lamp", "price": "9.50", "category": "Office"}, headers=ADMIN)
        assert made.status_code == 201, made.text
        subprocess.run([str(SCRIPT), "stop"], env=env, check=True, capture_output=True)

        began = time.monotonic()
        failed = client.get(f"/products/{made.json()['id']}")
        assert failed.status_code == 503 and failed.json()["error"]["code"] == "unavailable"
        assert time.monotonic() - began < 10
        assert client.get("/readyz").status_code == 503

        subprocess.run([str(SCRIPT), "start"], env=env, check=True, capture_output=True)
        deadline = time.monotonic() + 20
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/readyz").status_code == 200
        assert client.get(f"/products/{made.json()['id']}").json()["name"] == "Lamp"
