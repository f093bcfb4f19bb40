"""The JSON API gateway: parameters checked with the shared contracts, answers passed through, writes for admins."""

import gzip

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from frontend_fakes import ADMIN_TOKEN, DownTransport, FakeCatalog, FakeSearch, frontend_client

from mce.kit.http import AsgiTransport

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NEW_PRODUCT = {"name": "Desk Lamp", "description": "Warm light.", "price": "59.99", "stock": 12, "category": "Home"}


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.add("Desk Lamp", price="59.99", category="Home")
    catalog.add("Headphones", price="199.00", category="Electronics")
    catalog.add("Phone Charger", price="19.50", category="Electronics")
    return catalog


@pytest.fixture
def search(catalog: FakeCatalog) -> FakeSearch:
    return FakeSearch(catalog)


@pytest.fixture
def client(tmp_path, catalog, search):
    with frontend_client(tmp_path, catalog, search=search) as client:
        yield client


def test_product_list_is_the_backends_answer_byte_for_byte(client, catalog):
    params = {"category": "Electronics", "sort": "price_asc", "limit": 1}
    response = client.get("/api/products", params=params)
    direct = TestClient(catalog.app()).get("/products", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == direct.content
    assert [item["name"] for item in response.json()["items"]] == ["Phone Charger"]
    assert response.json()["items"][0]["price"] == "19.50"


def test_list_parameters_are_forwarded(client, catalog):
    client.get("/api/products", params={"category": "Home", "sort": "name", "limit": 5, "offset": 10})
    (call,) = catalog.calls_to("GET", "/products")
    assert call.params == {"category": "Home", "sort": "name", "limit": "5", "offset": "10"}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
        {"offset": 9901},
        {"sort": "cheapest"},
        {"limit": "many"},
        {"category": "a\x00b"},
        {"category": ""},
        {"category": "x" * 65},
    ],
)
def test_bad_list_parameters_are_refused_without_asking_the_catalog(client, catalog, params):
    response = client.get("/api/products", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"
    assert catalog.calls == []


def test_a_product_is_passed_through(client):
    response = client.get("/api/products/1")
    assert response.status_code == 200
    assert response.json()["name"] == "Desk Lamp"


def test_a_missing_product_keeps_the_backends_404_body(client):
    response = client.get("/api/products/999")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "product 999 not found", "details": []}}


@pytest.mark.parametrize("product_id", ["0", "abc", str(2**31), str(2**64)])
def test_impossible_product_ids_are_refused_at_the_gateway_as_the_catalog_would(client, catalog, product_id):
    assert client.get(f"/api/products/{product_id}").status_code == 422
    assert catalog.calls == []


def test_categories_are_passed_through(client):
    assert client.get("/api/categories").json() == {
        "items": [{"id": 2, "name": "Electronics", "count": 2}, {"id": 1, "name": "Home", "count": 1}]
    }


def test_creating_a_product_needs_the_admin_token(client, catalog):
    response = client.post("/api/products", json=NEW_PRODUCT)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert catalog.calls == []


def test_a_wrong_admin_token_is_refused(client, catalog):
    response = client.post("/api/products", json=NEW_PRODUCT, headers={"Authorization": "Bearer guess"})
    assert response.status_code == 401
    assert catalog.calls == []


def test_a_client_that_keeps_guessing_the_token_gets_429_with_retry_after(tmp_path, catalog):
    with frontend_client(tmp_path, catalog, auth_failure_limit=3) as client:
        for _ in range(3):
            assert client.delete("/api/products/1", headers={"Authorization": "Bearer guess"}).status_code == 401
        locked = client.delete("/api/products/1", headers=ADMIN)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "too_many_requests"
    assert 0 < int(locked.headers["retry-after"]) <= 600
    assert 1 in catalog.products


def test_an_admin_creates_a_product_with_a_location_and_an_idempotency_key(client, catalog):
    response = client.post("/api/products", json=NEW_PRODUCT, headers=ADMIN)
    assert response.status_code == 201
    assert response.json()["id"] == 4
    assert response.headers["location"] == "/api/products/4"
    (call,) = catalog.calls_to("POST", "/products")
    assert call.headers["authorization"] == f"Bearer {ADMIN_TOKEN}"
    assert len(call.headers["idempotency-key"]) >= 16
    assert call.body == NEW_PRODUCT


def test_a_callers_idempotency_key_is_forwarded_so_a_retry_writes_once(client, catalog):
    keyed = {**ADMIN, "Idempotency-Key": "lamp-1"}
    first = client.post("/api/products", json=NEW_PRODUCT, headers=keyed)
    again = client.post("/api/products", json=NEW_PRODUCT, headers=keyed)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(catalog.products) == 4
    assert {call.headers["idempotency-key"] for call in catalog.calls_to("POST", "/products")} == {"lamp-1"}


def test_an_invalid_new_product_is_refused_at_the_gateway(client, catalog):
    for bad in ({"price": -1}, {"price": "1,50"}, {"price": 1.234}):
        response = client.post("/api/products", json={**NEW_PRODUCT, **bad}, headers=ADMIN)
        assert response.status_code == 422
        assert response.json()["error"]["details"][0]["field"] == "price"
    assert catalog.calls == []


def test_a_body_that_is_not_json_is_a_400_at_the_gateway(client, catalog):
    response = client.post("/api/products", content=b"{", headers={**ADMIN, "content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert catalog.calls == []


def test_the_catalogs_own_refusals_pass_through(client):
    response = client.post("/api/products", json={**NEW_PRODUCT, "category": "Nope"}, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [{"field": "category", "message": "no category named 'Nope'"}]


def test_a_stale_version_passes_the_catalogs_conflict_through(client):
    response = client.put("/api/products/1", json={"version": 7, "price": 5}, headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_an_update_forwards_only_the_fields_given(client, catalog):
    response = client.put("/api/products/1", json={"price": 49, "version": 1}, headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["price"] == "49.00"
    (call,) = catalog.calls_to("PUT", "/products/1")
    assert call.body == {"price": "49.00", "version": 1}


def test_an_update_cannot_null_a_required_field(client, catalog):
    assert client.put("/api/products/1", json={"name": None}, headers=ADMIN).status_code == 422


def test_an_admin_deletes_a_product(client, catalog):
    response = client.delete("/api/products/2", headers=ADMIN)
    assert response.status_code == 204
    assert response.content == b""
    assert 2 not in catalog.products


def test_deleting_needs_the_admin_token(client, catalog):
    assert client.delete("/api/products/2").status_code == 401
    assert 2 in catalog.products


def test_stock_is_adjusted_by_a_delta_through_the_gateway(client, catalog):
    body = {"delta": -4, "reason": "broken in transit"}
    response = client.post("/api/products/1/stock-adjustments", json=body, headers=ADMIN)
    assert response.status_code == 200 and response.json()["stock"] == 6
    too_many = client.post("/api/products/1/stock-adjustments", json={**body, "delta": -7}, headers=ADMIN)
    assert too_many.status_code == 409


def test_an_admin_manages_categories_through_the_gateway(client, catalog):
    created = client.post("/api/categories", json={"name": "Toys"}, headers=ADMIN)
    assert created.status_code == 201 and created.headers["location"] == f"/api/categories/{created.json()['id']}"
    assert client.post("/api/categories", json={"name": "toys"}, headers=ADMIN).status_code == 409
    toys = created.json()["id"]
    assert client.put(f"/api/categories/{toys}", json={"name": "Games"}, headers=ADMIN).json()["name"] == "Games"
    assert client.get(f"/api/categories/{toys}").json() == {"id": toys, "name": "Games", "count": 0}
    assert client.delete(f"/api/categories/{toys}", headers=ADMIN).status_code == 204
    assert client.post("/api/categories", json={"name": "X"}).status_code == 401


def test_search_parameters_are_forwarded_and_the_answer_passed_through(client, search):
    params = {"q": "phone", "category": "Electronics", "min_price": 10, "max_price": "50.5", "sort": "price_asc"}
    response = client.get("/api/search", params=params)
    assert response.status_code == 200
    assert response.json()["facets"] == {"category": {"Electronics": 1}}
    (call,) = search.calls
    assert call.params == {
        "q": "phone",
        "category": "Electronics",
        "min_price": "10.00",
        "max_price": "50.50",
        "sort": "price_asc",
        "limit": "20",
        "offset": "0",
    }


@pytest.mark.parametrize(
    "params",
    [
        {"min_price": -1},
        {"max_price": "inf"},
        {"min_price": "1,50"},
        {"sort": "newest"},
        {"q": "x" * 201},
        {"q": "a\x07"},
    ],
)
def test_bad_search_parameters_are_refused_without_asking_search(client, search, params):
    assert client.get("/api/search", params=params).status_code == 422
    assert search.calls == []


def test_search_down_answers_503_naming_search(tmp_path, catalog):
    with frontend_client(tmp_path, catalog, search_transport=DownTransport()) as client:
        response = client.get("/api/search", params={"q": "lamp"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "unavailable" and "search" in error["message"]
    assert response.headers["retry-after"]


def test_product_down_answers_503_naming_product(tmp_path, catalog, search):
    with frontend_client(tmp_path, catalog, search=search, product_transport=DownTransport()) as client:
        response = client.get("/api/products")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "unavailable" and "product" in error["message"]


def _crashing_backend() -> AsgiTransport:
    crashing = FastAPI()

    @crashing.get("/products")
    async def fail() -> Response:
        return Response("Internal Server Error", status_code=500)

    return AsgiTransport(crashing)


def test_a_backend_crash_becomes_a_502_json_error(tmp_path, catalog, search):
    with frontend_client(tmp_path, catalog, search=search, product_transport=_crashing_backend()) as client:
        response = client.get("/api/products")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "bad_gateway"


def test_readiness_is_degraded_but_ok_when_search_is_down(tmp_path, catalog):
    with frontend_client(tmp_path, catalog, search_transport=DownTransport()) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["product"] == "ok"


def test_readiness_stays_up_when_the_catalog_is_down_so_shoppers_get_a_friendly_page(tmp_path, catalog, search):
    with frontend_client(tmp_path, catalog, search=search, product_transport=DownTransport()) as client:
        response = client.get("/readyz")
        page = client.get("/")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded" and response.json()["checks"]["database"] == "ok"
    assert page.status_code == 503 and 'data-testid="error-page"' in page.text


def test_responses_are_gzipped_when_asked(client, catalog):
    for number in range(20):
        catalog.add(f"Lamp {number}", category="Home", description="A warm light for reading. " * 3)
    response = client.get("/api/products", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["total"] == 23
    plain = client.get("/api/products", headers={"Accept-Encoding": "identity", "Cache-Control": "no-cache"})
    assert "content-encoding" not in plain.headers
    assert gzip.compress(plain.content)


def test_head_works_wherever_get_does(client):
    for path in ("/api/products", "/api/products/1", "/api/categories", "/", "/products", "/healthz"):
        response = client.head(path)
        assert response.status_code == 200 and response.content == b"", path


def test_the_openapi_documents_the_api_and_not_the_pages(client):
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) >= {"/api/products", "/api/products/{product_id}", "/api/categories", "/api/search"}
    assert not any(path.startswith(("/admin", "/search", "/products")) for path in spec["paths"])
    listing = spec["paths"]["/api/products"]["get"]["responses"]
    assert listing["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ProductPage")
    assert listing["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_the_docs_work_offline_from_assets_the_service_serves(client):
    html = client.get("/docs").text
    assert "cdn." not in html and "https://" not in html.split("<body>")[0]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static-offline-docs/{asset}" in html
        assert client.get(f"/static-offline-docs/{asset}").status_code == 200


def test_metrics_are_not_served_on_the_shoppers_port(client):
    assert client.get("/metrics").status_code == 404
