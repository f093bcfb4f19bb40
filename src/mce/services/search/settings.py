"""Settings of the search service, read from MCE_ environment variables."""

from __future__ import annotations

from typing import Literal

from mce.kit.bus.factory import BusSettings


class SearchSettings(BusSettings):
    """Which index to use, and where the product service answers (for rebuilds); the bus comes with BusSettings."""

    # tantivy = the embedded index under <data dir>/search-index/, one per replica.
    search_index: Literal["tantivy"] = "tantivy"
    product_url: str = "http://127.0.0.1:8001"
