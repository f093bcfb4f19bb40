"""Shoppers' accounts through the gateway's JSON API: sign up, sign in, who am I, sign out."""

from __future__ import annotations

import re
import threading

import pytest
from frontend_fakes import FakeCatalog, frontend_client

from mce.services.frontend.accounts import HASHER

SHOPPER = {"email": "Ada@Example.com", "password": "correct horse battery", "name": "Ada"}


@pytest.fixture
def catalog() -> FakeCatalog:
    return FakeCatalog()


def test_a_new_shopper_signs_up_and_is_signed_in(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog) as client:
        made = client.post("/api/accounts", json=SHOPPER)
        me = client.get("/api/me")
    assert made.status_code == 201 and made.headers["location"] == "/api/me"
    assert made.json()["email"] == "Ada@Example.com" and "password" not in made.text and "hash" not in made.text
    assert me.status_code == 200 and me.json()["name"] == "Ada"


def test_the_password_is_stored_only_as_an_argon2id_hash(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog) as client:
        client.post("/api/accounts", json=SHOPPER)
        stored = client.app.state.accounts.find("ada@example.com")
    assert stored.password_hash.startswith("$argon2id$") and SHOPPER["password"] not in stored.password_hash
    assert HASHER.verify(stored.password_hash, SHOPPER["password"])


def test_an_email_has_one_account_whatever_its_case(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog) as client:
        client.post("/api/accounts", json=SHOPPER)
        again = client.post("/api/accounts", json={**SHOPPER, "email": " ADA@example.COM "})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_two_sign_ups_racing_for_one_email_make_one_account(tmp_path, catalog) -> None:
    results: list[int] = []
    with frontend_client(tmp_path, catalog) as client:

        def sign_up() -> None:
            results.append(client.post("/api/accounts", json=SHOPPER).status_code)

        threads = [threading.Thread(target=sign_up) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(results) == [201, 409, 409, 409, 409, 409]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a b@example.com"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": " " * 12}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"name": "Ada\x00"}, "name"),
        ({"name": "   "}, "name"),
        ({"name": ""}, "name"),
        ({"password": 1234567890123}, "password"),
        ({"admin": True}, "admin"),
    ],
)
def test_a_sign_up_with_a_bad_field_is_refused_naming_it(tmp_path, catalog, change, field) -> None:
    with frontend_client(tmp_path, catalog) as client:
        refused = client.post("/api/accounts", json={**SHOPPER, **change})
        assert client.get("/api/me").status_code == 401
    assert refused.status_code == 422
    assert field in [detail["field"] for detail in refused.json()["error"]["details"]]


def test_a_shopper_signs_out_and_back_in_and_the_old_cookie_opens_nothing(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog) as client:
        client.post("/api/accounts", json=SHOPPER)
        saved_cookie = client.cookies.get("mce_session")
        assert client.delete("/api/session").status_code == 204
        assert client.get("/api/me").status_code == 401
        client.cookies.set("mce_session", saved_cookie)
        assert client.get("/api/me").status_code == 401
        client.cookies.clear()
        back = client.post("/api/session", json={"email": "ada@EXAMPLE.com", "password": SHOPPER["password"]})
        assert back.status_code == 200 and back.json()["name"] == "Ada"
        assert client.cookies.get("mce_session") not in (None, saved_cookie)
        assert client.get("/api/me").json()["email"] == "Ada@Example.com"


def test_signing_in_gives_the_session_a_new_token_against_fixation(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog) as client:
        client.post("/api/accounts", json=SHOPPER)
        client.delete("/api/session")
        client.get("/admin/login")  # a visitor's session, as a planted cookie would be
        planted = client.cookies.get("mce_session")
        client.post("/api/session", json={"email": SHOPPER["email"], "password": SHOPPER["password"]})
        assert client.cookies.get("mce_session") != planted
        client.cookies.set("mce_session", planted)
        assert client.get("/api/me").status_code == 401


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog) as client:
        client.post("/api/accounts", json=SHOPPER)
        client.delete("/api/session")
        wrong = client.post("/api/session", json={"email": SHOPPER["email"], "password": "not the password"})
        unknown = client.post("/api/session", json={"email": "nobody@example.com", "password": "not the password"})
        assert client.get("/api/me").status_code == 401
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "www-authenticate" in wrong.headers


def test_a_client_that_keeps_guessing_passwords_gets_429(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog, auth_failure_limit=3) as client:
        client.post("/api/accounts", json=SHOPPER)
        client.delete("/api/session")
        guesses = [
            client.post("/api/session", json={"email": SHOPPER["email"], "password": f"guess number {n}"}).status_code
            for n in range(3)
        ]
        locked = client.post("/api/session", json={"email": SHOPPER["email"], "password": SHOPPER["password"]})
    assert guesses == [401, 401, 401]
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://testserver.evil.example"])
def test_no_account_call_is_taken_from_another_sites_page(tmp_path, catalog, origin) -> None:
    with frontend_client(tmp_path, catalog) as client:
        forged = client.post("/api/accounts", json=SHOPPER, headers={"Origin": origin})
        assert forged.status_code == 403
        client.post("/api/accounts", json=SHOPPER, headers={"Origin": "http://testserver"})
        assert client.delete("/api/session", headers={"Origin": origin}).status_code == 403
        assert client.get("/api/me").status_code == 200


def test_a_sign_up_sent_as_a_form_is_refused(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog) as client:
        refused = client.post("/api/accounts", data=SHOPPER)
        assert client.get("/api/me").status_code == 401
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "malformed_json"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_a_shopper_signs_up_on_the_page_is_greeted_and_signs_out(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog) as client:
        assert 'data-testid="sign-in-link"' in client.get("/account/signup").text
        form = {**SHOPPER, "csrf_token": _csrf(client.get("/account/signup").text), "next": "/account"}
        made = client.post("/account/signup", data=form, follow_redirects=False)
        assert made.status_code == 303 and made.headers["location"] == "/account"
        page = client.get("/account")
        assert "Hi, Ada" in page.text and 'data-testid="account-email">Ada@Example.com<' in page.text
        out = client.post("/account/logout", data={"csrf_token": _csrf(page.text)}, follow_redirects=False)
        assert out.status_code == 303
        assert client.get("/account", follow_redirects=False).headers["location"].startswith("/account/login")


def test_the_sign_up_page_says_what_to_fix_and_keeps_what_was_typed(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog) as client:
        csrf = _csrf(client.get("/account/signup").text)
        bad = {"email": "ada-at-example", "password": "short", "name": "Ada", "csrf_token": csrf}
        page = client.post("/account/signup", data=bad)
        assert client.get("/api/me").status_code == 401
    assert page.status_code == 422
    assert 'data-testid="error-email"' in page.text and 'data-testid="error-password"' in page.text
    assert 'value="ada-at-example"' in page.text and "short" not in page.text.split("signup-form")[1]


def test_the_sign_in_page_answers_a_wrong_password_without_saying_which_part_was_wrong(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog) as client:
        client.post("/api/accounts", json=SHOPPER)
        client.delete("/api/session")
        csrf = _csrf(client.get("/account/login").text)
        wrong = client.post(
            "/account/login", data={"email": SHOPPER["email"], "password": "nope nope nope", "csrf_token": csrf}
        )
        unknown = client.post(
            "/account/login", data={"email": "x@example.com", "password": "nope nope nope", "csrf_token": csrf}
        )
        right = client.post(
            "/account/login",
            data={
                "email": SHOPPER["email"],
                "password": SHOPPER["password"],
                "csrf_token": csrf,
                "next": "//evil.example",
            },
            follow_redirects=False,
        )
    assert wrong.status_code == unknown.status_code == 401
    assert "The email or the password is wrong." in wrong.text and "The email or the password is wrong." in unknown.text
    assert right.status_code == 303 and right.headers["location"] == "/"
