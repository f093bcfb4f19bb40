"""Rebuilding from the catalogue: every product once even while products are deleted; bad answers are retried."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from mce.kit.errors import Invalid
from mce.kit.http import HttpResponse
from mce.services.search import rebuild as rebuild_module
from mce.services.search.domain import Product
from mce.services.search.rebuild import CataloguePage, CatalogueRebuild, catalogue_pages


class FakeCatalogue:
    """Serves GET /products?sort=id&after_id= pages from a list, and can change between pages like a live catalogue."""

    def __init__(self, ids: list[int], *, between_pages: Callable[[FakeCatalogue], None] = lambda _: None) -> None:
        self.ids = ids
        self.between_pages = between_pages
        self.asked_after: list[int] = []

    async def fetch(self, after_id: int, limit: int = 10) -> CataloguePage:
        self.asked_after.append(after_id)
        later = [i for i in self.ids if i > after_id][:limit]
        page = CataloguePage(items=[{"id": i} for i in later], total=len(self.ids))
        self.between_pages(self)
        return page


def collect(catalogue: FakeCatalogue) -> list[int]:
    async def run() -> list[int]:
        return [item["id"] async for page in catalogue_pages(catalogue.fetch, page_size=10) for item in page]

    return asyncio.run(run())


def test_every_product_is_read_once_in_id_order():
    assert collect(FakeCatalogue(list(range(1, 36)))) == list(range(1, 36))


def test_each_page_starts_after_the_last_id_seen():
    catalogue = FakeCatalogue(list(range(1, 29)))
    assert collect(catalogue) == list(range(1, 29))
    assert catalogue.asked_after == [0, 10, 20]


def test_a_catalogue_larger_than_any_offset_window_is_read_whole():
    assert collect(FakeCatalogue(list(range(1, 12_346)))) == list(range(1, 12_346))


def test_an_empty_catalogue_has_no_products():
    catalogue = FakeCatalogue([])
    assert collect(catalogue) == []
    assert catalogue.asked_after == [0]


def test_products_deleted_while_paging_do_not_make_later_products_skipped():
    def delete_three_early_products(catalogue: FakeCatalogue) -> None:
        early = [i for i in catalogue.ids if i < 8]
        for product_id in early[:3]:
            catalogue.ids.remove(product_id)

    catalogue = FakeCatalogue(list(range(1, 61)), between_pages=delete_three_early_products)
    seen = collect(catalogue)
    assert set(range(8, 61)) <= set(seen)
    assert seen == sorted(set(seen))


def test_the_catalogue_shrinking_below_the_next_page_still_reads_the_rest():
    def delete_all_but_the_last_five(catalogue: FakeCatalogue) -> None:
        catalogue.ids[:] = catalogue.ids[-5:]

    seen = collect(FakeCatalogue(list(range(1, 31)), between_pages=delete_all_but_the_last_five))
    assert seen[:10] == list(range(1, 11))
    assert set(range(26, 31)) <= set(seen)


def test_a_product_without_an_integer_id_stops_the_paging():
    async def fetch(after_id: int) -> CataloguePage:
        return CataloguePage(items=[{"id": "x"}], total=1)

    async def run() -> None:
        async for _ in catalogue_pages(fetch, page_size=10):
            pass

    with pytest.raises(Invalid):
        asyncio.run(run())


def test_a_catalogue_paging_backwards_stops_the_rebuild_instead_of_looping():
    async def fetch(after_id: int) -> CataloguePage:
        return CataloguePage(items=[{"id": i} for i in range(1, 11)], total=10)

    async def run() -> None:
        async for _ in catalogue_pages(fetch, page_size=10):
            pass

    with pytest.raises(Invalid):
        asyncio.run(run())


def catalogue_product(id: int, price: str = "10.00") -> dict[str, Any]:
    return {
        "id": id,
        "name": f"Gadget {id}",
        "description": "",
        "price": price,
        "stock": 1,
        "category": "Electronics",
        "image_url": None,
        "thumbnail_url": None,
        "created_at": "2026-11-25T10:00:00Z",
        "updated_at": "2026-11-25T10:00:00Z",
        "version": 1,
    }


def page_of(*items: dict[str, Any]) -> HttpResponse:
    return HttpResponse(200, {}, orjson.dumps({"items": list(items), "total": len(items), "limit": 100, "offset": 0}))


class ScriptedProducts:
    """The product service's client, answering each GET with the next scripted answer."""

    def __init__(self, *answers: HttpResponse) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def get(self, path: str, **_: Any) -> HttpResponse:
        self.asked += 1
        return self.answers.pop(0)


class MemoryIndex:
    """Just what a rebuild uses of a SearchIndex."""

    def __init__(self) -> None:
        self.products: dict[int, Product] = {}
        self.complete = False

    def is_complete(self) -> bool:
        return self.complete

    def upsert(self, products: list[Product]) -> int:
        self.products.update({product.id: product for product in products})
        return len(products)

    def mark_complete(self) -> None:
        self.complete = True


def rebuild_with(products: ScriptedProducts) -> tuple[CatalogueRebuild, MemoryIndex]:
    index = MemoryIndex()
    rebuild = CatalogueRebuild(index, products)  # type: ignore[arg-type]
    asyncio.run(rebuild.run())
    return rebuild, index


def test_a_product_service_answering_with_an_error_is_asked_again(monkeypatch):
    monkeypatch.setattr(rebuild_module, "FIRST_BACKOFF_S", 0.0)
    products = ScriptedProducts(HttpResponse(500, {}, b"{}"), HttpResponse(200, {}, b"not json"), page_of())
    rebuild, index = rebuild_with(products)
    assert products.asked == 3
    assert rebuild.status() == {"state": "finished", "indexed": 0, "total": 0, "error": None}
    assert index.complete


def test_a_product_the_index_cannot_take_is_skipped_and_the_rest_are_loaded():
    rebuild, index = rebuild_with(ScriptedProducts(page_of(catalogue_product(1), catalogue_product(2, "1.234"))))
    assert sorted(index.products) == [1]
    assert index.products[1].document["price"] == "10.00"
    assert index.complete
