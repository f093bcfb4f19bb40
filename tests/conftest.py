"""Fixtures shared by every layer of tests: test servers and free ports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from mce.harness import Platform, free_port, start_platform

__all__ = ["EventHubsEndpoint", "Platform", "start_platform", "free_port", "skip_or_fail"]


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
def opensearch_endpoint() -> str:
    """An OpenSearch URL from MCE_TEST_OPENSEARCH_ENDPOINT (deploy/local/opensearch.sh prints one)."""
    endpoint = os.environ.get("MCE_TEST_OPENSEARCH_ENDPOINT")
    if not endpoint:
        skip_or_fail("MCE_TEST_OPENSEARCH_ENDPOINT is not set; start one with deploy/local/opensearch.sh")
    return endpoint


@pytest.fixture(scope="session")
def azurite_connection_string() -> str:
    """An Azure Storage connection string from MCE_TEST_AZURE_STORAGE_CONNECTION_STRING (deploy/local/azurite.sh)."""
    connection = os.environ.get("MCE_TEST_AZURE_STORAGE_CONNECTION_STRING")
    if not connection:
        skip_or_fail(
            "MCE_TEST_AZURE_STORAGE_CONNECTION_STRING is not set; start Azurite with deploy/local/azurite.sh and "
            "export its AZURE_STORAGE_CONNECTION_STRING under that name"
        )
    return connection


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


@dataclass(frozen=True)
class EventHubsEndpoint:
    """Where the Event Hubs side's Kafka endpoint answers, and the connection string that is its password."""

    bootstrap: str
    connection_string: str = field(repr=False)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The MSK-like cluster's bootstrap servers from MCE_TEST_KAFKA_BOOTSTRAP (deploy/local/kafka.sh prints them)."""
    bootstrap = os.environ.get("MCE_TEST_KAFKA_BOOTSTRAP")
    if not bootstrap:
        skip_or_fail("MCE_TEST_KAFKA_BOOTSTRAP is not set; start Kafka with deploy/local/kafka.sh")
    return bootstrap


@pytest.fixture(scope="session")
def eventhubs() -> EventHubsEndpoint:
    """The Event Hubs-like cluster from MCE_TEST_EVENTHUBS_BOOTSTRAP and MCE_TEST_EVENTHUBS_CONNECTION_STRING."""
    bootstrap = os.environ.get("MCE_TEST_EVENTHUBS_BOOTSTRAP")
    secret = os.environ.get("MCE_TEST_EVENTHUBS_CONNECTION_STRING")
    if not bootstrap or not secret:
        skip_or_fail(
            "MCE_TEST_EVENTHUBS_BOOTSTRAP and MCE_TEST_EVENTHUBS_CONNECTION_STRING are not set; "
            "start them with deploy/local/kafka.sh"
        )
    return EventHubsEndpoint(bootstrap, secret)
