"""A fake product service in memory: the same routes, validation and errors as the real one, and a call log.

It validates with the shared wire contracts and the kit's app factory, and runs the product API contract suite,
so the frontend's tests can never pass against a catalog more lenient than the real one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi import Path as PathParam

from mce.kit import idempotency
from mce.kit.app import create_service_app
from mce.kit.auth import check_admin
from mce.kit.contracts import (
    MAX_ID,
    STOCK_MAX,
    CategoryCreate,
    CategoryRename,
    ProductCreate,
    ProductListQuery,
    ProductUpdate,
    StockAdjustment,
    category_key,
)
from mce.kit.errors import Conflict, Invalid, NotFound, PreconditionRequired, problem
from mce.kit.money import format_amount
from mce.kit.settings import BaseServiceSettings
from mce.services.product import images

ADMIN_TOKEN = "test-admin-token-0123456789"

ProductId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
CategoryId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any = None


async def _admin(request: Request) -> None:
    await check_admin(request, ADMIN_TOKEN)


# Module-level, because route annotations are resolved in the module's namespace.
Admin = [Depends(_admin)]
Key = idempotency.HeaderKey

SORT_KEYS = {
    "newest": (lambda p: p["id"], True),
    "id": (lambda p: p["id"], False),
    "name": (lambda p: (p["name"], p["id"]), False),
    "price_asc": (lambda p: (Decimal(p["price"]), p["id"]), False),
    "price_desc": (lambda p: (Decimal(p["price"]), p["id"]), True),
}


@dataclass
class FakeCatalog:
    """The product service in memory; `products` holds product JSON as the real one answers with it."""

    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    categories: dict[int, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    keys: dict[str, tuple[str, int, bytes, str | None]] = field(default_factory=dict)
    references: set[tuple[int, str]] = field(default_factory=set)
    # Each product's current photo upload key, and the bytes of every upload taken.
    uploads: dict[int, str] = field(default_factory=dict)
    uploaded: dict[str, bytes] = field(default_factory=dict)
    next_id: int = 1

    def add_category(self, name: str) -> int:
        """A category, made if it does not exist yet; its id."""
        for category_id, existing in self.categories.items():
            if category_key(existing) == category_key(name):
                return category_id
        category_id = max(self.categories, default=0) + 1
        self.categories[category_id] = name
        return category_id

    def add(
        self,
        name: str,
        *,
        price: str | float = "10.00",
        stock: int = 10,
        category: str = "Electronics",
        description: str = "",
        image_url: str | None = None,
        thumbnail_url: str | None = None,
    ) -> dict[str, Any]:
        """Put a product in the catalog (and its category, if new), as if created through the API."""
        category = self.categories[self.add_category(category)]
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        product = {
            "id": self.next_id,
            "name": name,
            "description": description,
            "price": format_amount(Decimal(str(price))),
            "stock": stock,
            "category": category,
            "image_url": image_url,
            "thumbnail_url": thumbnail_url,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        self.products[self.next_id] = product
        self.next_id += 1
        return product

    def calls_to(self, method: str, path: str) -> list[Call]:
        """The calls received for one method and path."""
        return [call for call in self.calls if call.method == method and call.path == path]

    def app(self) -> FastAPI:
        """The fake service as an ASGI app."""
        settings = BaseServiceSettings(data_dir="/nonexistent-fake-catalog")
        app = create_service_app("product", settings, description="A fake catalog.")
        catalog = self

        async def record(request: Request) -> None:
            body = None
            raw = await request.body()
            if raw:
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    body = raw
            catalog.calls.append(
                Call(request.method, request.url.path, dict(request.query_params), dict(request.headers), body)
            )

        app.router.dependencies.insert(0, Depends(record))

        def keyed(request: Request, key: str | None, body: Any, status: int, work) -> Response:  # noqa: ANN001
            fingerprint = idempotency.fingerprint(request.method, request.url.path, body)
            if key is not None and key in catalog.keys:
                stored_fingerprint, stored_status, content, location = catalog.keys[key]
                if stored_fingerprint != fingerprint:
                    raise Invalid(
                        "this Idempotency-Key was already used for a different request",
                        details=[problem("Idempotency-Key", "already used for a different request; use a new key")],
                    )
                headers = {"idempotent-replayed": "true", **({"location": location} if location else {})}
                return Response(content or None, stored_status, headers=headers, media_type="application/json")
            payload, location = work()
            content = b"" if payload is None else orjson.dumps(payload)
            if key is not None:
                catalog.keys[key] = (fingerprint, status, content, location)
            media = "application/json" if content else None
            return Response(
                content or None, status, headers={"location": location} if location else None, media_type=media
            )

        def product(product_id: int) -> dict[str, Any]:
            if product_id not in catalog.products:
                raise NotFound(f"product {product_id} not found")
            return catalog.products[product_id]

        def existing_category(name: str) -> str:
            for existing in catalog.categories.values():
                if category_key(existing) == category_key(name):
                    return existing
            raise Invalid(
                f"category {name!r} does not exist; an admin creates categories first",
                details=[problem("category", f"no category named {name!r}")],
            )

        def category_json(category_id: int) -> dict[str, Any]:
            name = catalog.categories[category_id]
            count = sum(1 for p in catalog.products.values() if p["category"] == name)
            return {"id": category_id, "name": name, "count": count}

        def changed(item: dict[str, Any], **values: Any) -> dict[str, Any]:
            item.update(values, version=item["version"] + 1)
            item["updated_at"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            return item

        @app.get("/products")
        async def list_products(query: Annotated[ProductListQuery, Query()]) -> dict[str, Any]:
            key_of, reverse = SORT_KEYS[query.sort]
            wanted = category_key(query.category) if query.category else None
            after = query.after_id if query.after_id is not None else -1
            matching = [
                p
                for p in catalog.products.values()
                if (wanted is None or category_key(p["category"]) == wanted) and p["id"] > after
            ]
            matching.sort(key=key_of, reverse=reverse)
            limit, offset = query.limit, query.offset
            return {
                "items": matching[offset : offset + limit],
                "total": len(matching),
                "limit": limit,
                "offset": offset,
            }

        @app.get("/products/{product_id}")
        async def get_product(product_id: ProductId) -> dict[str, Any]:
            return product(product_id)

        @app.post("/products", status_code=201, dependencies=Admin)
        def create_product(request: Request, key: Key, body: ProductCreate) -> Response:
            def work() -> tuple[dict[str, Any], str]:
                fields = body.model_dump()
                created = catalog.add(**{**fields, "category": existing_category(fields["category"])})
                return created, f"/products/{created['id']}"

            return keyed(request, key, body.model_dump(mode="json"), 201, work)

        @app.put("/products/{product_id}", dependencies=Admin)
        def update_product(request: Request, key: Key, product_id: ProductId, body: ProductUpdate) -> Response:
            try:
                changes = body.changes()
            except ValueError as exc:
                raise Invalid(str(exc), details=[problem("", str(exc))]) from None
            if not changes:
                raise Invalid("give at least one field to change", details=[problem("", "no field to change")])

            def work() -> tuple[dict[str, Any], None]:
                if "stock" in changes and body.version is None:
                    raise PreconditionRequired(
                        'changing stock needs the version you read (send "version"), or adjust it by a delta instead',
                        details=[problem("version", "required when stock is given")],
                    )
                item = product(product_id)
                if body.version is not None and body.version != item["version"]:
                    raise Conflict(
                        f"product {product_id} is at version {item['version']}, not {body.version}; reload and retry",
                        details=[problem("version", f"the product is now at version {item['version']}")],
                    )
                values = dict(changes)
                if "category" in values:
                    values["category"] = existing_category(values["category"])
                if "price" in values:
                    values["price"] = format_amount(values["price"])
                return changed(item, **values), None

            return keyed(request, key, body.model_dump(mode="json", exclude_unset=True), 200, work)

        @app.delete("/products/{product_id}", status_code=204, dependencies=Admin)
        def delete_product(request: Request, key: Key, product_id: ProductId) -> Response:
            def work() -> tuple[None, None]:
                product(product_id)
                del catalog.products[product_id]
                return None, None

            return keyed(request, key, None, 204, work)

        @app.post("/products/{product_id}/stock-adjustments", dependencies=Admin)
        def adjust_stock(request: Request, key: Key, product_id: ProductId, body: StockAdjustment) -> Response:
            def work() -> tuple[dict[str, Any], None]:
                item = product(product_id)
                reference = (product_id, body.reference or "")
                if body.reference is not None and reference in catalog.references:
                    return item, None
                after = item["stock"] + body.delta
                if after < 0:
                    raise Conflict(
                        f"only {item['stock']} of product {product_id} in stock; cannot take {-body.delta}",
                        details=[problem("delta", f"only {item['stock']} in stock")],
                    )
                if after > STOCK_MAX:
                    raise Conflict(
                        f"stock of product {product_id} would exceed {STOCK_MAX}",
                        details=[problem("delta", "too large")],
                    )
                if body.reference is not None:
                    catalog.references.add(reference)
                return changed(item, stock=after), None

            return keyed(request, key, body.model_dump(mode="json"), 200, work)

        @app.post("/products/{product_id}/image", status_code=202, dependencies=Admin)
        async def upload_image(request: Request, product_id: ProductId) -> dict[str, Any]:
            data = await request.body()
            checked = images.check_image(data, max_bytes=10 * 1024 * 1024, max_pixels=50_000_000)
            product(product_id)
            key = images.new_upload_key(product_id, checked.extension)
            catalog.uploads[product_id] = key
            catalog.uploaded[key] = data
            return {"product_id": product_id, "upload_key": key, "status": "processing"}

        @app.get("/products/{product_id}/image", dependencies=Admin)
        async def image_state(product_id: ProductId) -> dict[str, Any]:
            item = product(product_id)
            key = catalog.uploads.get(product_id)
            return {
                "product_id": product_id,
                "upload_key": key,
                "status": images.image_status(product_id, key, item["image_url"], item["thumbnail_url"]),
                "image_url": item["image_url"],
                "thumbnail_url": item["thumbnail_url"],
            }

        @app.get("/categories")
        async def list_categories() -> dict[str, Any]:
            ordered = sorted(catalog.categories, key=lambda i: category_key(catalog.categories[i]))
            return {"items": [category_json(i) for i in ordered]}

        @app.get("/categories/{category_id}")
        async def get_category(category_id: CategoryId) -> dict[str, Any]:
            if category_id not in catalog.categories:
                raise NotFound(f"category {category_id} not found")
            return category_json(category_id)

        def refuse_taken(name: str, own_id: int | None) -> None:
            for category_id, existing in catalog.categories.items():
                if category_key(existing) == category_key(name) and category_id != own_id:
                    raise Conflict(
                        f"a category named {existing!r} already exists", details=[problem("name", "already in use")]
                    )

        @app.post("/categories", status_code=201, dependencies=Admin)
        def create_category(request: Request, key: Key, body: CategoryCreate) -> Response:
            def work() -> tuple[dict[str, Any], str]:
                refuse_taken(body.name, None)
                category_id = catalog.add_category(body.name)
                return category_json(category_id), f"/categories/{category_id}"

            return keyed(request, key, body.model_dump(mode="json"), 201, work)

        @app.put("/categories/{category_id}", dependencies=Admin)
        def rename_category(request: Request, key: Key, category_id: CategoryId, body: CategoryRename) -> Response:
            def work() -> tuple[dict[str, Any], None]:
                if category_id not in catalog.categories:
                    raise NotFound(f"category {category_id} not found")
                refuse_taken(body.name, category_id)
                old = catalog.categories[category_id]
                catalog.categories[category_id] = body.name
                for item in catalog.products.values():
                    if item["category"] == old:
                        changed(item, category=body.name)
                return category_json(category_id), None

            return keyed(request, key, body.model_dump(mode="json"), 200, work)

        @app.delete("/categories/{category_id}", status_code=204, dependencies=Admin)
        def delete_category(request: Request, key: Key, category_id: CategoryId) -> Response:
            def work() -> tuple[None, None]:
                if category_id not in catalog.categories:
                    raise NotFound(f"category {category_id} not found")
                count = category_json(category_id)["count"]
                if count:
                    name, held = catalog.categories[category_id], f"{count} product{'s' if count != 1 else ''}"
                    raise Conflict(
                        f"category {name!r} still holds {held}; move or delete them first",
                        details=[problem("", f"{held} in it")],
                    )
                del catalog.categories[category_id]
                return None, None

            return keyed(request, key, None, 204, work)

        return app
