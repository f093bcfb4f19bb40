"""Fixtures shared by every layer of tests: test servers and free ports."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mce.harness import Platform, free_port, start_platform

__all__ = ["Platform", "start_platform", "free_port", "skip_or_fail"]


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


@pytest.fixture(scope="session")
def aws_endpoint_url() -> Iterator[str]:
    """moto's server from MCE_TEST_AWS_ENDPOINT_URL (deploy/local/moto.sh prints one), with boto3 pointed at it.

    Fake keys and a region go into the environment for the session: moto accepts any, and no test can reach AWS.
    """
    url = os.environ.get("MCE_TEST_AWS_ENDPOINT_URL")
    if not url:
        skip_or_fail("MCE_TEST_AWS_ENDPOINT_URL is not set; start moto with deploy/local/moto.sh")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", url)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.delenv("AWS_PROFILE", raising=False)
        env.setenv("AWS_REGION", "us-east-1")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield url


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One `mce up` shared by the end-to-end, browser and API-fuzz tests."""
    running = start_platform(tmp_path_factory.mktemp("platform"), seed=1200)
    yield running
    running.stop()
