"""The JSON the search API answers with."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mce.services.search.domain import Product


class Facets(BaseModel):
    """Counts that help narrow a search."""

    category: dict[str, int] = Field(
        description="Matching products per category, counted without the category filter so every choice shows"
    )


class SearchResults(BaseModel):
    """One page of search results."""

    items: list[Product]
    total: int = Field(description="How many products match, across all pages")
    facets: Facets
    limit: int
    offset: int
