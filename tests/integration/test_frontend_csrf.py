"""Every state-changing route, found by walking the app's routes, refuses a request a forged page could make.

Forms need the session's CSRF token. The admin's JSON API takes no cookie as a credential at all; the shopper's
(accounts, cart, checkout) does take the session cookie, so each of its writes refuses a request from another
site's page. A new route cannot slip through: it is found and tested here without anyone listing it, and a new
cookie-borne one must be added to SHOPPER_API_WRITES on purpose.
"""

import re

import pytest
from frontend_fakes import FakeCatalog, FakeSearch, frontend_client

from mce.kit.errors import flat_routes

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# The JSON API writes that act for the session's shopper, by its cookie.
SHOPPER_API_WRITES = {
    ("POST", "/api/accounts"),
    ("POST", "/api/session"),
    ("DELETE", "/api/session"),
    ("POST", "/api/cart/items"),
    ("PATCH", "/api/cart/items/1"),
    ("DELETE", "/api/cart/items/1"),
    ("DELETE", "/api/cart"),
    ("POST", "/api/orders"),
}


def csrf_in(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.add("Mug", category="Home")
    catalog.add_category("Empty")
    return catalog


@pytest.fixture
def admin(tmp_path, catalog):
    with frontend_client(tmp_path, catalog, search=FakeSearch(catalog)) as client:
        csrf = csrf_in(client.get("/admin/login").text)
        from frontend_fakes import ADMIN_TOKEN

        signed_in = client.post("/admin/login", data={"csrf_token": csrf, "token": ADMIN_TOKEN}, follow_redirects=False)
        assert signed_in.status_code == 303
        yield client


def _state_changing_routes(app, *, api: bool) -> list[tuple[str, str]]:
    found = []
    for path, methods, _route in flat_routes(app.routes):
        if path.startswith("/api") == api:
            for method in sorted(methods & WRITES):
                found.append(
                    (method, path.replace("{product_id}", "1").replace("{category_id}", "2").replace("{order_id}", "3"))
                )
    return found


def test_the_walk_finds_every_kind_of_form_route(admin):
    paths = {path for _, path in _state_changing_routes(admin.app, api=False)}
    assert {"/admin/login", "/admin/logout", "/admin/products/new", "/admin/products/1/edit"} <= paths
    assert {"/admin/products/1/delete", "/admin/products/1/stock", "/admin/categories/new"} <= paths


def test_every_form_route_refuses_a_post_without_the_csrf_token(admin, catalog):
    before = {name: dict(product) for name, product in catalog.products.items()}
    categories = dict(catalog.categories)
    for method, path in _state_changing_routes(admin.app, api=False):
        forged = {"name": "Forged", "price": "1", "stock": "1", "category": "Home", "delta": "5", "reason": "x"}
        for data in (forged, {**forged, "csrf_token": "not-the-token"}):
            response = admin.request(method, path, data=data, follow_redirects=False)
            assert response.status_code == 403, (method, path, response.status_code)
    writes = [call for call in catalog.calls if call.method in WRITES]
    assert writes == [], writes
    assert catalog.products == before and catalog.categories == categories
    assert admin.get("/admin", follow_redirects=False).status_code == 200


def test_no_admin_api_write_accepts_a_session_cookie_as_credentials(admin, catalog):
    for method, path in _state_changing_routes(admin.app, api=True):
        if (method, path) in SHOPPER_API_WRITES:
            continue
        response = admin.request(method, path, json={"name": "Forged"})
        assert response.status_code == 401, (method, path, response.status_code)
    assert [call for call in catalog.calls if call.method in WRITES] == []


def test_no_shopper_api_write_is_taken_from_another_sites_page(admin):
    assert set(_state_changing_routes(admin.app, api=True)) >= SHOPPER_API_WRITES
    body = {"email": "a@example.com", "password": "a long password", "name": "A"}
    for method, path in SHOPPER_API_WRITES:
        response = admin.request(method, path, json=body, headers={"Origin": "https://elsewhere.example"})
        assert response.status_code == 403, (method, path, response.status_code)
    # Not even a sign-out went through: the session is the admin's still.
    assert admin.get("/admin", follow_redirects=False).status_code == 200
    # A cross-site page can post a form without a preflight, but these take only JSON.
    for method, path in SHOPPER_API_WRITES:
        if method in ("POST", "PATCH"):
            form = admin.request(method, path, data=body)
            assert form.status_code == 400, (method, path, form.status_code)
    assert admin.get("/admin", follow_redirects=False).status_code == 200
