"""Fixtures shared by every layer of tests: test servers, PyFlink and free ports."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mce.harness import Platform, free_port, start_platform

__all__ = ["EventHubsEndpoint", "Mirror", "Platform", "start_platform", "free_port", "skip_or_fail"]

DEPLOY_LOCAL = Path(__file__).resolve().parent.parent / "deploy" / "local"


def require_test_servers() -> bool:
    """Under `make test` (and CI) a missing test server fails the run instead of skipping."""
    return os.environ.get("MCE_REQUIRE_TEST_SERVERS") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's partial setup; fail where the servers were promised."""
    if require_test_servers():
        pytest.fail(reason)
    pytest.skip(reason)


def server_endpoint(name: str, script: str) -> str:
    """A test server's endpoint from MCE_TEST_<NAME>, which `make test` sets from what the server's script prints."""
    value = os.environ.get(f"MCE_TEST_{name}")
    if not value:
        skip_or_fail(f"MCE_TEST_{name} is not set; start the server with deploy/local/{script} and export its {name}")
    return value


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL database URL (deploy/local/postgres.sh prints one)."""
    return server_endpoint("POSTGRES_URL", "postgres.sh")


@pytest.fixture(scope="session")
def opensearch_endpoint() -> str:
    """An OpenSearch URL (deploy/local/opensearch.sh)."""
    return server_endpoint("OPENSEARCH_ENDPOINT", "opensearch.sh")


@pytest.fixture(scope="session")
def azurite_connection_string() -> str:
    """An Azure Storage connection string (deploy/local/azurite.sh)."""
    return server_endpoint("AZURE_STORAGE_CONNECTION_STRING", "azurite.sh")


@pytest.fixture(scope="session")
def aws_endpoint_url() -> Iterator[str]:
    """moto's server from MCE_TEST_AWS_ENDPOINT_URL (deploy/local/moto.sh prints one), with boto3 pointed at it.

    Fake keys and a region go into the environment for the session: moto accepts any, and no test can reach AWS.
    """
    url = server_endpoint("AWS_ENDPOINT_URL", "moto.sh")
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
    return server_endpoint("KAFKA_BOOTSTRAP", "kafka.sh")


@pytest.fixture(scope="session")
def eventhubs() -> EventHubsEndpoint:
    """The Event Hubs-like cluster from MCE_TEST_EVENTHUBS_BOOTSTRAP and MCE_TEST_EVENTHUBS_CONNECTION_STRING."""
    bootstrap = server_endpoint("EVENTHUBS_BOOTSTRAP", "kafka.sh")
    secret = server_endpoint("EVENTHUBS_CONNECTION_STRING", "kafka.sh")
    return EventHubsEndpoint(bootstrap, secret)


@pytest.fixture(scope="session")
def flink_python() -> str:
    """PyFlink's interpreter, as deploy/local/flink-env.sh prints it."""
    path = os.environ.get("MCE_FLINK_PYTHON")
    if not path:
        skip_or_fail("MCE_FLINK_PYTHON is not set; build PyFlink's environment with deploy/local/flink-env.sh")
    if not os.access(path, os.X_OK):
        skip_or_fail(f"MCE_FLINK_PYTHON={path} is not an executable; rerun deploy/local/flink-env.sh")
    return path


@pytest.fixture(scope="session")
def flink_kafka_jar() -> str:
    """Flink's Kafka SQL connector: MCE_FLINK_KAFKA_JAR, else fetched (and cached) by deploy/local/flink-kafka.sh."""
    given = os.environ.get("MCE_FLINK_KAFKA_JAR")
    if given:
        return given
    done = subprocess.run([str(DEPLOY_LOCAL / "flink-kafka.sh")], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        skip_or_fail(f"deploy/local/flink-kafka.sh could not fetch the connector: {done.stderr[-2000:]}")
    return done.stdout.strip().partition("=")[2]


@dataclass(frozen=True)
class Mirror:
    """The two Kafka clusters MirrorMaker 2 bridges: msk (plaintext) and the Event Hubs side (SASL PLAIN)."""

    kafka_bootstrap: str
    eventhubs_bootstrap: str
    eventhubs_connection_string: str = field(repr=False)
    eventhubs_security_protocol: str = "SASL_PLAINTEXT"

    def environ(self) -> dict[str, str]:
        """The platform's setting names for these endpoints."""
        return {
            "KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "EVENTHUBS_BOOTSTRAP": self.eventhubs_bootstrap,
            "EVENTHUBS_CONNECTION_STRING": self.eventhubs_connection_string,
            "MCE_EVENTHUBS_SECURITY_PROTOCOL": self.eventhubs_security_protocol,
        }

    def msk_client(self) -> dict[str, str]:
        """confluent-kafka's settings for the msk side."""
        return {"bootstrap.servers": self.kafka_bootstrap}

    def eventhubs_client(self) -> dict[str, str]:
        """confluent-kafka's settings for the Event Hubs side, signed in as Event Hubs asks."""
        return {
            "bootstrap.servers": self.eventhubs_bootstrap,
            "security.protocol": self.eventhubs_security_protocol,
            "sasl.mechanism": "PLAIN",
            "sasl.username": "$ConnectionString",
            "sasl.password": self.eventhubs_connection_string,
        }


@pytest.fixture(scope="session")
def mirrormaker(kafka_bootstrap: str, eventhubs: EventHubsEndpoint) -> Iterator[Mirror]:
    """MirrorMaker 2 from msk's user-events to the Event Hubs side's events, started by deploy/local/mirrormaker.sh
    over the test clusters (kafka_bootstrap, eventhubs), and stopped again if this fixture started it.
    """
    mirror = Mirror(kafka_bootstrap, eventhubs.bootstrap, eventhubs.connection_string, "SASL_PLAINTEXT")
    script = str(DEPLOY_LOCAL / "mirrormaker.sh")
    env = {**os.environ, **mirror.environ()}
    was_running = subprocess.run([script, "status"], env=env, capture_output=True).returncode == 0
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True, timeout=300)
    if started.returncode != 0:
        pytest.fail(f"deploy/local/mirrormaker.sh could not start MirrorMaker 2: {started.stderr[-3000:]}")
    yield mirror
    if not was_running:
        subprocess.run([script, "stop"], env=env, capture_output=True, timeout=120)
