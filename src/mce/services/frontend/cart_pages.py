"""The storefront's cart: add from a product page, see the cart, change quantities, remove lines; forms with CSRF."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import FormData

from mce.kit.contracts import CART_QUANTITY_MAX, CART_QUANTITY_MIN, MAX_ID
from mce.kit.errors import DomainError
from mce.services.frontend import activity, sessions
from mce.services.frontend.admin import redirect
from mce.services.frontend.cart_api import EMPTY, cart_key
from mce.services.frontend.clients import BackendRefused
from mce.services.frontend.deps import BackendsDep, ProductId
from mce.services.frontend.rendering import render

router = APIRouter(prefix="/cart", include_in_schema=False)
FORM = [Depends(sessions.require_csrf_or_same_site)]


def _whole(form: FormData, name: str, low: int, high: int) -> int | None:
    """A whole number from the form within bounds, or None."""
    text = str(form.get(name, "")).strip()
    return int(text) if text.isdigit() and low <= int(text) <= high else None


def _product_page(form: FormData) -> str:
    """Where to send the shopper back to after adding from a product page."""
    product_id = _whole(form, "product_id", 1, MAX_ID)
    return f"/products/{product_id}" if product_id else "/cart"


async def _change(request: Request, backends: BackendsDep, method: str, path: str, body: Any, done: str) -> bool:
    """Send one change of the shopper's cart and say how it went, in words a shopper reads; True when it was made."""
    try:
        await backends.cart.fetch_json_write(method, f"/carts/{cart_key(request, create=True)}{path}", body)
    except BackendRefused as exc:
        sessions.flash(request, exc.message, "error")
    except DomainError:
        sessions.flash(request, "The cart cannot be changed right now. Please try again in a moment.", "error")
    else:
        sessions.flash(request, done)
        return True
    return False


@router.get("")
async def cart_page(request: Request, backends: BackendsDep) -> Response:
    """The shopper's cart with its lines and the total the server computed."""
    key = cart_key(request, create=False)
    cart = EMPTY if key is None else await backends.cart.fetch_json(f"/carts/{key}")
    pictures = await _pictures(backends, [line["product_id"] for line in cart["items"]])
    return render(request, "cart.html", {"cart": cart, "quantity_max": CART_QUANTITY_MAX, "pictures": pictures})


async def _pictures(backends: BackendsDep, product_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each line's product as the catalog has it now, for its picture; a line whose product cannot be read has none."""

    async def one(product_id: int) -> dict[str, Any] | None:
        try:
            return await backends.product.fetch_json(f"/products/{product_id}")
        except DomainError:
            return None

    # A cart holds at most CART_LINES_MAX lines, and the catalog answers one product from its fast path.
    found = await asyncio.gather(*(one(product_id) for product_id in product_ids))
    return {product_id: product for product_id, product in zip(product_ids, found, strict=True) if product}


@router.post("/items", dependencies=FORM)
async def add_to_cart(request: Request, backends: BackendsDep) -> Response:
    """Put a product in the cart from its page."""
    form = await request.form()
    product_id = _whole(form, "product_id", 1, MAX_ID)
    quantity = _whole(form, "quantity", CART_QUANTITY_MIN, CART_QUANTITY_MAX)
    if product_id is None or quantity is None:
        sessions.flash(request, f"Choose a quantity from {CART_QUANTITY_MIN} to {CART_QUANTITY_MAX}.", "error")
        return redirect(_product_page(form))
    body = {"product_id": product_id, "quantity": quantity}
    if await _change(request, backends, "POST", "/items", body, "Added to your cart."):
        activity.record(request, "add_to_cart", product_id=product_id, metadata={"quantity": quantity})
    return redirect(_product_page(form) if str(form.get("stay", "")) == "1" else "/cart")


@router.post("/items/{product_id}", dependencies=FORM)
async def change_line(request: Request, backends: BackendsDep, product_id: ProductId) -> Response:
    """Set a line's quantity, or remove it (quantity 0 or the remove button)."""
    form = await request.form()
    if str(form.get("remove", "")) == "1" or str(form.get("quantity", "")).strip() == "0":
        await _change(request, backends, "DELETE", f"/items/{product_id}", None, "Removed from your cart.")
        return redirect("/cart")
    quantity = _whole(form, "quantity", CART_QUANTITY_MIN, CART_QUANTITY_MAX)
    if quantity is None:
        sessions.flash(request, f"Choose a quantity from 0 (remove) to {CART_QUANTITY_MAX}.", "error")
        return redirect("/cart")
    await _change(request, backends, "PATCH", f"/items/{product_id}", {"quantity": quantity}, "Your cart is updated.")
    return redirect("/cart")
