"""Admin pages: sign in with the admin token, then manage products, their stock and the categories.

Every form carries the session's CSRF token and an idempotency key made when the form was drawn, so submitting the
same form twice (a double click, a retry after a timeout) changes the catalog once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from mce.kit import idempotency
from mce.kit.auth import admit_token
from mce.kit.errors import DomainError, Forbidden, TooManyRequests
from mce.kit.http import HttpResponse
from mce.services.frontend import sessions, views
from mce.services.frontend.clients import Backends, write_headers
from mce.services.frontend.deps import BackendsDep, CategoryId, ProductId
from mce.services.frontend.forms import (
    catalog_errors,
    parse_whole_number,
    read_product_form,
    values_from_product,
)
from mce.services.frontend.rendering import render
from mce.services.frontend.uploads import parse_form, photo_of
from mce.services.frontend.views import Pagination

ADMIN_PAGE_SIZE = 25


class AdminLoginRequired(Exception):
    """An admin page was asked for without an admin session."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def redirect_to_login(request: Request, exc: AdminLoginRequired) -> Response:
    """Send the visitor to the login page, and back to where they were going afterwards."""
    return redirect(views.link("/admin/login", {"next": exc.next_path}))


async def require_admin(request: Request) -> None:
    """Only admins get past."""
    if not sessions.is_admin(request):
        raise AdminLoginRequired(request.url.path)


async def require_csrf(request: Request) -> None:
    """Refuse a form that does not carry this session's CSRF token."""
    form = await request.form()
    if not sessions.csrf_matches(request, form.get("csrf_token")):
        raise Forbidden("the form's CSRF token is missing or out of date")


ADMIN_PAGE = [Depends(require_admin)]
ADMIN_FORM = [*ADMIN_PAGE, Depends(require_csrf)]

router = APIRouter(prefix="/admin", include_in_schema=False)


def redirect(url: str) -> RedirectResponse:
    """See-other redirect, so a reload after a form does not post it again."""
    return RedirectResponse(url, status_code=303)


def _text(form: FormData, name: str) -> str:
    """A text field of the form, empty when absent or a file."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _write_headers(request: Request, form: FormData) -> dict[str, str]:
    """The admin's credential for the catalog, and the form's idempotency key (a new one if it carries none).

    The key is checked like the API's header: a tampered one is refused here, before it could reach a header.
    """
    key = idempotency.checked_key(_text(form, "idempotency_key") or None)
    return write_headers(f"Bearer {request.app.state.secrets.admin_token}", key)


async def _catalog_write(
    backends: Backends, request: Request, form: FormData, method: str, path: str, body: Any = None
) -> HttpResponse:
    """Send a form's change to the catalog; a lost answer is retried under the same key, applying once."""
    headers = _write_headers(request, form)
    return await backends.product.request(method, path, json=body, headers=headers, idempotent=True)


def _forget_catalog(request: Request) -> None:
    """The catalog changed: the header's categories must be fetched afresh."""
    request.app.state.category_cache.clear()


@router.get("/login")
async def login_page(request: Request, next_path: Annotated[str | None, Query(alias="next")] = None) -> Response:
    """The admin token form."""
    if sessions.is_admin(request):
        return redirect(views.safe_next(next_path))
    return render(request, "admin/login.html", {"next": views.safe_next(next_path)})


@router.post("/login", dependencies=[Depends(require_csrf)])
async def login(request: Request) -> Response:
    """Mark the session as an admin's when the token is right; a client that keeps guessing waits."""
    state = request.app.state
    form = await request.form()
    target = views.safe_next(_text(form, "next"))
    try:
        given, expected = _text(form, "token"), state.secrets.admin_token
        right = await admit_token(request, given, expected, state.limiter, read=state.read, write=run_in_threadpool)
    except TooManyRequests as exc:
        context = {"next": target, "error": f"Too many wrong tokens. Try again in {exc.retry_after_s} seconds."}
        return render(request, "admin/login.html", context, status_code=429, headers=exc.headers)
    if not right:
        context = {"next": target, "error": "That token is not right."}
        return render(request, "admin/login.html", context, status_code=401)
    sessions.sign_in_admin(request)
    sessions.flash(request, "Signed in.")
    return redirect(target)


@router.post("/logout", dependencies=[Depends(require_csrf)])
async def logout(request: Request) -> Response:
    """End the session on the server, so a saved copy of its cookie opens nothing."""
    sessions.sign_out(request)
    sessions.flash(request, "Signed out.")
    return redirect("/")


@router.get("", dependencies=ADMIN_PAGE)
async def product_table(request: Request, backends: BackendsDep, page: str | None = None) -> Response:
    """Every product, newest first, with edit and delete."""
    page_number = views.parse_page(page, ADMIN_PAGE_SIZE)
    params = {"limit": ADMIN_PAGE_SIZE, "offset": (page_number - 1) * ADMIN_PAGE_SIZE, "sort": "newest"}
    result = await backends.product.fetch_json("/products", params)
    context = {
        "products": result["items"],
        "pagination": Pagination(page=page_number, per_page=ADMIN_PAGE_SIZE, total=result["total"]),
    }
    return render(request, "admin/products.html", context)


async def _all_categories(request: Request, backends: Backends) -> list[dict[str, Any]]:
    """Every category, empty ones included, as the catalog has them now: an admin's choices must not be stale."""
    return (await backends.product.fetch_json("/categories"))["items"]


async def _form_page(
    request: Request,
    backends: Backends,
    *,
    values: dict[str, str],
    product_id: int | None = None,
    version: int | None = None,
    errors: dict[str, str] | None = None,
    summary: str = "",
    conflict: bool = False,
    idempotency_key: str | None = None,
    image: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The product form, new or edit, with the admin's input and what is wrong with it."""
    action = f"/admin/products/{product_id}/edit" if product_id else "/admin/products/new"
    context: dict[str, Any] = {
        "categories": await _all_categories(request, backends),
        "action": action,
        "product_id": product_id,
        "version": version,
        "values": values,
        "errors": errors or {},
        "summary": summary,
        "conflict": conflict,
        # A form shown again after an error gets a new key: the refused submission changed nothing.
        "idempotency_key": idempotency_key or idempotency.new_key(),
        "image": image,
        "upload_max_mb": request.app.state.settings.upload_max_bytes / (1024 * 1024),
    }
    return render(request, "admin/product_form.html", context, status_code=status_code)


def _refusal(response: HttpResponse, backends: Backends) -> tuple[dict[str, str], str]:
    """The catalog's validation messages; an answer that is not a refusal is the catalog's fault."""
    if response.status not in (400, 409, 422, 428):
        raise backends.product.failed(response)
    try:
        body = response.json()
    except ValueError:
        body = None
    return catalog_errors(body)


def _refusal_message(response: HttpResponse, backends: Backends) -> str:
    """The catalog's own sentence for a refusal, for a flash message."""
    _refusal(response, backends)
    try:
        message = str(response.json()["error"]["message"])
        return message[:1].upper() + message[1:] + "."
    except (ValueError, KeyError, TypeError):
        return "The catalog refused the change."


@router.get("/products/new", dependencies=ADMIN_PAGE)
async def new_product_page(request: Request, backends: BackendsDep) -> Response:
    """An empty product form."""
    return await _form_page(request, backends, values={})


@router.post("/products/new", dependencies=ADMIN_FORM)
async def create_product(request: Request, backends: BackendsDep) -> Response:
    """Create the product, or show the form again with what is wrong."""
    form_data = await request.form()
    form = read_product_form(form_data, editing=False)
    if not form.valid:
        return await _form_page(request, backends, values=form.values, errors=form.errors, status_code=422)
    response = await _catalog_write(backends, request, form_data, "POST", "/products", form.payload)
    if response.status == 201:
        _forget_catalog(request)
        sessions.flash(request, f"Product saved: {form.values['name']}.")
        return redirect("/admin")
    errors, summary = _refusal(response, backends)
    return await _form_page(request, backends, values=form.values, errors=errors, summary=summary, status_code=422)


@router.get("/products/{product_id}/edit", dependencies=ADMIN_PAGE)
async def edit_product_page(request: Request, backends: BackendsDep, product_id: ProductId) -> Response:
    """The product form filled with the product as it is now, and the stock adjustment form."""
    product = await backends.product.fetch_json(f"/products/{product_id}")
    try:
        image = await backends.product.fetch_json_with(f"/products/{product_id}/image", headers=_admin_headers(request))
    except DomainError:
        # The photo's state is a side panel: the fields stay editable without it.
        image = None
    return await _form_page(
        request,
        backends,
        values=values_from_product(product),
        product_id=product_id,
        version=product.get("version"),
        image=image,
    )


def _admin_headers(request: Request) -> dict[str, str]:
    """The admin's credential for a read only admins may make."""
    return {"authorization": f"Bearer {request.app.state.secrets.admin_token}"}


@router.post("/products/{product_id}/image", dependencies=ADMIN_PAGE)
async def upload_image(request: Request, backends: BackendsDep, product_id: ProductId) -> Response:
    """Send the chosen photo to the catalog; the edit page says 'processing' until its thumbnails exist."""
    back = f"/admin/products/{product_id}/edit"
    form = await parse_form(request)
    if not sessions.csrf_matches(request, form.get("csrf_token")):
        raise Forbidden("the form's CSRF token is missing or out of date")
    try:
        photo = await photo_of(form, request.app.state.settings.upload_max_bytes)
    except DomainError as exc:
        sessions.flash(request, f"{exc.message[:1].upper()}{exc.message[1:]}.", kind="error")
        return redirect(back)
    headers = {**_admin_headers(request), "content-type": "application/octet-stream"}
    response = await backends.product.request("POST", f"/products/{product_id}/image", content=photo, headers=headers)
    if response.status == 202:
        _forget_catalog(request)
        sessions.flash(request, "Photo uploaded. Its thumbnails are being made; reload in a moment to see them.")
    elif response.status == 404:
        sessions.flash(request, "That product was deleted before the photo arrived.", kind="error")
        return redirect("/admin")
    elif 400 <= response.status < 500:
        sessions.flash(request, _upload_refusal(response), kind="error")
    else:
        raise backends.product.failed(response)
    return redirect(back)


def _upload_refusal(response: HttpResponse) -> str:
    """The catalog's sentence for a refused photo (too big, not an image, a decompression bomb)."""
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return "The catalog refused the photo."
    return f"{message[:1].upper()}{message[1:]}."


@router.post("/products/{product_id}/edit", dependencies=ADMIN_FORM)
async def update_product(request: Request, backends: BackendsDep, product_id: ProductId) -> Response:
    """Save the changes unless someone else changed the product since the form was opened."""
    form_data = await request.form()
    form = read_product_form(form_data, editing=True)
    again = {"values": form.values, "product_id": product_id, "version": form.version}
    if not form.valid:
        return await _form_page(request, backends, **again, errors=form.errors, status_code=422)
    response = await _catalog_write(backends, request, form_data, "PUT", f"/products/{product_id}", form.payload)
    if response.status == 200:
        _forget_catalog(request)
        sessions.flash(request, f"Product saved: {form.values['name']}.")
        return redirect("/admin")
    if response.status == 404:
        sessions.flash(request, "That product was deleted before your changes were saved.", kind="error")
        return redirect("/admin")
    if response.status in (409, 428):
        return await _form_page(request, backends, **again, conflict=True, status_code=409)
    errors, summary = _refusal(response, backends)
    return await _form_page(request, backends, **again, errors=errors, summary=summary, status_code=422)


@router.post("/products/{product_id}/stock", dependencies=ADMIN_FORM)
async def adjust_stock(request: Request, backends: BackendsDep, product_id: ProductId) -> Response:
    """Move the product's stock by a delta with a reason (a delivery, a count, a breakage)."""
    form = await request.form()
    delta = parse_whole_number(_text(form, "delta"))
    reason = _text(form, "reason").strip()
    back = f"/admin/products/{product_id}/edit"
    if delta is None or delta == 0 or not reason:
        sessions.flash(request, "Give a whole number other than 0, and a reason, to adjust stock.", kind="error")
        return redirect(back)
    body = {"delta": delta, "reason": reason}
    response = await _catalog_write(backends, request, form, "POST", f"/products/{product_id}/stock-adjustments", body)
    if response.status == 200:
        sessions.flash(request, f"Stock is now {response.json()['stock']}.")
    else:
        sessions.flash(request, _refusal_message(response, backends), kind="error")
    return redirect(back)


@router.get("/products/{product_id}/delete", dependencies=ADMIN_PAGE)
async def delete_product_page(request: Request, backends: BackendsDep, product_id: ProductId) -> Response:
    """Ask before deleting, so a stray click loses nothing."""
    product = await backends.product.fetch_json(f"/products/{product_id}")
    return render(request, "admin/confirm_delete.html", {"product": product})


@router.post("/products/{product_id}/delete", dependencies=ADMIN_FORM)
async def delete_product(request: Request, backends: BackendsDep, product_id: ProductId) -> Response:
    """Delete the product and go back to the table."""
    response = await _catalog_write(backends, request, await request.form(), "DELETE", f"/products/{product_id}")
    if response.status == 404:
        sessions.flash(request, "That product was already gone.", kind="info")
    elif response.status in (200, 204):
        _forget_catalog(request)
        sessions.flash(request, f"Product {product_id} deleted.")
    else:
        raise backends.product.failed(response)
    return redirect("/admin")


@router.get("/categories", dependencies=ADMIN_PAGE)
async def category_table(request: Request, backends: BackendsDep) -> Response:
    """Every category with its product count, a form for a new one, rename and delete for each."""
    categories = await backends.product.fetch_json("/categories")
    return render(request, "admin/categories.html", {"categories": categories["items"]})


async def _category_write(request: Request, backends: Backends, method: str, path: str, done: str) -> Response:
    """Send a category form's change; say what happened on the category page."""
    form = await request.form()
    body = {"name": _text(form, "name")} if method != "DELETE" else None
    response = await _catalog_write(backends, request, form, method, path, body)
    if response.status in (200, 201, 204):
        _forget_catalog(request)
        sessions.flash(request, done.format(name=_text(form, "name")))
    elif response.status == 404:
        sessions.flash(request, "That category is gone.", kind="error")
    else:
        sessions.flash(request, _refusal_message(response, backends), kind="error")
    return redirect("/admin/categories")


@router.post("/categories/new", dependencies=ADMIN_FORM)
async def create_category(request: Request, backends: BackendsDep) -> Response:
    """Create a category."""
    return await _category_write(request, backends, "POST", "/categories", "Category added: {name}.")


@router.post("/categories/{category_id}/rename", dependencies=ADMIN_FORM)
async def rename_category(request: Request, backends: BackendsDep, category_id: CategoryId) -> Response:
    """Rename a category; its products follow."""
    return await _category_write(request, backends, "PUT", f"/categories/{category_id}", "Category renamed: {name}.")


@router.post("/categories/{category_id}/delete", dependencies=ADMIN_FORM)
async def delete_category(request: Request, backends: BackendsDep, category_id: CategoryId) -> Response:
    """Delete an empty category."""
    return await _category_write(request, backends, "DELETE", f"/categories/{category_id}", "Category deleted.")
