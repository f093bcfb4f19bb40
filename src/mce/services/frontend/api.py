"""The JSON API gateway: validate with the shared contracts, check the admin token, forward, pass the answer through.

A backend's 4xx is relayed as it is; a backend that is down is 503 `unavailable` naming it; only a backend's own 5xx
becomes 502. Every admin write carries an idempotency key to the catalog (the caller's, or one made here), so a
write that timed out can be retried without being applied twice.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from mce.kit.auth import check_admin
from mce.kit.contracts import (
    MAX_OFFSET,
    PAGE_LIMIT_DEFAULT,
    PAGE_LIMIT_MAX,
    CategoryCreate,
    CategoryList,
    CategoryName,
    CategoryPayload,
    CategoryRename,
    ProductCreate,
    ProductListQuery,
    ProductPage,
    ProductPayload,
    ProductUpdate,
    SearchResults,
    SearchSort,
    SearchWords,
    StockAdjustment,
)
from mce.kit.errors import ErrorBody
from mce.kit.idempotency import HeaderKey
from mce.kit.money import Money
from mce.services.frontend import activity
from mce.services.frontend.clients import write_headers
from mce.services.frontend.deps import BackendsDep, CategoryId, ProductId
from mce.services.frontend.uploads import photo_of, read_form

router = APIRouter(prefix="/api")

Limit = Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX, description="How many items to return")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many items to skip (offset + limit ≤ 10,000)")]
CategoryFilter = Annotated[CategoryName | None, Query(description="Only this category (case does not matter)")]
PriceBound = Annotated[Money | None, Query(description="A price, e.g. 19.99")]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error answers, all with the standard error body."""
    return {status: {"model": ErrorBody} for status in (*statuses, 502, 503)}


bearer_scheme = HTTPBearer(auto_error=False, description="The admin token (MCE_ADMIN_TOKEN)")


async def admin_authorization(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
) -> str:
    """Refuse callers without the admin token (429 for one that keeps guessing); the header to forward."""
    state = request.app.state
    limiter = state.limiter
    token = await check_admin(request, state.secrets.admin_token, limiter, read=state.read, write=run_in_threadpool)
    return f"Bearer {token}"


AdminAuthorization = Annotated[str, Depends(admin_authorization)]


def _present(**params: Any) -> dict[str, Any]:
    """The parameters that were given; an empty filter means no filter."""
    return {key: value for key, value in params.items() if value is not None and value != ""}


async def _admin_write(
    backends: BackendsDep, method: str, path: str, authorization: str, key: str | None, body: Any = None
) -> Response:
    """Forward an admin's write with a key, so it may be retried safely."""
    headers = write_headers(authorization, key)
    return await backends.product.relay(method, path, json=body, headers=headers, idempotent=True)


@router.get(
    "/products", tags=["catalog"], summary="List products", responses={200: {"model": ProductPage}, **_errors(422)}
)
async def list_products(request: Request, query: Annotated[ProductListQuery, Query()]) -> Response:
    """One page of products, optionally of one category."""
    # The hottest relay: one parameter model and the clients straight from the app state, as each costs per call.
    params = query.model_dump(exclude_none=True)
    return await request.app.state.backends.product.relay("GET", "/products", params=params)


@router.get(
    "/products/{product_id}",
    tags=["catalog"],
    summary="Get a product",
    responses={200: {"model": ProductPayload}, **_errors(404, 422)},
)
async def get_product(request: Request, product_id: ProductId) -> Response:
    """One product."""
    return await request.app.state.backends.product.relay("GET", f"/products/{product_id}")


@router.get(
    "/categories", tags=["catalog"], summary="List categories", responses={200: {"model": CategoryList}, **_errors()}
)
async def list_categories(backends: BackendsDep) -> Response:
    """Every category with its product count."""
    return await backends.product.relay("GET", "/categories")


@router.get(
    "/categories/{category_id}",
    tags=["catalog"],
    summary="Get a category",
    responses={200: {"model": CategoryPayload}, **_errors(404, 422)},
)
async def get_category(backends: BackendsDep, category_id: CategoryId) -> Response:
    """One category with its product count."""
    return await backends.product.relay("GET", f"/categories/{category_id}")


@router.post(
    "/products",
    tags=["admin"],
    summary="Create a product",
    status_code=201,
    responses={201: {"model": ProductPayload}, **_errors(400, 401, 413, 422, 429)},
)
async def create_product(
    backends: BackendsDep, authorization: AdminAuthorization, key: HeaderKey, product: ProductCreate
) -> Response:
    """Add a product to an existing category (admin only); `Location` names it."""
    body = product.model_dump(mode="json", exclude_unset=True)
    return await _admin_write(backends, "POST", "/products", authorization, key, body)


@router.put(
    "/products/{product_id}",
    tags=["admin"],
    summary="Update a product",
    responses={200: {"model": ProductPayload}, **_errors(400, 401, 404, 409, 413, 422, 428, 429)},
)
async def update_product(
    backends: BackendsDep,
    authorization: AdminAuthorization,
    key: HeaderKey,
    product_id: ProductId,
    changes: ProductUpdate,
) -> Response:
    """Change some fields; with `version`, only if nobody changed it since; stock needs `version` (admin only)."""
    body = changes.model_dump(mode="json", exclude_unset=True)
    return await _admin_write(backends, "PUT", f"/products/{product_id}", authorization, key, body)


@router.delete(
    "/products/{product_id}",
    tags=["admin"],
    summary="Delete a product",
    status_code=204,
    responses={204: {"description": "Deleted"}, **_errors(401, 404, 422, 429)},
)
async def delete_product(
    backends: BackendsDep, authorization: AdminAuthorization, key: HeaderKey, product_id: ProductId
) -> Response:
    """Remove a product from the catalog (admin only)."""
    return await _admin_write(backends, "DELETE", f"/products/{product_id}", authorization, key)


@router.post(
    "/products/{product_id}/stock-adjustments",
    tags=["admin"],
    summary="Adjust a product's stock by a delta",
    responses={200: {"model": ProductPayload}, **_errors(400, 401, 404, 409, 422, 429)},
)
async def adjust_stock(
    backends: BackendsDep,
    authorization: AdminAuthorization,
    key: HeaderKey,
    product_id: ProductId,
    adjustment: StockAdjustment,
) -> Response:
    """Move stock by a delta with a reason, never below zero; a repeated `reference` applies once (admin only)."""
    body = adjustment.model_dump(mode="json", exclude_unset=True)
    return await _admin_write(backends, "POST", f"/products/{product_id}/stock-adjustments", authorization, key, body)


@router.post(
    "/products/{product_id}/image",
    tags=["admin"],
    summary="Upload a product's photo",
    status_code=202,
    responses={
        202: {"description": "Taken: `upload_key`, and `status` processing until the thumbnails exist"},
        **_errors(400, 401, 404, 413, 415, 422, 429),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                }
            },
        }
    },
)
async def upload_image(
    request: Request, backends: BackendsDep, authorization: AdminAuthorization, product_id: ProductId
) -> Response:
    """A JPEG, PNG or WebP photo in the multipart part `file` (admin only); the catalog checks it and keeps it."""
    photo = await photo_of(await read_form(request), request.app.state.settings.upload_max_bytes)
    headers = {"authorization": authorization, "content-type": "application/octet-stream"}
    # Not retried once sent: a repeat would only be a second upload, and the newest upload wins anyway.
    return await backends.product.relay("POST", f"/products/{product_id}/image", content=photo, headers=headers)


@router.get(
    "/products/{product_id}/image",
    tags=["admin"],
    summary="A product's current photo upload and whether its thumbnails are made",
    responses={
        200: {"description": "`upload_key`, `status` (processing, ready, none) and the URLs"},
        **_errors(401, 404, 422, 429),
    },
)
async def image_status(backends: BackendsDep, authorization: AdminAuthorization, product_id: ProductId) -> Response:
    """Whether the last upload's thumbnails exist yet (admin only)."""
    return await backends.product.relay(
        "GET", f"/products/{product_id}/image", headers={"authorization": authorization}
    )


@router.post(
    "/categories",
    tags=["admin"],
    summary="Create a category",
    status_code=201,
    responses={201: {"model": CategoryPayload}, **_errors(400, 401, 409, 422, 429)},
)
async def create_category(
    backends: BackendsDep, authorization: AdminAuthorization, key: HeaderKey, category: CategoryCreate
) -> Response:
    """A new category; names are unique whatever their case (admin only)."""
    return await _admin_write(backends, "POST", "/categories", authorization, key, category.model_dump(mode="json"))


@router.put(
    "/categories/{category_id}",
    tags=["admin"],
    summary="Rename a category",
    responses={200: {"model": CategoryPayload}, **_errors(400, 401, 404, 409, 422, 429)},
)
async def rename_category(
    backends: BackendsDep,
    authorization: AdminAuthorization,
    key: HeaderKey,
    category_id: CategoryId,
    rename: CategoryRename,
) -> Response:
    """Rename a category; its products and search follow (admin only)."""
    body = rename.model_dump(mode="json")
    return await _admin_write(backends, "PUT", f"/categories/{category_id}", authorization, key, body)


@router.delete(
    "/categories/{category_id}",
    tags=["admin"],
    summary="Delete an empty category",
    status_code=204,
    responses={204: {"description": "Deleted"}, **_errors(401, 404, 409, 422, 429)},
)
async def delete_category(
    backends: BackendsDep, authorization: AdminAuthorization, key: HeaderKey, category_id: CategoryId
) -> Response:
    """Delete a category that holds no products (admin only)."""
    return await _admin_write(backends, "DELETE", f"/categories/{category_id}", authorization, key)


SearchText = Annotated[SearchWords | None, Query(description="Words to look for")]


@router.get(
    "/search", tags=["search"], summary="Search products", responses={200: {"model": SearchResults}, **_errors(422)}
)
async def search(
    request: Request,
    backends: BackendsDep,
    q: SearchText = None,
    category: CategoryFilter = None,
    min_price: PriceBound = None,
    max_price: PriceBound = None,
    sort: Annotated[SearchSort | None, Query(description="Order; best match first by default")] = None,
    limit: Limit = PAGE_LIMIT_DEFAULT,
    offset: Offset = 0,
) -> Response:
    """Products matching the words, typo-tolerant, with counts per category."""
    params = _present(
        q=q, category=category, min_price=min_price, max_price=max_price, sort=sort, limit=limit, offset=offset
    )
    response = await backends.search.relay("GET", "/search", params=params)
    if q and response.status_code == 200:
        activity.record(request, "search", metadata={"query": activity.bounded(q)})
    return response
