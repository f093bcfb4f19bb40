"""The JSON API of shoppers' accounts: sign up, sign in, who am I, sign out; the session cookie carries the result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from mce.kit.errors import ErrorBody, Unauthorized
from mce.services.frontend import accounts
from mce.services.frontend.accounts import AccountRead, SignIn, SignUp
from mce.services.frontend.sessions import require_same_origin, sign_out
from mce.services.frontend.store.port import AccountStore

# Each takes the session cookie as who is asking: none may be sent from another site's page.
router = APIRouter(prefix="/api", tags=["accounts"], dependencies=[Depends(require_same_origin)])


async def get_accounts(request: Request) -> AccountStore:
    """The account store the lifespan opened."""
    return request.app.state.accounts


Accounts = Annotated[AccountStore, Depends(get_accounts)]


def _errors(*statuses: int) -> dict[int | str, dict]:
    return {status: {"model": ErrorBody} for status in statuses}


@router.post(
    "/accounts",
    summary="Sign up",
    status_code=201,
    responses={201: {"model": AccountRead}, **_errors(400, 403, 409, 422)},
)
async def sign_up(request: Request, store: Accounts, form: SignUp) -> JSONResponse:
    """Make an account and sign in to it; 409 when the email has one."""
    account = await accounts.register(store, form)
    await accounts.sign_in_shopper(request, account)
    return JSONResponse(accounts.account_read(account), status_code=201, headers={"location": "/api/me"})


@router.post("/session", summary="Sign in", responses={200: {"model": AccountRead}, **_errors(400, 401, 403, 422, 429)})
async def sign_in(request: Request, store: Accounts, form: SignIn) -> JSONResponse:
    """Sign in; one answer for any wrong email or password, 429 after repeated failures."""
    account = await accounts.authenticate(request, store, form)
    await accounts.sign_in_shopper(request, account)
    return JSONResponse(accounts.account_read(account))


@router.get("/me", summary="The signed-in account", responses={200: {"model": AccountRead}, **_errors(401)})
async def me(request: Request, store: Accounts) -> JSONResponse:
    """The account this session is signed in to; 401 for a visitor."""
    account = await accounts.current_account(request, store)
    if account is None:
        raise Unauthorized("not signed in")
    return JSONResponse(accounts.account_read(account))


@router.delete("/session", summary="Sign out", status_code=204, responses=_errors(403))
async def sign_out_api(request: Request) -> Response:
    """End the session on the server; its cookie opens nothing afterwards."""
    sign_out(request)
    return Response(status_code=204)
