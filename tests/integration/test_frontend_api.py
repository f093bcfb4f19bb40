"""The JSON API gateway: parameters checked at the gateway, answers passed through, writes for admins only."""

import httpx
import pytest
from fastapi.testclient import TestClient
from frontend_fakes import ADMIN_TOKEN, DownTransport, FakeCatalog, FakeSearch, frontend_client

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NEW_PRODUCT = {"name": "Desk Lamp", "description": "Warm light.", "price": 59.99, "stock": 12, "category": "Home"}


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.add("Desk Lamp", price=59.99, category="Home")
    catalog.add("Headphones", price=199.0, category="Electronics")
    catalog.add("Phone Charger", price=19.5, category="Electronics")
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


def test_list_parameters_are_forwarded(client, catalog):
    client.get("/api/products", params={"category": "Home", "sort": "name", "limit": 5, "offset": 10})
    (call,) = catalog.calls_to("GET", "/products")
    assert call.params == {"category": "Home", "sort": "name", "limit": "5", "offset": "10"}


def test_an_empty_category_filter_is_not_forwarded(client, catalog):
    client.get("/api/products", params={"category": ""})
    (call,) = catalog.calls_to("GET", "/products")
    assert call.params == {"limit": "20", "offset": "0"}


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"sort": "cheapest"}, {"limit": "many"}, {"category": "a\x00b"}],
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
    assert response.json() == {"error": {"code": "not_found", "message": "product 999 not found"}}


@pytest.mark.parametrize("product_id", ["0", "abc", str(2**64)])
def test_impossible_product_ids_are_refused_at_the_gateway(client, catalog, product_id):
    assert client.get(f"/api/products/{product_id}").status_code == 422
    assert catalog.calls == []


def test_categories_are_passed_through(client):
    assert client.get("/api/categories").json() == {
        "items": [{"name": "Electronics", "count": 2}, {"name": "Home", "count": 1}]
    }


def test_creating_a_product_needs_the_admin_token(client, catalog):
    response = client.post("/api/products", json=NEW_PRODUCT)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert catalog.calls == []


def test_a_wrong_admin_token_is_refused(client, catalog):
    response = client.post("/api/products", json=NEW_PRODUCT, headers={"Authorization": "Bearer guess"})
    assert response.status_code == 401
    assert catalog.calls == []


def test_an_admin_creates_a_product_and_the_token_is_forwarded(client, catalog):
    response = client.post("/api/products", json=NEW_PRODUCT, headers=ADMIN)
    assert response.status_code == 201
    assert response.json()["id"] == 4
    (call,) = catalog.calls_to("POST", "/products")
    assert call.headers["authorization"] == f"Bearer {ADMIN_TOKEN}"
    assert call.body == NEW_PRODUCT


def test_an_invalid_new_product_is_refused_at_the_gateway(client, catalog):
    response = client.post("/api/products", json={**NEW_PRODUCT, "price": -1}, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "price"
    assert catalog.calls == []


def test_the_catalogs_own_validation_errors_pass_through(client):
    response = client.post("/api/products", json={**NEW_PRODUCT, "name": "   "}, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"field": "name", "message": "String should have at least 1 character"}
    ]


def test_a_stale_version_passes_the_catalogs_conflict_through(client):
    response = client.put("/api/products/1", json={"version": 7, "price": 5}, headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_an_update_forwards_only_the_fields_given(client, catalog):
    response = client.put("/api/products/1", json={"price": 49.0, "version": 1}, headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["price"] == 49.0
    (call,) = catalog.calls_to("PUT", "/products/1")
    assert call.body == {"price": 49.0, "version": 1}


def test_an_update_cannot_null_a_required_field(client, catalog):
    assert client.put("/api/products/1", json={"name": None}, headers=ADMIN).status_code == 422
    assert catalog.calls == []


def test_an_admin_deletes_a_product(client, catalog):
    response = client.delete("/api/products/2", headers=ADMIN)
    assert response.status_code == 204
    assert response.content == b""
    assert 2 not in catalog.products


def test_deleting_needs_the_admin_token(client, catalog):
    assert client.delete("/api/products/2").status_code == 401
    assert 2 in catalog.products


def test_search_parameters_are_forwarded_and_the_answer_passed_through(client, search):
    params = {"q": "phone", "category": "Electronics", "min_price": 10, "max_price": 50, "sort": "price_asc"}
    response = client.get("/api/search", params=params)
    assert response.status_code == 200
    assert response.json()["facets"] == {"category": {"Electronics": 1}}
    (call,) = search.calls
    assert call.params == {
        "q": "phone",
        "category": "Electronics",
        "min_price": "10.0",
        "max_price": "50.0",
        "sort": "price_asc",
        "limit": "20",
        "offset": "0",
    }


@pytest.mark.parametrize("params", [{"min_price": -1}, {"max_price": "inf"}, {"sort": "newest"}, {"q": "x" * 201}])
def test_bad_search_parameters_are_refused_without_asking_search(client, search, params):
    assert client.get("/api/search", params=params).status_code == 422
    assert search.calls == []


def test_search_down_answers_503_search_unavailable(tmp_path, catalog):
    with frontend_client(tmp_path, catalog, search_transport=DownTransport()) as client:
        response = client.get("/api/search", params={"q": "lamp"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "search_unavailable"


def test_product_down_answers_503_product_unavailable(tmp_path, catalog, search):
    with frontend_client(tmp_path, catalog, search=search, product_transport=DownTransport()) as client:
        response = client.get("/api/products")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "product_unavailable"


def test_a_backend_crash_becomes_a_502_json_error(tmp_path, catalog, search):
    crashing = httpx.MockTransport(lambda request: httpx.Response(500, text="Internal Server Error"))
    with frontend_client(tmp_path, catalog, search=search, product_transport=crashing) as client:
        response = client.get("/api/products")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "bad_gateway"


def test_readiness_is_degraded_but_ok_when_search_is_down(tmp_path, catalog):
    with frontend_client(tmp_path, catalog, search_transport=DownTransport()) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["product"] == "ok"


def test_readiness_fails_when_the_catalog_is_down(tmp_path, catalog, search):
    with frontend_client(tmp_path, catalog, search=search, product_transport=DownTransport()) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"


def test_the_openapi_documents_the_api_and_not_the_pages(client):
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) >= {"/api/products", "/api/products/{product_id}", "/api/categories", "/api/search"}
    assert not any(path.startswith(("/admin", "/search", "/products")) for path in spec["paths"])
    listing = spec["paths"]["/api/products"]["get"]["responses"]
    assert listing["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ProductPage")
    assert listing["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
