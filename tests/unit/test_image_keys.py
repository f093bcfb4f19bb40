"""Which keys the image processor takes as uploads, where their thumbnails go, and how S3 records are read."""

from __future__ import annotations

import pytest

from mce.functions.image_processor.keys import parse_upload_key
from mce.functions.image_processor.processor import Outcome, created_keys
from mce.kit.blob.notifications import s3_created_event
from mce.kit.blob.port import BlobInfo

UPLOAD_ID = "0123456789abcdef0123456789abcdef"


def test_an_upload_key_names_its_product_and_upload() -> None:
    upload = parse_upload_key(f"uploads/products/42/{UPLOAD_ID}.jpg")
    assert upload is not None
    assert (upload.product_id, upload.upload_id) == (42, UPLOAD_ID)


def test_thumbnail_keys_and_urls_follow_the_contract() -> None:
    upload = parse_upload_key(f"uploads/products/42/{UPLOAD_ID}.png")
    assert upload.thumbnail_key(128) == f"thumbnails/products/42/{UPLOAD_ID}-128.webp"
    assert upload.thumbnail_url(512) == f"/images/thumbnails/products/42/{UPLOAD_ID}-512.webp"


@pytest.mark.parametrize(
    "key",
    [
        f"thumbnails/products/42/{UPLOAD_ID}-128.webp",  # our own output
        f"uploads/products/42/{UPLOAD_ID}-512.webp",
        f"uploads/products/42/{UPLOAD_ID}",  # no extension
        f"uploads/products/42/{UPLOAD_ID.upper()}.jpg",
        f"uploads/products/42/{UPLOAD_ID[:-1]}.jpg",
        f"uploads/products/0/{UPLOAD_ID}.jpg",
        f"uploads/products/042/{UPLOAD_ID}.jpg",
        f"uploads/products/2147483648/{UPLOAD_ID}.jpg",  # beyond the largest product id
        f"uploads/products/42/../{UPLOAD_ID}.jpg",
        f"/uploads/products/42/{UPLOAD_ID}.jpg",
        f"uploads/products/42/x/{UPLOAD_ID}.jpg",
        f"uploads/other/42/{UPLOAD_ID}.jpg",
        f"uploads/products/42/{UPLOAD_ID}.jpg\n",
        "",
    ],
)
def test_anything_else_is_not_an_upload(key: str) -> None:
    assert parse_upload_key(key) is None


def test_the_largest_product_id_is_an_upload() -> None:
    assert parse_upload_key(f"uploads/products/2147483647/{UPLOAD_ID}.gif").product_id == 2147483647


def test_keys_in_records_are_url_decoded_as_s3_encodes_them() -> None:
    event = s3_created_event("mce-uploads", BlobInfo("other/my photo+1.jpg", 3, "image/jpeg", "e"))
    assert event["Records"][0]["s3"]["object"]["key"] == "other/my+photo%2B1.jpg"
    assert created_keys(event) == [("mce-uploads", "other/my photo+1.jpg")]


def test_records_that_create_nothing_are_ignored_with_a_reason() -> None:
    event = s3_created_event("b", BlobInfo("uploads/x.jpg", 3, "image/jpeg", "e"))
    event["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    event["Records"].append({"eventName": "ObjectCreated:Put"})
    (removed, malformed) = created_keys(event)
    assert removed == Outcome("uploads/x.jpg", "ignored", "event 'ObjectRemoved:Delete' is not an object creation")
    assert malformed.outcome == "ignored" and "missing" in malformed.reason


@pytest.mark.parametrize("event", [{}, {"Records": "x"}, [], "Records"])
def test_an_event_that_is_not_from_s3_is_ignored(event: object) -> None:
    (outcome,) = created_keys(event)
    assert outcome.outcome == "ignored"
