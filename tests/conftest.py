"""Fixtures shared by every layer of tests: test servers and free ports."""

from __future__ import annotations

import os
import socket

import pytest


def require_test_servers() -> bool:
    """Under `make test` (and CI) a missing test server fails the run instead of skipping."""
    return os.environ.get("MCE_REQUIRE_TEST_SERVERS") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's partial setup; fail where the servers were promised."""
    if require_test_servers():
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL database URL from MCE_TEST_POSTGRES_URL (deploy/local/postgres.sh prints one)."""
    url = os.environ.get("MCE_TEST_POSTGRES_URL")
    if not url:
        skip_or_fail("MCE_TEST_POSTGRES_URL is not set; start one with deploy/local/postgres.sh")
    return url


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
