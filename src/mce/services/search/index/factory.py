"""Build the SearchIndex a setting names; the only place that switches on MCE_SEARCH_INDEX."""

from __future__ import annotations

from pathlib import Path

from mce.kit.settings import SettingsError
from mce.services.search.index.port import SearchIndex

INDEX_CHOICES = ("tantivy",)


def build_index(kind: str, *, data_dir: Path) -> SearchIndex:
    """The index for MCE_SEARCH_INDEX: 'tantivy' is the embedded index under <data_dir>/search-index."""
    if kind == "tantivy":
        from mce.services.search.index.tantivy import TantivySearchIndex

        return TantivySearchIndex(Path(data_dir) / "search-index")
    raise SettingsError(f"MCE_SEARCH_INDEX: unknown index {kind!r}; allowed: {', '.join(INDEX_CHOICES)}")
