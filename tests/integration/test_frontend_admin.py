"""The admin pages: token login, CSRF-checked forms, and the catalog calls they make on the admin's behalf."""

import dataclasses
import re

import pytest
from frontend_fakes import ADMIN_TOKEN, FakeCatalog, FakeSearch, frontend_client

PRODUCT_FORM = {"name": "Desk Lamp", "description": "Warm light.", "price": "59.99", "stock": "12", "category": "Home"}


def csrf_in(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def log_in(client, token: str = ADMIN_TOKEN, next_path: str = "/admin"):
    csrf = csrf_in(client.get("/admin/login").text)
    return client.post(
        "/admin/login", data={"csrf_token": csrf, "token": token, "next": next_path}, follow_redirects=False
    )


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.add("Mug", price="8.50", stock=40, category="Home")
    return catalog


@pytest.fixture
def client(tmp_path, catalog):
    with frontend_client(tmp_path, catalog, search=FakeSearch(catalog)) as client:
        yield client


@pytest.fixture
def admin(client):
    assert log_in(client).status_code == 303
    return client


@pytest.mark.parametrize(
    "path", ["/admin", "/admin/products/new", "/admin/products/1/edit", "/admin/products/1/delete"]
)
def test_admin_pages_send_visitors_to_the_login_page(client, path):
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/login?next={path.replace('/', '%2F')}"


def test_admin_forms_cannot_be_posted_without_logging_in(client, catalog):
    response = client.post("/admin/products/1/delete", data={"csrf_token": "x"}, follow_redirects=False)
    assert response.status_code == 303
    assert catalog.calls_to("DELETE", "/products/1") == []


def test_a_wrong_token_does_not_log_in(client):
    response = log_in(client, token="guess")
    assert response.status_code == 401
    assert "That token is not right." in response.text
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_login_without_the_csrf_token_is_forbidden(client):
    client.get("/admin/login")
    response = client.post("/admin/login", data={"token": ADMIN_TOKEN})
    assert response.status_code == 403
    assert 'data-testid="error-page"' in response.text


def test_the_right_token_logs_in_and_returns_where_the_admin_was_going(client):
    response = log_in(client, next_path="/admin/products/new")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/products/new"


def test_login_never_redirects_off_the_site(client):
    assert log_in(client, next_path="https://evil.example/").headers["location"] == "/admin"


def test_the_admin_sees_the_product_table(admin):
    html = admin.get("/admin").text
    assert "Signed in." in html
    assert html.count('data-testid="admin-product-row"') == 1
    assert 'href="/admin/products/1/edit"' in html


def test_the_product_table_is_paginated(tmp_path):
    catalog = FakeCatalog()
    for number in range(30):
        catalog.add(f"Item {number}")
    with frontend_client(tmp_path, catalog) as client:
        log_in(client)
        first, second = client.get("/admin").text, client.get("/admin", params={"page": 2}).text
    assert first.count('data-testid="admin-product-row"') == 25
    assert 'href="/admin?page=2"' in first
    assert second.count('data-testid="admin-product-row"') == 5


def test_creating_a_product_posts_it_with_the_admin_token(admin, catalog):
    csrf = csrf_in(admin.get("/admin/products/new").text)
    response = admin.post("/admin/products/new", data={**PRODUCT_FORM, "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin"
    (call,) = catalog.calls_to("POST", "/products")
    assert call.headers["authorization"] == f"Bearer {ADMIN_TOKEN}"
    assert call.body == {
        "name": "Desk Lamp",
        "description": "Warm light.",
        "price": "59.99",
        "stock": 12,
        "category": "Home",
    }
    assert "Product saved: Desk Lamp." in admin.get("/admin").text


def test_the_catalogs_validation_errors_show_next_to_the_fields_with_the_input_kept(admin):
    csrf = csrf_in(admin.get("/admin/products/new").text)
    response = admin.post("/admin/products/new", data={**PRODUCT_FORM, "name": " ", "csrf_token": csrf})
    assert response.status_code == 422
    assert 'data-testid="error-name">String should have at least 1 character<' in response.text
    assert 'name="price" type="text" value="59.99"' in response.text
    assert "Warm light.</textarea>" in response.text


def test_a_price_that_is_not_a_number_is_caught_before_the_catalog(admin, catalog):
    csrf = csrf_in(admin.get("/admin/products/new").text)
    response = admin.post("/admin/products/new", data={**PRODUCT_FORM, "price": "cheap", "csrf_token": csrf})
    assert response.status_code == 422
    assert 'data-testid="error-price"' in response.text
    assert catalog.calls_to("POST", "/products") == []


def test_creating_without_the_csrf_token_is_forbidden(admin, catalog):
    response = admin.post("/admin/products/new", data=PRODUCT_FORM)
    assert response.status_code == 403
    assert catalog.calls_to("POST", "/products") == []


def test_a_csrf_token_from_another_session_is_forbidden(admin, catalog, tmp_path):
    with frontend_client(tmp_path, catalog) as other:
        foreign = csrf_in(other.get("/admin/login").text)
    response = admin.post("/admin/products/new", data={**PRODUCT_FORM, "csrf_token": foreign})
    assert response.status_code == 403


def test_the_edit_form_is_filled_and_carries_the_version(admin):
    html = admin.get("/admin/products/1/edit").text
    assert 'name="name" type="text" value="Mug"' in html
    assert 'name="price" type="text" value="8.50"' in html
    assert '<input type="hidden" name="version" value="1">' in html


def test_editing_puts_the_changes_with_the_version(admin, catalog):
    csrf = csrf_in(admin.get("/admin/products/1/edit").text)
    form = {**PRODUCT_FORM, "name": "Big Mug", "version": "1", "csrf_token": csrf}
    response = admin.post("/admin/products/1/edit", data=form, follow_redirects=False)
    assert response.status_code == 303
    (call,) = catalog.calls_to("PUT", "/products/1")
    assert call.headers["authorization"] == f"Bearer {ADMIN_TOKEN}"
    assert call.body["version"] == 1
    assert call.body["name"] == "Big Mug"
    assert catalog.products[1]["version"] == 2


def test_editing_a_product_someone_else_changed_says_so_and_keeps_the_input(admin, catalog):
    csrf = csrf_in(admin.get("/admin/products/1/edit").text)
    catalog.products[1]["version"] = 2
    form = {**PRODUCT_FORM, "name": "My Mug", "version": "1", "csrf_token": csrf}
    response = admin.post("/admin/products/1/edit", data=form)
    assert response.status_code == 409
    assert 'data-testid="conflict"' in response.text
    assert "changed by someone else" in response.text
    assert 'value="My Mug"' in response.text
    assert catalog.products[1]["name"] == "Mug"


def test_deleting_asks_first(admin):
    html = admin.get("/admin/products/1/delete").text
    assert "Delete &ldquo;Mug&rdquo;?" in html
    assert 'action="/admin/products/1/delete"' in html


def test_deleting_calls_the_catalog_and_says_so(admin, catalog):
    csrf = csrf_in(admin.get("/admin/products/1/delete").text)
    response = admin.post("/admin/products/1/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    (call,) = catalog.calls_to("DELETE", "/products/1")
    assert call.headers["authorization"] == f"Bearer {ADMIN_TOKEN}"
    assert 1 not in catalog.products
    assert "Product 1 deleted." in admin.get("/admin").text


def test_deleting_without_the_csrf_token_is_forbidden(admin, catalog):
    assert admin.post("/admin/products/1/delete").status_code == 403
    assert 1 in catalog.products


def test_logging_out_ends_the_admin_session(admin):
    csrf = csrf_in(admin.get("/admin").text)
    response = admin.post("/admin/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.headers["location"] == "/"
    assert admin.get("/admin", follow_redirects=False).status_code == 303


def test_rotating_the_admin_token_ends_existing_admin_sessions(admin):
    assert admin.get("/admin", follow_redirects=False).status_code == 200
    admin.app.state.secrets = dataclasses.replace(admin.app.state.secrets, admin_token="rotated")
    assert admin.get("/admin", follow_redirects=False).status_code == 303


def test_a_price_written_with_a_decimal_comma_is_refused_with_a_message(admin, catalog):
    csrf = csrf_in(admin.get("/admin/products/new").text)
    response = admin.post("/admin/products/new", data={**PRODUCT_FORM, "price": "1,50", "csrf_token": csrf})
    assert response.status_code == 422
    assert "Use a dot for cents" in response.text
    assert catalog.calls_to("POST", "/products") == []


def test_a_price_with_thousands_separators_and_a_dollar_sign_is_read_exactly(admin, catalog):
    csrf = csrf_in(admin.get("/admin/products/new").text)
    admin.post("/admin/products/new", data={**PRODUCT_FORM, "price": "$1,299.50", "csrf_token": csrf})
    (call,) = catalog.calls_to("POST", "/products")
    assert call.body["price"] == "1299.50"


def test_a_form_submitted_twice_creates_one_product(admin, catalog):
    html = admin.get("/admin/products/new").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    form = {**PRODUCT_FORM, "csrf_token": csrf_in(html), "idempotency_key": key}
    admin.post("/admin/products/new", data=form, follow_redirects=False)
    admin.post("/admin/products/new", data=form, follow_redirects=False)
    assert [p["name"] for p in catalog.products.values()].count("Desk Lamp") == 1
    assert {c.headers["idempotency-key"] for c in catalog.calls_to("POST", "/products")} == {key}


@pytest.mark.parametrize("key", ["a\r\nX-Injected: 1", "x" * 201, "ключ"])
def test_a_tampered_form_key_is_refused_before_it_reaches_the_catalog(admin, catalog, key):
    csrf = csrf_in(admin.get("/admin/products/new").text)
    response = admin.post("/admin/products/new", data={**PRODUCT_FORM, "csrf_token": csrf, "idempotency_key": key})
    assert response.status_code == 400
    assert "We couldn" in response.text
    assert catalog.calls_to("POST", "/products") == []


def test_the_product_form_offers_only_managed_categories(admin, catalog):
    catalog.add_category("Garden")
    html = admin.get("/admin/products/new").text
    assert re.findall(r'<option value="([^"]*)"', html) == ["", "Garden", "Home"]


def test_stock_is_adjusted_by_a_delta_with_a_reason(admin, catalog):
    csrf = csrf_in(admin.get("/admin/products/1/edit").text)
    response = admin.post("/admin/products/1/stock", data={"csrf_token": csrf, "delta": "-5", "reason": "Broken"})
    assert "Stock is now 35." in response.text
    assert catalog.products[1]["stock"] == 35
    refused = admin.post("/admin/products/1/stock", data={"csrf_token": csrf, "delta": "-99", "reason": "Lost"})
    assert "Only 35 of product 1 in stock" in refused.text
    assert catalog.products[1]["stock"] == 35


def test_an_admin_adds_renames_and_deletes_categories(admin, catalog):
    html = admin.get("/admin/categories").text
    assert 'data-testid="admin-category-row"' in html
    csrf = csrf_in(html)
    admin.post("/admin/categories/new", data={"csrf_token": csrf, "name": "Garden"})
    assert "Garden" in catalog.categories.values()
    duplicate = admin.post("/admin/categories/new", data={"csrf_token": csrf, "name": "garden"})
    assert "already exists" in duplicate.text
    garden = next(i for i, name in catalog.categories.items() if name == "Garden")
    admin.post(f"/admin/categories/{garden}/rename", data={"csrf_token": csrf, "name": "Yard"})
    assert catalog.categories[garden] == "Yard"
    admin.post(f"/admin/categories/{garden}/delete", data={"csrf_token": csrf})
    assert garden not in catalog.categories
    home = next(i for i, name in catalog.categories.items() if name == "Home")
    refused = admin.post(f"/admin/categories/{home}/delete", data={"csrf_token": csrf})
    assert "still holds 1 product;" in refused.text and home in catalog.categories


def test_a_cookie_saved_before_signing_out_is_refused_afterwards(admin, catalog):
    saved = admin.cookies.get("mce_session")
    csrf = csrf_in(admin.get("/admin").text)
    admin.post("/admin/logout", data={"csrf_token": csrf}, follow_redirects=False)
    admin.cookies.clear()
    admin.cookies.set("mce_session", saved)
    assert admin.get("/admin", follow_redirects=False).status_code == 303
    replayed = admin.post("/admin/products/1/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert replayed.status_code in (303, 403)
    assert 1 in catalog.products


def test_signing_in_gives_the_session_a_new_token(client):
    before = client.get("/admin/login")
    anonymous = before.cookies.get("mce_session")
    assert anonymous
    log_in(client)
    assert client.cookies.get("mce_session") != anonymous


def test_the_session_cookie_is_http_only_and_same_site(client):
    cookie = client.get("/admin/login").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=" in cookie


def test_an_admin_sign_in_lapses_when_unused(admin, monkeypatch):
    import mce.services.frontend.sessions as sessions

    real_time = sessions.time.time
    assert admin.get("/admin", follow_redirects=False).status_code == 200
    monkeypatch.setattr(sessions.time, "time", lambda: real_time() + 31 * 60)
    assert admin.get("/admin", follow_redirects=False).status_code == 303


def test_a_session_ends_when_unused_for_its_idle_time(tmp_path, catalog):
    from datetime import timedelta

    import mce.services.frontend.sessions as sessions

    with frontend_client(tmp_path, catalog, session_idle_s=120) as client:
        log_in(client)
        assert client.get("/admin", follow_redirects=False).status_code == 200
        real_now = sessions.datetime.now

        class Later:
            @staticmethod
            def now(tz=None):
                return real_now(tz) + timedelta(seconds=121)

        sessions.datetime, saved = Later, sessions.datetime
        try:
            assert client.get("/admin", follow_redirects=False).status_code == 303
        finally:
            sessions.datetime = saved


def test_repeated_wrong_tokens_at_the_login_form_get_429_with_retry_after(tmp_path, catalog):
    with frontend_client(tmp_path, catalog, auth_failure_limit=3) as client:
        for _ in range(3):
            assert log_in(client, token="guess").status_code == 401
        locked = log_in(client)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "Too many wrong tokens" in locked.text


def test_a_request_racing_the_sign_out_cannot_bring_the_session_back(admin, catalog):
    from mce.services.frontend import sessions

    store = admin.app.state.session_runtime.store
    original_load = store.load
    saved_cookie = admin.cookies.get("mce_session")
    csrf = csrf_in(admin.get("/admin").text)

    def load_then_sign_out_elsewhere(key_hash):
        loaded = original_load(key_hash)
        store.delete(key_hash)  # the sign-out lands while this request is still being served
        return loaded

    store.load = load_then_sign_out_elsewhere
    try:
        sessions.TOUCH_EVERY, saved_touch = sessions.timedelta(0), sessions.TOUCH_EVERY
        raced = admin.get("/admin", follow_redirects=False)
    finally:
        store.load = original_load
        sessions.TOUCH_EVERY = saved_touch
    assert "max-age=0" in raced.headers.get("set-cookie", "").lower()
    admin.cookies.clear()
    admin.cookies.set("mce_session", saved_cookie)
    assert admin.get("/admin", follow_redirects=False).status_code == 303
    assert admin.post("/admin/products/1/delete", data={"csrf_token": csrf}, follow_redirects=False).status_code in (
        303,
        403,
    )
    assert 1 in catalog.products
