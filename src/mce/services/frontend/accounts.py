"""Shoppers' accounts: sign up, sign in and out, on server-side sessions; passwords kept only as Argon2id hashes.

A wrong email and a wrong password get the same answer after the same work (a hash is checked either way), so
neither the message nor the time tells whether an address has an account. Failed sign-ins count against the client
in the same limiter as the admin's, so guessing is refused with 429 after a few tries.
"""

from __future__ import annotations

import logging
import secrets
import threading
import unicodedata
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from mce.kit.auth import client_address
from mce.kit.contracts import single_line
from mce.kit.errors import DomainError, Unauthorized
from mce.services.frontend.sessions import CSRF, SHOPPER_ID
from mce.services.frontend.store.port import Account, AccountStore

log = logging.getLogger(__name__)

ACCOUNT = "account"
PASSWORD_MIN = 10
PASSWORD_MAX = 128
# OWASP's Argon2id minimum (19 MiB, 2 passes, 1 lane): about 20 ms here. The library's default (64 MiB, 3 passes,
# 4 lanes) took 126 ms of a two-core machine per sign-in, which turns a login form into a denial of service.
HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# Each hash holds its memory while it runs: a burst of sign-ins waits for a turn instead of exhausting RAM.
HASHING_AT_ONCE = threading.BoundedSemaphore(4)
LOGIN_FAILED = "the email or the password is wrong"


def email_key(email: str) -> str:
    """The form an email is unique and looked up in: Unicode-normalised, case-folded."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


def _valid_email(value: str) -> str:
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if not at or not local or len(local) > 64 or "." not in domain.strip(".") or any(c.isspace() for c in value):
        raise ValueError("must be an email address like name@example.com")
    return value


def _valid_password(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be only spaces")
    return value


Email = Annotated[str, StringConstraints(min_length=3, max_length=254), AfterValidator(_valid_email)]
Password = Annotated[
    str, StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX), AfterValidator(_valid_password)
]


class SignUp(BaseModel):
    """A new account: email, a password of 10 to 128 characters, and the name to greet the shopper by."""

    model_config = ConfigDict(extra="forbid", strict=True)

    email: Email
    password: Password
    name: Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(single_line)]


class SignIn(BaseModel):
    """Credentials to sign in with."""

    model_config = ConfigDict(extra="forbid", strict=True)

    email: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX)]


class AccountRead(BaseModel):
    """An account as the shopper sees it."""

    id: int
    email: str
    name: str
    created_at: datetime


def account_read(account: Account) -> dict[str, Any]:
    """The account's public fields, as JSON."""
    return AccountRead(id=account.id, email=account.email, name=account.name, created_at=account.created_at).model_dump(
        mode="json"
    )


def _hash(password: str) -> str:
    """The password's Argon2id hash (blocking: run it in a worker thread)."""
    with HASHING_AT_ONCE:
        return HASHER.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    """Whether the password is the one hashed (blocking: run it in a worker thread)."""
    with HASHING_AT_ONCE:
        try:
            return HASHER.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


@cache
def _dummy_hash() -> str:
    """Checked when the email has no account, so that case costs what a wrong password does."""
    return HASHER.hash(secrets.token_urlsafe(16))


async def register(store: AccountStore, form: SignUp) -> Account:
    """Make the account; Conflict when the email has one already."""
    password_hash = await run_in_threadpool(_hash, form.password)
    return await run_in_threadpool(
        lambda: store.create(
            email=form.email,
            email_key=email_key(form.email),
            name=form.name,
            password_hash=password_hash,
            now=datetime.now(UTC),
        )
    )


async def authenticate(request: Request, store: AccountStore, form: SignIn) -> Account:
    """The account these credentials open; Unauthorized (the same for any mistake), 429 for a client that guesses."""
    state = request.app.state
    client = client_address(request)
    await state.read(state.limiter.check, client)
    account = await run_in_threadpool(store.find, email_key(form.email))
    stored_hash = account.password_hash if account else None
    right = await run_in_threadpool(lambda: _verify(stored_hash or _dummy_hash(), form.password))
    if account is None or not right:
        await run_in_threadpool(state.limiter.failed, client)
        raise Unauthorized(LOGIN_FAILED)
    if HASHER.check_needs_rehash(account.password_hash):
        await run_in_threadpool(store.set_password_hash, account.id, await run_in_threadpool(_hash, form.password))
    return account


async def sign_in_shopper(request: Request, account: Account) -> None:
    """Mark the session as the account's, under a new token; the visitor's cart and orders move to the account."""
    session = request.session
    session.renew()
    session[ACCOUNT] = {"id": account.id, "name": account.name}
    session[CSRF] = secrets.token_urlsafe(24)
    visitor = session.pop(SHOPPER_ID, None)
    if visitor is not None and not await _move_to_account(request, f"guest-{visitor}", f"account-{account.id}"):
        # Signing in must not fail for it: the visitor's id stays, and the next sign-in moves what is left (both
        # moves are idempotent).
        session[SHOPPER_ID] = visitor
        log.warning("could not move a visitor's cart or orders to account %d; will try at the next sign-in", account.id)


async def _move_to_account(request: Request, guest: str, owner: str) -> bool:
    """Fold the guest's cart into the account's and hand the guest's orders to it; whether both were done."""
    backends = request.app.state.backends
    staff = {"authorization": f"Bearer {request.app.state.secrets.admin_token}"}
    try:
        cart = await backends.cart.request("POST", f"/carts/{owner}/merge", json={"from_cart_id": guest})
        orders = await backends.order.request(
            "POST", "/orders/claim", json={"from_owner": guest, "to_owner": owner}, headers=staff
        )
    except DomainError:
        return False
    return cart.status == 200 and orders.status == 200


async def current_account(request: Request, store: AccountStore) -> Account | None:
    """The signed-in shopper's account; None for a visitor, or when the account is gone."""
    marked = request.session.get(ACCOUNT)
    if not isinstance(marked, dict) or not isinstance(marked.get("id"), int):
        return None
    account = await request.app.state.read(store.get, marked["id"])
    if account is None:
        request.session.pop(ACCOUNT, None)
    return account
