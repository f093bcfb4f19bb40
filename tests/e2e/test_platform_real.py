"""The foundation's and checkout's end-to-end tests again, on the platform `make up-real` runs: every service on the
local real servers (PostgreSQL, Kafka on both sides, MirrorMaker 2, OpenSearch, DynamoDB and S3 in moto, Flink).

The tests are the embedded platform's own, imported: the same words must hold on both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import boto3
import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import create_engine, text

from mce.harness import real_backend_env
from mce.kit.events import Event
from tests.conftest import Platform, skip_or_fail, start_platform
from tests.e2e import test_platform as foundation

pytestmark = [pytest.mark.e2e, pytest.mark.real]

# What deploy/local/servers.sh prints, as the tests receive it (MCE_TEST_<NAME>).
ENDPOINTS = (
    "KAFKA_BOOTSTRAP",
    "EVENTHUBS_BOOTSTRAP",
    "EVENTHUBS_CONNECTION_STRING",
    "OPENSEARCH_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AZURE_STORAGE_CONNECTION_STRING",
    "RDS_HOST",
    "RDS_PORT",
    "RDS_USER",
)
SEED = 1200


def _endpoints() -> dict[str, str]:
    given = {name: os.environ.get(f"MCE_TEST_{name}", "") for name in ENDPOINTS}
    missing = [f"MCE_TEST_{name}" for name, value in given.items() if not value]
    if missing:
        skip_or_fail(f"{', '.join(missing)} not set; start the servers with deploy/local/servers.sh start")
    return given


def _postgres_url(endpoints: dict[str, str], database: str = "postgres") -> str:
    return f"postgresql+psycopg://{endpoints['RDS_USER']}@{endpoints['RDS_HOST']}:{endpoints['RDS_PORT']}/{database}"


def _require_fresh_servers(endpoints: dict[str, str]) -> None:
    """The platform uses fixed names (topics, index, tables): a second run on the same servers would see the first."""
    engine = create_engine(_postgres_url(endpoints))
    try:
        with engine.connect() as conn:
            used = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = 'mce_product'")).first()
    finally:
        engine.dispose()
    if used:
        skip_or_fail("the servers hold an earlier real platform's data: run deploy/local/servers.sh reset, then start")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One `mce up` on the real servers, for this module: the foundation tests below take it as their platform."""
    endpoints = _endpoints()
    flink_python = os.environ.get("MCE_FLINK_PYTHON") or skip_or_fail("MCE_FLINK_PYTHON not set")
    flink_jar = os.environ.get("MCE_FLINK_KAFKA_JAR") or skip_or_fail("MCE_FLINK_KAFKA_JAR not set (flink-kafka.sh)")
    _require_fresh_servers(endpoints)
    env = real_backend_env(endpoints, flink_python=flink_python, flink_kafka_jar=flink_jar)
    running = start_platform(tmp_path_factory.mktemp("real-platform"), seed=SEED, extra_env=env, timeout=420)
    yield running
    running.stop(timeout=60)


test_a_product_change_is_searchable_within_two_seconds = (
    foundation.test_a_product_change_is_searchable_within_two_seconds
)
test_the_seeded_catalog_is_browsable_and_searchable = foundation.test_the_seeded_catalog_is_browsable_and_searchable
test_every_service_is_ready_and_serves_metrics = foundation.test_every_service_is_ready_and_serves_metrics
test_a_request_id_follows_a_request_through_the_services = (
    foundation.test_a_request_id_follows_a_request_through_the_services
)
test_shoppers_find_compound_words_however_they_write_them = (
    foundation.test_shoppers_find_compound_words_however_they_write_them
)
test_a_category_name_finds_the_products_in_that_category = (
    foundation.test_a_category_name_finds_the_products_in_that_category
)
test_a_query_with_nothing_to_search_for_finds_nothing_and_says_why = (
    foundation.test_a_query_with_nothing_to_search_for_finds_nothing_and_says_why
)
test_a_renamed_category_is_followed_by_the_catalog_and_search = (
    foundation.test_a_renamed_category_is_followed_by_the_catalog_and_search
)
test_an_admin_write_retried_with_its_idempotency_key_applies_once = (
    foundation.test_an_admin_write_retried_with_its_idempotency_key_applies_once
)
test_a_shopper_fills_a_cart_through_the_real_services = foundation.test_a_shopper_fills_a_cart_through_the_real_services
test_a_shopper_signs_up_checks_out_once_and_staff_deliver_the_order = (
    foundation.test_a_shopper_signs_up_checks_out_once_and_staff_deliver_the_order
)


def _topic_events(bootstrap: str, topic: str) -> list[Event]:
    """Every event on a topic of the MSK side, read from the start by a group of its own."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"e2e-{os.getpid()}-{topic}", "enable.auto.commit": False}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {}
        for partition in partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            ends[partition] = high
        consumer.assign([TopicPartition(topic, partition, 0) for partition in partitions])
        events, read = [], dict.fromkeys(partitions, 0)
        while any(read[p] < ends[p] for p in partitions):
            message = consumer.poll(5)
            assert message is not None, f"{topic} stopped short of its end offsets {ends}"
            assert message.error() is None, message.error()
            read[message.partition()] = message.offset() + 1
            events.append(Event.from_bytes(message.value()))
        return events
    finally:
        consumer.close()


def test_the_platform_keeps_its_data_in_the_real_servers(platform: Platform) -> None:
    endpoints = _endpoints()
    order = foundation.check_out_and_deliver(platform)
    engine = create_engine(_postgres_url(endpoints, "mce_order"))
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT status FROM orders WHERE id = :id"), {"id": order["id"]}).scalar()
    finally:
        engine.dispose()
    assert stored == "delivered"
    indexed = httpx.get(f"{endpoints['OPENSEARCH_ENDPOINT']}/_cat/indices?format=json", timeout=10).json()
    assert sum(int(index["docs.count"]) for index in indexed if not index["index"].startswith(".")) >= SEED
    # moto takes any keys; real.env gives the platform the same.
    aws = {
        "endpoint_url": endpoints["AWS_ENDPOINT_URL"],
        "region_name": "us-east-1",
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
    assert boto3.client("dynamodb", **aws).list_tables()["TableNames"], "no DynamoDB table: carts are elsewhere"
    assert boto3.client("s3", **aws).list_buckets()["Buckets"], "no S3 bucket: photos are elsewhere"


def test_each_step_of_an_order_reaches_msks_orders_topic(platform: Platform) -> None:
    order = foundation.check_out_and_deliver(platform)
    deadline = time.monotonic() + 15
    while True:
        mine = [
            event for event in _topic_events(_endpoints()["KAFKA_BOOTSTRAP"], "orders") if event.key == str(order["id"])
        ]
        statuses = [event.data["status"] for event in mine]
        # Delivery is at least once, so a step may appear twice; each must be there, in its order.
        if list(dict.fromkeys(statuses)) == ["created", "paid", "shipped", "delivered"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert list(dict.fromkeys(statuses)) == ["created", "paid", "shipped", "delivered"], statuses
