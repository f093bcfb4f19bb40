"""The storefront's checkout and order pages, and the staff's orders page; every form with a CSRF token.

The checkout form carries an idempotency key drawn with it, so a double-clicked or resubmitted checkout places one
order; a form drawn again after a refusal gets a new key, since the first key's answer is kept for the first try.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.datastructures import FormData

from mce.kit.contracts import PAGE_LIMIT_MAX
from mce.kit.errors import DomainError
from mce.kit.idempotency import HEADER, checked_key
from mce.services.frontend import activity, sessions
from mce.services.frontend.admin import ADMIN_FORM, ADMIN_PAGE, redirect, require_csrf
from mce.services.frontend.cart_api import EMPTY, cart_key
from mce.services.frontend.clients import BackendRefused
from mce.services.frontend.deps import BackendsDep
from mce.services.frontend.rendering import render

router = APIRouter(include_in_schema=False)
ADDRESS_FIELDS = ("name", "line1", "city", "postal_code", "country")
CARD_FIELDS = ("card_number", "expiry", "cvc", "card_name")
# Staff may move an order to these; the order service decides which are allowed from where.
STAFF_STATUSES = ("shipped", "delivered", "cancelled", "refunded")


def _staff(request: Request) -> dict[str, str]:
    return {"authorization": f"Bearer {request.app.state.secrets.admin_token}"}


async def _cart(request: Request, backends: BackendsDep) -> dict[str, Any]:
    key = cart_key(request, create=False)
    return EMPTY if key is None else await backends.cart.fetch_json(f"/carts/{key}")


def _typed(form: FormData) -> dict[str, str]:
    """What the shopper typed, trimmed; the card's number, expiry and code are never drawn back into the page."""
    return {name: str(form.get(name, "")).strip() for name in (*ADDRESS_FIELDS, *CARD_FIELDS)}


def _checkout_body(typed: dict[str, str]) -> dict[str, Any]:
    address = {name: typed[name] for name in ADDRESS_FIELDS}
    card = {
        "card_number": typed["card_number"],
        "expiry": typed["expiry"],
        "cvc": typed["cvc"],
        "name": typed["card_name"],
    }
    return {"payment": card, "shipping_address": address}


def _field_errors(details: list[dict[str, str]]) -> dict[str, str]:
    """The order service's complaints, placed next to the form's fields (`payment.name` is the card's name)."""
    errors: dict[str, str] = {}
    for detail in details:
        group, _, name = detail["field"].partition(".")
        field = "card_name" if (group, name) == ("payment", "name") else name or group
        errors.setdefault(field, detail["message"].removeprefix("Value error, "))
    return errors


async def _checkout_form(request: Request, backends: BackendsDep, *, status: int = 200, **context: Any) -> Response:
    """The checkout form beside the cart; drawn again after a refusal with what was typed and what to fix."""
    cart = await _cart(request, backends)
    context = {"cart": cart, "values": {}, "errors": {}, **context}
    return render(request, "checkout.html", context, status_code=status)


@router.get("/checkout")
async def checkout_page(request: Request, backends: BackendsDep) -> Response:
    """The shipping and card form beside the cart; an empty cart goes back to the cart page."""
    if not (await _cart(request, backends))["items"]:
        sessions.flash(request, "Your cart is empty.", "error")
        return redirect("/cart")
    return await _checkout_form(request, backends)


@router.post("/checkout", dependencies=[Depends(require_csrf)])
async def place_order(request: Request, backends: BackendsDep) -> Response:
    """Place the order once per drawn form; a refusal shows the form again with what to fix."""
    form = await request.form()
    typed = _typed(form)
    shown = {name: typed[name] for name in (*ADDRESS_FIELDS, "card_name")}
    owner = cart_key(request, create=False)
    try:
        key = checked_key(str(form.get("idempotency_key", "")) or None)
    except DomainError:
        key = None
    if owner is None or key is None:
        sessions.flash(request, "Your cart is empty.", "error")
        return redirect("/cart")
    body = {**_checkout_body(typed), "owner": owner}
    try:
        order, replayed = await backends.order.write_json("POST", "/orders", body, headers={HEADER: key})
    except BackendRefused as exc:
        if exc.code == "out_of_stock":
            sessions.flash(request, f"{exc.message}. Your cart is as it was; change it and try again.", "error")
            return redirect("/cart")
        if exc.status == 409:
            sessions.flash(request, "Your order is being placed; it will show here in a moment.")
            return redirect("/orders")
        errors = _field_errors(exc.details) if exc.status == 422 else {"card_number": exc.message}
        return await _checkout_form(
            request, backends, values=shown, errors=errors, error=exc.message, status=exc.status
        )
    except DomainError:
        error = "We could not place your order just now; nothing was charged. Please try again in a moment."
        return await _checkout_form(request, backends, values=shown, errors={}, error=error, status=503)
    if not replayed:
        activity.record(request, "purchase", metadata=activity.purchase_metadata(order))
    sessions.flash(request, "Thank you! Your order is placed and paid.")
    return redirect(f"/orders/{order['id']}")


@router.get("/orders")
async def order_history(request: Request, backends: BackendsDep) -> Response:
    """The shopper's orders, newest first."""
    owner = cart_key(request, create=False)
    page = {"items": []} if owner is None else await backends.order.fetch_json("/orders", {"owner": owner, "limit": 50})
    return render(request, "orders.html", {"orders": page["items"]})


@router.get("/orders/{order_id}")
async def order_page(request: Request, backends: BackendsDep, order_id: int) -> Response:
    """One of the shopper's orders with its status timeline; another's is not found."""
    owner = cart_key(request, create=False) or "nobody"
    order = await backends.order.fetch_json(f"/orders/{order_id}", {"owner": owner})
    return render(request, "order.html", {"order": order})


@router.get("/admin/orders", dependencies=ADMIN_PAGE)
async def staff_orders(request: Request, backends: BackendsDep, page: int = Query(1, ge=1, le=100)) -> Response:
    """Every order, newest first, with buttons for the moves staff may make."""
    params = {"all": "true", "limit": PAGE_LIMIT_MAX, "offset": (page - 1) * PAGE_LIMIT_MAX}
    listing = await backends.order.fetch_json_with("/orders", params, headers=_staff(request))
    return render(request, "admin/orders.html", {"orders": listing["items"], "total": listing["total"], "page": page})


@router.post("/admin/orders/{order_id}/status", dependencies=ADMIN_FORM)
async def staff_move(request: Request, backends: BackendsDep, order_id: int) -> Response:
    """Move an order along; a move the lifecycle refuses is said, not done."""
    form = await request.form()
    status = str(form.get("status", ""))
    if status not in STAFF_STATUSES:
        sessions.flash(request, "Choose what happened to the order.", "error")
        return redirect("/admin/orders")
    try:
        await backends.order.fetch_json_write(
            "POST", f"/orders/{order_id}/status", {"status": status}, headers=_staff(request)
        )
    except BackendRefused as exc:
        sessions.flash(request, exc.message, "error")
    else:
        sessions.flash(request, f"Order {order_id} is {status}.")
    return redirect("/admin/orders")
