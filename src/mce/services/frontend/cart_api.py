"""The shopper's cart on the JSON API: the session says whose cart it is, the cart service keeps it.

A signed-in shopper's cart belongs to their account, a visitor's to their session; no request names a cart, so no
guessed id reaches anyone else's. The cart's internal id is not shown.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from mce.kit.contracts import CartItemAdd, CartLinePayload, CartQuantityChange
from mce.kit.errors import ErrorBody
from mce.kit.http import HttpResponse
from mce.kit.money import Money
from mce.services.frontend import activity
from mce.services.frontend.accounts import ACCOUNT
from mce.services.frontend.clients import Backend
from mce.services.frontend.deps import BackendsDep, ProductId
from mce.services.frontend.sessions import SHOPPER_ID, ensure_shopper_id, require_same_origin

# Each acts for the session's shopper by its cookie: none may be sent from another site's page.
router = APIRouter(prefix="/api/cart", tags=["cart"], dependencies=[Depends(require_same_origin)])
JSON = "application/json"
EMPTY = {"items": [], "total": "0.00", "updated_at": None, "version": 0}


class ShopperCart(BaseModel):
    """The shopper's cart: its lines, the total the server computed, and a version that grows with each change."""

    items: list[CartLinePayload]
    total: Money
    updated_at: str | None
    version: int


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in (*statuses, 403, 502, 503)}


ANSWER = {200: {"model": ShopperCart}}


def cart_key(request: Request, *, create: bool) -> str | None:
    """The cart of the session's shopper: the account's when signed in, else the visitor's (made when create)."""
    account = request.session.get(ACCOUNT)
    if isinstance(account, dict) and isinstance(account.get("id"), int):
        return f"account-{account['id']}"
    if not create and SHOPPER_ID not in request.session:
        return None
    return f"guest-{ensure_shopper_id(request)}"


def _shopper_view(backend: Backend, response: HttpResponse) -> Response:
    """The cart service's answer for the shopper: a cart without its internal ids, or its 4xx as it is."""
    if response.status >= 500:
        raise backend.failed(response)
    if response.status >= 400:
        return Response(response.content, response.status, media_type=JSON)
    cart = response.json()
    view = {key: cart[key] for key in EMPTY}
    return Response(orjson.dumps(view), response.status, media_type=JSON)


@router.get("", summary="The shopper's cart", responses={**ANSWER, **_errors()})
async def get_cart(request: Request, backends: BackendsDep) -> Response:
    """The cart; a visitor who never added anything has an empty one, and no session is made for it."""
    key = cart_key(request, create=False)
    if key is None:
        return Response(orjson.dumps(EMPTY), media_type=JSON)
    return _shopper_view(backends.cart, await backends.cart.request("GET", f"/carts/{key}"))


@router.post(
    "/items",
    summary="Add a product (at the catalog's price); one already in the cart adds to its quantity",
    responses={**ANSWER, 201: {"model": ShopperCart}, **_errors(400, 409, 422)},
)
async def add_item(request: Request, backends: BackendsDep, item: CartItemAdd) -> Response:
    """Put a product in the cart: 201 when this made the cart, 409 `out_of_stock` beyond the stock."""
    key = cart_key(request, create=True)
    response = await backends.cart.request("POST", f"/carts/{key}/items", json=item.model_dump())
    answer = _shopper_view(backends.cart, response)
    if answer.status_code in (200, 201):
        activity.record(request, "add_to_cart", product_id=item.product_id, metadata={"quantity": item.quantity})
    return answer


@router.patch(
    "/items/{product_id}", summary="Set a product's quantity", responses={**ANSWER, **_errors(400, 404, 409, 422)}
)
async def change_quantity(
    request: Request, backends: BackendsDep, product_id: ProductId, change: CartQuantityChange
) -> Response:
    """Set the quantity of a product in the cart (1 to 99; delete the line to remove it)."""
    key = cart_key(request, create=True)
    response = await backends.cart.request("PATCH", f"/carts/{key}/items/{product_id}", json=change.model_dump())
    return _shopper_view(backends.cart, response)


@router.delete("/items/{product_id}", summary="Remove a product", responses={**ANSWER, **_errors(404, 422)})
async def remove_item(request: Request, backends: BackendsDep, product_id: ProductId) -> Response:
    """Take a product out of the cart; 404 when it is not in it."""
    key = cart_key(request, create=True)
    return _shopper_view(backends.cart, await backends.cart.request("DELETE", f"/carts/{key}/items/{product_id}"))


@router.delete("", summary="Empty the cart", responses={**ANSWER, **_errors()})
async def clear_cart(request: Request, backends: BackendsDep) -> Response:
    """Remove everything from the cart."""
    key = cart_key(request, create=False)
    if key is None:
        return Response(orjson.dumps(EMPTY), media_type=JSON)
    return _shopper_view(backends.cart, await backends.cart.request("DELETE", f"/carts/{key}"))
