"""The product service's HTTP contract, written once and run against the real service and the frontend's fake.

A fake that passes these can never be more lenient than the real catalog: both refuse the same requests with the
same status and error body.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mce.services.product.app import create_app
from mce.services.product.settings import ProductSettings
from tests.fakes.catalog import ADMIN_TOKEN, FakeCatalog

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NEW = {"name": "Wireless Headphones", "description": "Crisp sound", "price": "59.99", "stock": 7, "category": "Audio"}


@pytest.fixture(params=["real", "fake"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    """A client of the catalog with one category, Audio, and nothing else."""
    if request.param == "real":
        settings = ProductSettings(data_dir=tmp_path, admin_token=ADMIN_TOKEN, max_body_bytes=64 * 1024)
        app = create_app(settings)
    else:
        app = FakeCatalog().app()
    with TestClient(app) as client:
        assert client.post("/categories", json={"name": "Audio"}, headers=ADMIN).status_code == 201
        yield client


def created(api: TestClient, **changes: object) -> dict:
    response = api.post("/products", json={**NEW, **changes}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


def assert_error(response, status: int, code: str) -> dict:
    """The one error shape: code, message, and details as a list of {field, message}."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert isinstance(error["details"], list)
    assert all(set(detail) == {"field", "message"} for detail in error["details"])
    return error


def test_an_admin_creates_a_product_and_anyone_reads_it(api) -> None:
    response = api.post("/products", json=NEW, headers=ADMIN)
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/products/{body['id']}"
    assert body["price"] == "59.99" and body["version"] == 1 and body["category"] == "Audio"
    assert api.get(f"/products/{body['id']}").json() == body


def test_prices_are_read_as_numbers_or_decimal_strings_and_written_as_exact_strings(api) -> None:
    assert created(api, price=0.1)["price"] == "0.10"
    assert created(api, price="19.9")["price"] == "19.90"
    assert created(api, price=5)["price"] == "5.00"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": -1}, "price"),
        ({"price": 1.234}, "price"),
        ({"price": "1,50"}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": 1e12}, "price"),
        ({"price": True}, "price"),
        ({"stock": -3}, "stock"),
        ({"stock": 2.5}, "stock"),
        ({"stock": "4"}, "stock"),
        ({"stock": True}, "stock"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "bad\x00name"}, "name"),
        ({"category": ""}, "category"),
        ({"category": "x" * 65}, "category"),
        ({"image_url": "javascript:alert(1)"}, "image_url"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_fields_get_a_422_naming_the_field_and_change_nothing(api, change, field) -> None:
    error = assert_error(api.post("/products", json={**NEW, **change}, headers=ADMIN), 422, "invalid")
    assert any(field in detail["field"] for detail in error["details"]), error
    assert api.get("/products").json()["total"] == 0


def test_a_product_needs_a_category_that_exists(api) -> None:
    error = assert_error(api.post("/products", json={**NEW, "category": "Audoi"}, headers=ADMIN), 422, "invalid")
    assert error["details"][0]["field"] == "category"
    assert created(api, category="AUDIO")["category"] == "Audio"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"name": ', "application/json"),
        (b"", "application/json"),
        (b'{"name": "\xc3\x28"}', "application/json"),
        (b"name=x", "application/x-www-form-urlencoded"),
        (b'{"name": "x"}', "text/plain"),
    ],
)
def test_a_body_that_is_not_json_is_a_400(api, content, content_type) -> None:
    response = api.post("/products", content=content, headers={**ADMIN, "content-type": content_type})
    assert_error(response, 400, "malformed_json")


def test_writes_without_the_admin_token_are_refused_with_a_challenge(api) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN}):
        response = api.post("/products", json=NEW, headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert api.get("/products").json()["total"] == 0


def test_a_partial_update_changes_only_the_given_fields(api) -> None:
    product = created(api)
    updated = api.put(f"/products/{product['id']}", json={"price": "49.50"}, headers=ADMIN)
    assert updated.status_code == 200
    body = updated.json()
    assert (body["price"], body["name"], body["version"]) == ("49.50", NEW["name"], 2)


def test_a_stale_version_is_a_409_naming_the_version(api) -> None:
    product = created(api)
    api.put(f"/products/{product['id']}", json={"stock": 1, "version": 1}, headers=ADMIN)
    error = assert_error(
        api.put(f"/products/{product['id']}", json={"stock": 2, "version": 1}, headers=ADMIN), 409, "conflict"
    )
    assert error["details"][0]["field"] == "version"


def test_an_absolute_stock_without_the_version_read_is_a_428(api) -> None:
    product = created(api)
    assert_error(api.put(f"/products/{product['id']}", json={"stock": 2}, headers=ADMIN), 428, "precondition_required")
    assert api.get(f"/products/{product['id']}").json()["stock"] == 7


def test_an_empty_update_or_a_null_required_field_is_a_422(api) -> None:
    product = created(api)
    assert_error(api.put(f"/products/{product['id']}", json={}, headers=ADMIN), 422, "invalid")
    assert_error(api.put(f"/products/{product['id']}", json={"name": None}, headers=ADMIN), 422, "invalid")


def test_stock_moves_by_deltas_never_below_zero_and_a_reference_applies_once(api) -> None:
    product = created(api, stock=5)
    path = f"/products/{product['id']}/stock-adjustments"
    taken = api.post(path, json={"delta": -3, "reason": "order 1", "reference": "order-1"}, headers=ADMIN)
    assert taken.status_code == 200 and taken.json()["stock"] == 2
    again = api.post(path, json={"delta": -3, "reason": "order 1", "reference": "order-1"}, headers=ADMIN)
    assert again.status_code == 200 and again.json()["stock"] == 2
    assert_error(api.post(path, json={"delta": -3, "reason": "order 2"}, headers=ADMIN), 409, "conflict")
    assert_error(api.post(path, json={"delta": 1, "reason": ""}, headers=ADMIN), 422, "invalid")
    assert api.get(f"/products/{product['id']}").json()["stock"] == 2


def test_delete_removes_the_product(api) -> None:
    product = created(api)
    response = api.delete(f"/products/{product['id']}", headers=ADMIN)
    assert response.status_code == 204 and response.content == b""
    assert_error(api.get(f"/products/{product['id']}"), 404, "not_found")
    assert_error(api.delete(f"/products/{product['id']}", headers=ADMIN), 404, "not_found")


@pytest.mark.parametrize("path", ["/products/0", "/products/abc", "/products/2147483648", "/products/-1"])
def test_impossible_ids_are_a_422(api, path) -> None:
    assert_error(api.get(path), 422, "invalid")


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "offset=-1", "offset=9901", "sort=cheapest", "limit=abc", "category="]
)
def test_bad_listing_parameters_are_a_422(api, query) -> None:
    assert_error(api.get(f"/products?{query}"), 422, "invalid")


def test_the_deepest_page_is_served(api) -> None:
    assert api.get("/products?offset=9900&limit=100").json()["items"] == []


def test_listing_pages_filters_whatever_the_case_and_counts(api) -> None:
    api.post("/categories", json={"name": "Books"}, headers=ADMIN)
    for i in range(5):
        created(api, name=f"Book {i}", category="Books", price=10 + i)
    created(api)
    page = api.get("/products?category=books&sort=price_desc&limit=2&offset=1").json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert [p["price"] for p in page["items"]] == ["13.00", "12.00"]


def test_categories_are_managed_and_unique_whatever_their_case(api) -> None:
    response = api.post("/categories", json={"name": "Books"}, headers=ADMIN)
    assert response.status_code == 201
    books = response.json()
    assert response.headers["location"] == f"/categories/{books['id']}"
    assert_error(api.post("/categories", json={"name": " books "}, headers=ADMIN), 409, "conflict")
    renamed = api.put(f"/categories/{books['id']}", json={"name": "Books & Maps"}, headers=ADMIN)
    assert renamed.json() == {"id": books["id"], "name": "Books & Maps", "count": 0}
    assert [c["name"] for c in api.get("/categories").json()["items"]] == ["Audio", "Books & Maps"]
    assert api.delete(f"/categories/{books['id']}", headers=ADMIN).status_code == 204
    assert_error(api.get(f"/categories/{books['id']}"), 404, "not_found")


def test_renaming_a_category_renames_it_on_its_products(api) -> None:
    product = created(api)
    audio = api.get("/categories").json()["items"][0]
    api.put(f"/categories/{audio['id']}", json={"name": "Sound"}, headers=ADMIN)
    after = api.get(f"/products/{product['id']}").json()
    assert after["category"] == "Sound" and after["version"] == 2


def test_a_category_with_products_cannot_be_deleted(api) -> None:
    created(api)
    audio = api.get("/categories").json()["items"][0]
    assert audio["count"] == 1
    assert_error(api.delete(f"/categories/{audio['id']}", headers=ADMIN), 409, "conflict")


def test_category_writes_need_the_admin_token(api) -> None:
    assert_error(api.post("/categories", json={"name": "Toys"}), 401, "unauthorized")


def test_a_repeated_idempotency_key_returns_the_first_answer(api) -> None:
    keyed = {**ADMIN, "Idempotency-Key": "create-1"}
    first = api.post("/products", json=NEW, headers=keyed)
    again = api.post("/products", json=NEW, headers=keyed)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert api.get("/products").json()["total"] == 1


def test_an_idempotency_key_reused_for_another_request_is_a_422(api) -> None:
    keyed = {**ADMIN, "Idempotency-Key": "create-2"}
    api.post("/products", json=NEW, headers=keyed)
    error = assert_error(api.post("/products", json={**NEW, "name": "Other"}, headers=keyed), 422, "invalid")
    assert error["details"][0]["field"] == "Idempotency-Key"


def test_a_malformed_idempotency_key_is_a_400(api) -> None:
    response = api.post("/products", json=NEW, headers={**ADMIN, "Idempotency-Key": "x" * 201})
    assert_error(response, 400, "bad_request")


def test_head_answers_wherever_get_does_without_a_body(api) -> None:
    product = created(api)
    for path in ("/products", f"/products/{product['id']}", "/categories", "/healthz"):
        response = api.head(path)
        assert response.status_code == 200 and response.content == b"", path


def test_unknown_routes_and_methods_get_json_errors(api) -> None:
    assert_error(api.get("/nope"), 404, "not_found")
    response = api.patch("/products")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"] and "POST" in response.headers["allow"]


def test_keyset_paging_by_id_reads_every_product_once_past_any_offset(api) -> None:
    made = [created(api, name=f"Lamp {n}")["id"] for n in range(7)]
    api.delete(f"/products/{made[2]}", headers=ADMIN)
    seen, after = [], 0
    while True:
        page = api.get("/products", params={"sort": "id", "limit": 3, "after_id": after}).json()
        seen += [p["id"] for p in page["items"]]
        if len(page["items"]) < 3:
            break
        after = page["items"][-1]["id"]
    assert seen == [i for i in made if i != made[2]]
    assert_error(api.get("/products", params={"after_id": -1}), 422, "invalid")
