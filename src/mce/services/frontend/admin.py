"""Admin pages: log in with the admin token, then list, create, edit and delete products."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from mce.kit.auth import token_matches
from mce.kit.errors import Forbidden
from mce.services.frontend import sessions, views
from mce.services.frontend.clients import Backends
from mce.services.frontend.deps import BackendsDep, ProductId, shopper_session
from mce.services.frontend.forms import ProductForm, catalog_errors, read_product_form, values_from_product
from mce.services.frontend.pages import nav_categories
from mce.services.frontend.rendering import render
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


ADMIN_PAGE = [Depends(shopper_session), Depends(require_admin)]
ADMIN_FORM = [*ADMIN_PAGE, Depends(require_csrf)]

router = APIRouter(prefix="/admin", include_in_schema=False)


def redirect(url: str) -> RedirectResponse:
    """See-other redirect, so a reload after a form does not post it again."""
    return RedirectResponse(url, status_code=303)


def _text(form: FormData, name: str) -> str:
    """A text field of the form, empty when absent or a file."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _catalog_auth(request: Request) -> dict[str, str]:
    """The header that lets the frontend write to the catalog on the admin's behalf."""
    return {"authorization": f"Bearer {request.app.state.secrets.admin_token}"}


@router.get("/login", dependencies=[Depends(shopper_session)])
async def login_page(request: Request, next_path: Annotated[str | None, Query(alias="next")] = None) -> Response:
    """The admin token form."""
    if sessions.is_admin(request):
        return redirect(views.safe_next(next_path))
    return render(request, "admin/login.html", {"next": views.safe_next(next_path)})


@router.post("/login", dependencies=[Depends(shopper_session), Depends(require_csrf)])
async def login(request: Request) -> Response:
    """Mark the session as an admin's when the token is right."""
    form = await request.form()
    target = views.safe_next(_text(form, "next"))
    if not token_matches(_text(form, "token"), request.app.state.secrets.admin_token):
        context = {"next": target, "error": "That token is not right."}
        return render(request, "admin/login.html", context, status_code=401)
    sessions.sign_in_admin(request)
    sessions.flash(request, "Signed in.")
    return redirect(target)


@router.post("/logout", dependencies=[Depends(require_csrf)])
async def logout(request: Request) -> Response:
    """End the admin session; the shopper's session carries on."""
    sessions.sign_out_admin(request)
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
    status_code: int = 200,
) -> Response:
    """The product form, new or edit, with the admin's input and what is wrong with it."""
    action = f"/admin/products/{product_id}/edit" if product_id else "/admin/products/new"
    context: dict[str, Any] = {
        "nav_categories": await nav_categories(backends),
        "action": action,
        "product_id": product_id,
        "version": version,
        "values": values,
        "errors": errors or {},
        "summary": summary,
        "conflict": conflict,
    }
    return render(request, "admin/product_form.html", context, status_code=status_code)


async def _refused(
    request: Request, backends: Backends, form: ProductForm, response: httpx.Response, product_id: int | None = None
) -> Response:
    """The form again with the catalog's validation messages; anything else is the catalog's fault."""
    if response.status_code not in (400, 422):
        raise backends.product.failed(response)
    try:
        body = response.json()
    except ValueError:
        body = None
    errors, summary = catalog_errors(body)
    return await _form_again(request, backends, form, product_id, errors=errors, summary=summary, status_code=422)


async def _form_again(
    request: Request, backends: Backends, form: ProductForm, product_id: int | None, **outcome: Any
) -> Response:
    """The form as the admin submitted it, with what happened to it."""
    return await _form_page(
        request, backends, values=form.values, product_id=product_id, version=form.version, **outcome
    )


@router.get("/products/new", dependencies=ADMIN_PAGE)
async def new_product_page(request: Request, backends: BackendsDep) -> Response:
    """An empty product form."""
    return await _form_page(request, backends, values={})


@router.post("/products/new", dependencies=ADMIN_FORM)
async def create_product(request: Request, backends: BackendsDep) -> Response:
    """Create the product, or show the form again with what is wrong."""
    form = read_product_form(await request.form(), editing=False)
    if not form.valid:
        return await _form_page(request, backends, values=form.values, errors=form.errors, status_code=422)
    response = await backends.product.request("POST", "/products", json=form.payload, headers=_catalog_auth(request))
    if response.status_code == 201:
        sessions.flash(request, f"Product saved: {form.values['name']}.")
        return redirect("/admin")
    return await _refused(request, backends, form, response)


@router.get("/products/{product_id}/edit", dependencies=ADMIN_PAGE)
async def edit_product_page(request: Request, backends: BackendsDep, product_id: ProductId) -> Response:
    """The product form filled with the product as it is now."""
    product = await backends.product.fetch_json(f"/products/{product_id}")
    return await _form_page(
        request, backends, values=values_from_product(product), product_id=product_id, version=product.get("version")
    )


@router.post("/products/{product_id}/edit", dependencies=ADMIN_FORM)
async def update_product(request: Request, backends: BackendsDep, product_id: ProductId) -> Response:
    """Save the changes unless someone else changed the product since the form was opened."""
    form = read_product_form(await request.form(), editing=True)
    if not form.valid:
        return await _form_again(request, backends, form, product_id, errors=form.errors, status_code=422)
    response = await backends.product.request(
        "PUT", f"/products/{product_id}", json=form.payload, headers=_catalog_auth(request)
    )
    if response.status_code == 200:
        sessions.flash(request, f"Product saved: {form.values['name']}.")
        return redirect("/admin")
    if response.status_code == 404:
        sessions.flash(request, "That product was deleted before your changes were saved.", kind="error")
        return redirect("/admin")
    if response.status_code == 409:
        return await _form_again(request, backends, form, product_id, conflict=True, status_code=409)
    return await _refused(request, backends, form, response, product_id)


@router.get("/products/{product_id}/delete", dependencies=ADMIN_PAGE)
async def delete_product_page(request: Request, backends: BackendsDep, product_id: ProductId) -> Response:
    """Ask before deleting, so a stray click loses nothing."""
    product = await backends.product.fetch_json(f"/products/{product_id}")
    return render(request, "admin/confirm_delete.html", {"product": product})


@router.post("/products/{product_id}/delete", dependencies=ADMIN_FORM)
async def delete_product(request: Request, backends: BackendsDep, product_id: ProductId) -> Response:
    """Delete the product and go back to the table."""
    response = await backends.product.request("DELETE", f"/products/{product_id}", headers=_catalog_auth(request))
    if response.status_code == 404:
        sessions.flash(request, "That product was already gone.", kind="info")
    elif response.status_code in (200, 204):
        sessions.flash(request, f"Product {product_id} deleted.")
    else:
        raise backends.product.failed(response)
    return redirect("/admin")
