"""The shopper's account pages: sign up, sign in, the account, sign out; forms with CSRF tokens and clear messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError

from mce.kit.errors import Conflict, TooManyRequests, Unauthorized
from mce.services.frontend import accounts, sessions, views
from mce.services.frontend.account_api import Accounts
from mce.services.frontend.admin import redirect, require_csrf
from mce.services.frontend.rendering import render

router = APIRouter(prefix="/account", include_in_schema=False)
MESSAGES = {
    "email": "Enter an email address like name@example.com.",
    "password": f"Use {accounts.PASSWORD_MIN} to {accounts.PASSWORD_MAX} characters, not only spaces.",
    "name": "Enter the name we should greet you by (up to 100 characters).",
}


def _next(raw: str | None) -> str:
    """Where a shopper goes after signing in or up: any page of this shop, the home page by default."""
    return views.safe_next(raw, "/", within="/")


def _field_errors(exc: ValidationError) -> dict[str, str]:
    """One message per field the shopper can fix."""
    return {str(error["loc"][0]): MESSAGES.get(str(error["loc"][0]), error["msg"]) for error in exc.errors()}


async def _typed(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name, "")) for name in names}


@router.get("/signup")
async def sign_up_page(request: Request, next_path: Annotated[str | None, Query(alias="next")] = None) -> Response:
    """The sign-up form."""
    return render(request, "account/signup.html", {"values": {}, "errors": {}, "next": _next(next_path)})


@router.post("/signup", dependencies=[Depends(require_csrf)])
async def sign_up(request: Request, store: Accounts) -> Response:
    """Make the account and sign in; the form again, with what to fix, otherwise."""
    typed = await _typed(request, ("email", "password", "name", "next"))
    target = _next(typed.pop("next"))
    shown = {"email": typed["email"], "name": typed["name"]}
    try:
        account = await accounts.register(store, accounts.SignUp.model_validate(typed))
    except ValidationError as exc:
        context = {"values": shown, "errors": _field_errors(exc), "next": target}
        return render(request, "account/signup.html", context, status_code=422)
    except Conflict:
        errors = {"email": "This email has an account already. Sign in instead."}
        return render(request, "account/signup.html", {"values": shown, "errors": errors, "next": target}, 409)
    await accounts.sign_in_shopper(request, account)
    sessions.flash(request, f"Welcome, {account.name}! Your account is ready.")
    return redirect(target)


@router.get("/login")
async def sign_in_page(request: Request, next_path: Annotated[str | None, Query(alias="next")] = None) -> Response:
    """The sign-in form."""
    return render(request, "account/login.html", {"values": {}, "next": _next(next_path)})


@router.post("/login", dependencies=[Depends(require_csrf)])
async def sign_in(request: Request, store: Accounts) -> Response:
    """Sign in; one message for any wrong email or password, and a wait for a client that keeps guessing."""
    typed = await _typed(request, ("email", "password", "next"))
    target = _next(typed.pop("next"))
    context = {"values": {"email": typed["email"]}, "next": target}
    try:
        account = await accounts.authenticate(request, store, accounts.SignIn.model_validate(typed))
    except (ValidationError, Unauthorized):
        return render(request, "account/login.html", {**context, "error": "The email or the password is wrong."}, 401)
    except TooManyRequests as exc:
        error = f"Too many failed sign-ins. Try again in {exc.retry_after_s} seconds."
        return render(request, "account/login.html", {**context, "error": error}, 429, headers=exc.headers)
    await accounts.sign_in_shopper(request, account)
    sessions.flash(request, f"Welcome back, {account.name}.")
    return redirect(target)


@router.get("")
async def account_page(request: Request, store: Accounts) -> Response:
    """The signed-in shopper's account; visitors are sent to sign in first."""
    account = await accounts.current_account(request, store)
    if account is None:
        return redirect(views.link("/account/login", {"next": "/account"}))
    return render(request, "account/home.html", {"account": account})


@router.post("/logout", dependencies=[Depends(require_csrf)])
async def sign_out(request: Request) -> Response:
    """End the session on the server."""
    sessions.sign_out(request)
    sessions.flash(request, "Signed out.")
    return redirect("/")
