"""Checkout and orders on the JSON API: the session says whose orders they are; staff see and move all of them.

A shopper's orders belong to the same owner as their cart (their account's, or their session's for a guest), so no
order id a client guesses reaches another's order: the order service answers 404 for it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response, Security
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from mce.kit.auth import bearer_token, check_admin
from mce.kit.contracts import MAX_ID, MAX_OFFSET, PAGE_LIMIT_MAX
from mce.kit.errors import BadRequest, ErrorBody, Forbidden, Invalid, NotFound, problem
from mce.kit.idempotency import HEADER, HeaderKey
from mce.services.frontend import activity
from mce.services.frontend.accounts import ACCOUNT
from mce.services.frontend.api import bearer_scheme
from mce.services.frontend.cart_api import cart_key
from mce.services.frontend.deps import BackendsDep
from mce.services.frontend.sessions import require_same_origin

router = APIRouter(prefix="/api/orders", tags=["orders"])
OrderId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="The order's id")]
Limit = Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX, description="How many orders to return")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many orders to skip")]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in (*statuses, 502, 503)}


async def staff_authorization(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
) -> str:
    """The admin's bearer token to forward; a signed-in shopper without one is refused with 403, anyone else 401."""
    if bearer_token(request) is None and isinstance(request.session.get(ACCOUNT), dict):
        raise Forbidden("only staff may do this")
    state = request.app.state
    token = await check_admin(
        request, state.secrets.admin_token, state.limiter, read=state.read, write=run_in_threadpool
    )
    return f"Bearer {token}"


StaffAuthorization = Annotated[str, Depends(staff_authorization)]


@router.post(
    "",
    summary="Check out the shopper's cart",
    status_code=201,
    dependencies=[Depends(require_same_origin)],
    responses={
        201: {"description": "The order, paid"},
        **_errors(400, 402, 403, 409, 422),
    },
)
async def checkout(
    request: Request,
    backends: BackendsDep,
    key: HeaderKey,
    body: Annotated[dict[str, Any], Body(description='{"payment": {...}, "shipping_address": {...}}')],
) -> Response:
    """Reserve the cart's stock, charge the card and place the order, once per `Idempotency-Key` (required).

    The same key with the same body gets the first answer; with another body 422; while its twin runs 409.
    Out of stock is 409 `out_of_stock`, a declined card 402 `payment_declined`; either way nothing is kept.
    """
    if key is None:
        raise BadRequest(f"checkout needs an {HEADER} header", details=[problem(HEADER, "required")])
    owner = cart_key(request, create=False)
    if owner is None:
        raise Invalid("your cart is empty", details=[problem("cart", "add something before checking out")])
    # The owner comes from the session, never from the client: a body that names one is overruled.
    order = {**body, "owner": owner}
    response = await backends.order.relay("POST", "/orders", json=order, headers={HEADER: key}, idempotent=True)
    # A replayed answer is the same purchase told again, not another one.
    if response.status_code == 201 and response.headers.get("idempotent-replayed") != "true":
        activity.record_purchase(request, response.body)
    return response


@router.get("", summary="The shopper's orders, newest first", responses=_errors(401, 403, 422))
async def list_orders(
    request: Request,
    backends: BackendsDep,
    limit: Limit = 20,
    offset: Offset = 0,
    all_orders: Annotated[bool, Query(alias="all", description="Every shopper's orders (staff only)")] = False,
) -> Response:
    """One page of this shopper's orders; with `all=true` and the admin token, everyone's."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if all_orders:
        authorization = await staff_authorization(request, None)
        return await backends.order.relay(
            "GET", "/orders", params={**params, "all": "true"}, headers={"authorization": authorization}
        )
    owner = cart_key(request, create=False)
    if owner is None:
        return Response(
            b'{"items":[],"total":0,"limit":%d,"offset":%d}' % (limit, offset), media_type="application/json"
        )
    return await backends.order.relay("GET", "/orders", params={**params, "owner": owner})


@router.get("/{order_id}", summary="One of the shopper's orders, with its status history", responses=_errors(404, 422))
async def get_order(request: Request, backends: BackendsDep, order_id: OrderId) -> Response:
    """The order; 404 unless it is this shopper's (whatever id is guessed), or with the admin token, any order."""
    if bearer_token(request) is not None:
        authorization = await staff_authorization(request, None)
        return await backends.order.relay("GET", f"/orders/{order_id}", headers={"authorization": authorization})
    owner = cart_key(request, create=False)
    if owner is None:
        raise NotFound(f"order {order_id} not found")
    return await backends.order.relay("GET", f"/orders/{order_id}", params={"owner": owner})


@router.post(
    "/{order_id}/status",
    summary="Move an order along its lifecycle (staff only)",
    responses=_errors(401, 403, 404, 409, 422, 429),
)
async def change_status(
    backends: BackendsDep,
    authorization: StaffAuthorization,
    order_id: OrderId,
    body: Annotated[dict[str, Any], Body(description='{"status": "shipped", "reason": "..."}')],
) -> Response:
    """`created -> paid -> shipped -> delivered`, `cancelled` before shipping, `refunded` after payment; else 409."""
    return await backends.order.relay(
        "POST", f"/orders/{order_id}/status", json=body, headers={"authorization": authorization}
    )
