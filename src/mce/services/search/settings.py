"""Settings of the search service, read from MCE_ environment variables."""

from __future__ import annotations

from typing import Literal

from mce.kit.settings import BaseServiceSettings


class SearchSettings(BaseServiceSettings):
    """Which index and bus to use, and where the product service answers (for rebuilds)."""

    search_index: Literal["tantivy"] = "tantivy"
    bus: Literal["local"] = "local"
    product_url: str = "http://127.0.0.1:8001"
