"""The BlobStore contract, written once and run against every adapter (S3 on moto when it is up), with notifications."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote_plus, unquote_plus

import pytest

from mce.kit.aws import aws_client
from mce.kit.blob.filesystem import FilesystemBlobStore
from mce.kit.blob.notifications import BLOB_CREATED, BusNotifier, s3_created_event
from mce.kit.blob.port import BlobInfo, BlobNotFound, BlobStore
from mce.kit.blob.s3 import S3BlobStore
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.errors import Invalid
from mce.kit.events import Event

Notify = Callable[[str, BlobInfo], None]
StoreFactory = Callable[[Path, Notify | None], BlobStore]


def s3_store(root: Path, notify: Notify | None) -> BlobStore:
    """A store on moto's "contract-bucket", which the fixture empties before each test."""
    return S3BlobStore(aws_client("s3", local=True), "contract-bucket", notify)


def empty_s3_bucket(name: str) -> None:
    """Make the bucket if missing and delete whatever an earlier test left in it."""
    client = aws_client("s3", local=True)
    try:
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=item["Key"])
    finally:
        client.close()


# Each adapter: a factory that opens the test's bucket under a directory, telling `notify` of puts.
ADAPTERS: dict[str, StoreFactory] = {
    "filesystem": lambda root, notify: FilesystemBlobStore(root / "blobs", "contract-bucket", notify),
    "s3": s3_store,
}
MARKS = {"s3": [pytest.mark.aws]}


@pytest.fixture(params=[pytest.param(name, marks=MARKS.get(name, [])) for name in sorted(ADAPTERS)])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., BlobStore]]:
    """Opens stores on one bucket, closing them all afterwards."""
    if request.param == "s3":
        request.getfixturevalue("aws_endpoint_url")
        empty_s3_bucket("contract-bucket")
    opened: list[BlobStore] = []

    def opener(notify: Notify | None = None) -> BlobStore:
        store = ADAPTERS[request.param](tmp_path, notify)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., BlobStore]) -> BlobStore:
    return open_store()


def test_an_object_comes_back_as_it_was_put(store: BlobStore) -> None:
    data = bytes(range(256)) * 40 + b"\n\x00 the end"
    info = store.put("uploads/products/1/a.jpg", data, "image/jpeg")
    assert info == BlobInfo("uploads/products/1/a.jpg", len(data), "image/jpeg", info.etag)
    assert store.get("uploads/products/1/a.jpg") == (data, info)
    assert store.head("uploads/products/1/a.jpg") == info


def test_the_etag_is_the_hex_md5_of_the_bytes(store: BlobStore) -> None:
    assert store.put("k", b"hello", "text/plain").etag == "5d41402abc4b2a76b9719d911017c592"


def test_an_empty_object_is_an_object(store: BlobStore) -> None:
    store.put("empty", b"", "application/octet-stream")
    assert store.get("empty")[0] == b""
    assert store.head("empty").size == 0


def test_a_put_replaces_the_object_and_its_type(store: BlobStore) -> None:
    store.put("k", b"first, and longer", "text/plain")
    info = store.put("k", b"second", "image/png")
    assert store.get("k") == (b"second", info)
    assert store.head("k").content_type == "image/png"


def test_a_second_store_on_the_bucket_sees_the_same_objects(open_store: Callable[..., BlobStore]) -> None:
    open_store().put("shared/one", b"1", "text/plain")
    assert open_store().get("shared/one")[0] == b"1"


def test_a_missing_object_is_not_found_or_none(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.get("nothing/here")
    assert store.head("nothing/here") is None
    store.put("dir/file", b"x", "text/plain")
    with pytest.raises(BlobNotFound):
        store.get("dir")  # a prefix is not an object
    assert store.head("dir") is None
    with pytest.raises(BlobNotFound):
        store.get("dir/file/deeper")


def test_delete_removes_and_deleting_nothing_is_fine(store: BlobStore) -> None:
    store.put("k", b"x", "text/plain")
    store.delete("k")
    assert store.head("k") is None
    store.delete("k")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/leading",
        "trailing/",
        "a//b",
        "..",
        "a/../b",
        "../escape",
        "./here",
        ".hidden",
        "a/.tmp-x",
        "sp ace",
        "back\\slash",
        "nul\x00byte",
        "é",
        "a" * 1025,
        "x/" + "y" * 256,
    ],
)
def test_keys_that_are_not_plain_paths_are_refused_everywhere(store: BlobStore, key: str) -> None:
    for call in (
        lambda: store.put(key, b"x", "text/plain"),
        lambda: store.get(key),
        lambda: store.head(key),
        lambda: store.delete(key),
    ):
        with pytest.raises(Invalid):
            call()


def test_concurrent_puts_of_one_key_never_leave_a_torn_object(store: BlobStore) -> None:
    # Each writer's bytes are one repeated byte with a distinct length: a mix of two writes would show.
    payloads = [bytes([n]) * (200_000 + n * 1000) for n in range(8)]
    stop = threading.Event()
    torn: list[str] = []

    def read() -> None:
        while not stop.is_set():
            try:
                data, info = store.get("contested")
            except BlobNotFound:
                continue
            if data not in payloads or info.size != len(data):
                torn.append(f"{len(data)} bytes, {len(set(data))} distinct")

    def write(payload: bytes) -> None:
        for _ in range(15):
            store.put("contested", payload, "application/octet-stream")

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert torn == []
    data, info = store.get("contested")
    assert data in payloads and info.size == len(data)


def test_a_put_notifies_with_the_objects_info_after_it_is_readable(open_store: Callable[..., BlobStore]) -> None:
    seen: list[tuple[str, BlobInfo, bytes]] = []
    holder: list[BlobStore] = []

    def notify(bucket: str, info: BlobInfo) -> None:
        seen.append((bucket, info, holder[0].get(info.key)[0]))

    holder.append(open_store(notify))
    info = holder[0].put("uploads/x.jpg", b"jpeg", "image/jpeg")
    assert seen == [("contract-bucket", info, b"jpeg")]


def test_notifications_go_only_under_the_prefix_in_s3_format_with_the_key_url_encoded(
    open_store: Callable[..., BlobStore], tmp_path: Path
) -> None:
    bus = SqliteEventBus(tmp_path / "bus.db")
    try:
        store = open_store(BusNotifier(bus, "notes", prefix="uploads/"))
        created = store.put("uploads/products/1/photo_v2.final-1.jpg", b"jpeg bytes", "image/jpeg")
        store.put("thumbnails/products/1/x-128.webp", b"webp", "image/webp")
        store.put("uploadsX/elsewhere.jpg", b"jpeg", "image/jpeg")
        deliveries = bus.subscribe("notes", "test").poll(10, timeout=0.5)
        events: list[Event] = [d.event for d in deliveries]
        assert [(e.type, e.key) for e in events] == [(BLOB_CREATED, created.key)]
        (record,) = events[0].data["Records"]
        assert record["eventSource"] == "aws:s3"
        assert record["eventName"] == "ObjectCreated:Put"
        assert record["s3"]["bucket"]["name"] == "contract-bucket"
        assert record["s3"]["object"]["key"] == quote_plus(created.key, safe="/")
        assert unquote_plus(record["s3"]["object"]["key"]) == created.key
        assert (record["s3"]["object"]["size"], record["s3"]["object"]["eTag"]) == (created.size, created.etag)
    finally:
        bus.close()


def test_a_notification_url_encodes_its_key_as_s3_does() -> None:
    # Store keys never need it (plain segments only), but S3's format encodes, and handlers must decode.
    event = s3_created_event("b", BlobInfo("uploads/a b+c&d.jpg", 1, "image/jpeg", "e"))
    assert event["Records"][0]["s3"]["object"]["key"] == "uploads/a+b%2Bc%26d.jpg"


def test_a_store_pings_while_its_bucket_is_usable(store: BlobStore) -> None:
    store.ping()
