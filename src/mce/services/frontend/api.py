"""The JSON API gateway: validate parameters, check the admin token, forward, and pass the answer through."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mce.kit.auth import bearer_token, check_admin
from mce.services.frontend.deps import BackendsDep, ProductId
from mce.services.frontend.schemas import (
    MAX_OFFSET,
    MAX_PRICE,
    MAX_SEARCH_OFFSET,
    CategoryList,
    ErrorResponse,
    Product,
    ProductCreate,
    ProductPage,
    ProductSort,
    ProductUpdate,
    SearchPage,
    SearchSort,
)

router = APIRouter(prefix="/api")

# Control characters are refused in free text: no catalog or index has a use for them.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"

Limit = Annotated[int, Query(ge=1, le=100, description="How many items to return")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many items to skip")]
# Search ranks a result window, not a table: it pages no deeper than this.
SearchOffset = Annotated[int, Query(ge=0, le=MAX_SEARCH_OFFSET, description="How many results to skip")]
CategoryFilter = Annotated[str | None, Query(max_length=100, pattern=PRINTABLE, description="Only this category")]
PriceBound = Annotated[float | None, Query(ge=0, le=MAX_PRICE, allow_inf_nan=False)]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error answers, all with the standard error body."""
    return {status: {"model": ErrorResponse} for status in (*statuses, 502, 503)}


bearer_scheme = HTTPBearer(auto_error=False, description="The admin token (MCE_ADMIN_TOKEN)")


async def admin_authorization(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
) -> dict[str, str]:
    """Refuse callers without the admin token; the header to forward it to the catalog."""
    check_admin(request, request.app.state.secrets.admin_token)
    return {"authorization": f"Bearer {bearer_token(request)}"}


AdminAuthorization = Annotated[dict[str, str], Depends(admin_authorization)]


def _present(**params: Any) -> dict[str, Any]:
    """The parameters that were given; an empty filter means no filter."""
    return {key: value for key, value in params.items() if value is not None and value != ""}


@router.get(
    "/products",
    tags=["catalog"],
    summary="List products",
    responses={200: {"model": ProductPage}, **_errors(422)},
)
async def list_products(
    backends: BackendsDep,
    limit: Limit = 20,
    offset: Offset = 0,
    category: CategoryFilter = None,
    sort: Annotated[ProductSort | None, Query(description="Order; newest first by default")] = None,
) -> Response:
    """One page of products, optionally of one category."""
    params = _present(limit=limit, offset=offset, category=category, sort=sort)
    return await backends.product.relay("GET", "/products", params=params)


@router.get(
    "/products/{product_id}",
    tags=["catalog"],
    summary="Get a product",
    responses={200: {"model": Product}, **_errors(404, 422)},
)
async def get_product(backends: BackendsDep, product_id: ProductId) -> Response:
    """One product."""
    return await backends.product.relay("GET", f"/products/{product_id}")


@router.get(
    "/categories",
    tags=["catalog"],
    summary="List categories",
    responses={200: {"model": CategoryList}, **_errors()},
)
async def list_categories(backends: BackendsDep) -> Response:
    """Every category with its product count."""
    return await backends.product.relay("GET", "/categories")


@router.post(
    "/products",
    tags=["admin"],
    summary="Create a product",
    status_code=201,
    responses={201: {"model": Product}, **_errors(400, 401, 413, 422)},
)
async def create_product(backends: BackendsDep, authorization: AdminAuthorization, product: ProductCreate) -> Response:
    """Add a product to the catalog (admin only)."""
    body = product.model_dump(mode="json", exclude_unset=True)
    return await backends.product.relay("POST", "/products", json=body, headers=authorization)


@router.put(
    "/products/{product_id}",
    tags=["admin"],
    summary="Update a product",
    responses={200: {"model": Product}, **_errors(400, 401, 404, 409, 413, 422)},
)
async def update_product(
    backends: BackendsDep, authorization: AdminAuthorization, product_id: ProductId, changes: ProductUpdate
) -> Response:
    """Change some of a product's fields; with `version`, only if nobody changed it since (admin only)."""
    body = changes.model_dump(mode="json", exclude_unset=True)
    return await backends.product.relay("PUT", f"/products/{product_id}", json=body, headers=authorization)


@router.delete(
    "/products/{product_id}",
    tags=["admin"],
    summary="Delete a product",
    status_code=204,
    responses={204: {"description": "Deleted"}, **_errors(401, 404, 422)},
)
async def delete_product(backends: BackendsDep, authorization: AdminAuthorization, product_id: ProductId) -> Response:
    """Remove a product from the catalog (admin only)."""
    return await backends.product.relay("DELETE", f"/products/{product_id}", headers=authorization)


@router.get(
    "/search",
    tags=["search"],
    summary="Search products",
    responses={200: {"model": SearchPage}, **_errors(422)},
)
async def search(
    backends: BackendsDep,
    q: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE, description="Words to look for")] = None,
    category: CategoryFilter = None,
    min_price: PriceBound = None,
    max_price: PriceBound = None,
    sort: Annotated[SearchSort | None, Query(description="Order; best match first by default")] = None,
    limit: Limit = 20,
    offset: SearchOffset = 0,
) -> Response:
    """Products matching the words, typo-tolerant, with counts per category."""
    params = _present(
        q=q, category=category, min_price=min_price, max_price=max_price, sort=sort, limit=limit, offset=offset
    )
    return await backends.search.relay("GET", "/search", params=params)
