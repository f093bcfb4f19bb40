"""Build the SearchIndex a setting names; the only place that switches on MCE_SEARCH_INDEX."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mce.kit.settings import SettingsError
from mce.services.search.index.port import SearchIndex

if TYPE_CHECKING:
    from mce.services.search.settings import SearchSettings

INDEX_CHOICES = ("tantivy", "opensearch")


def build_index(settings: SearchSettings) -> SearchIndex:
    """The index for MCE_SEARCH_INDEX: 'tantivy' under <data dir>/search-index, 'opensearch' on its endpoint."""
    kind = settings.search_index
    if kind == "tantivy":
        from mce.services.search.index.tantivy import TantivySearchIndex

        return TantivySearchIndex(Path(settings.data_dir) / "search-index")
    if kind == "opensearch":
        from mce.services.search.index.opensearch import OpenSearchSearchIndex, connect

        password = settings.opensearch_password
        client = connect(
            settings.opensearch_endpoint,
            username=settings.opensearch_username,
            password=password.get_secret_value() if password else None,
            verify_certs=settings.opensearch_verify_certs,
            timeout_s=settings.opensearch_timeout_s,
        )
        try:
            return OpenSearchSearchIndex(client, settings.opensearch_index)
        except BaseException:
            client.close()
            raise
    raise SettingsError(f"MCE_SEARCH_INDEX: unknown index {kind!r}; allowed: {', '.join(INDEX_CHOICES)}")
