"""Paging through the catalogue for a rebuild: every product once, even while products are being deleted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from mce.kit.errors import Invalid
from mce.services.search.rebuild import CataloguePage, catalogue_pages


class FakeCatalogue:
    """Serves GET /products?sort=id pages from a list, and can change between pages like a live catalogue."""

    def __init__(self, ids: list[int], *, between_pages: Callable[[FakeCatalogue], None] = lambda _: None) -> None:
        self.ids = ids
        self.between_pages = between_pages
        self.offsets: list[int] = []

    async def fetch(self, offset: int, limit: int = 10) -> CataloguePage:
        self.offsets.append(offset)
        page = CataloguePage(items=[{"id": i} for i in self.ids[offset : offset + limit]], total=len(self.ids))
        self.between_pages(self)
        return page


def collect(catalogue: FakeCatalogue) -> list[int]:
    async def run() -> list[int]:
        return [item["id"] async for page in catalogue_pages(catalogue.fetch, page_size=10) for item in page]

    return asyncio.run(run())


def test_every_product_is_read_once_in_id_order():
    assert collect(FakeCatalogue(list(range(1, 36)))) == list(range(1, 36))


def test_a_last_page_holding_only_the_overlap_ends_the_paging():
    catalogue = FakeCatalogue(list(range(1, 29)))
    assert collect(catalogue) == list(range(1, 29))
    assert catalogue.offsets == [0, 9, 18, 27]


def test_an_empty_catalogue_has_no_products():
    catalogue = FakeCatalogue([])
    assert collect(catalogue) == []
    assert catalogue.offsets == [0]


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
    catalogue = FakeCatalogue([])
    catalogue.ids = ["x"]  # type: ignore[list-item]
    with pytest.raises(Invalid):
        collect(catalogue)
