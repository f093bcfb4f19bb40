"""The search service's index settings: which index, and where OpenSearch answers."""

from __future__ import annotations

import pytest

from mce.kit.settings import SettingsError, load_settings
from mce.services.search.settings import SearchSettings


def test_the_embedded_index_is_the_default(monkeypatch):
    monkeypatch.delenv("MCE_SEARCH_INDEX", raising=False)
    assert load_settings(SearchSettings).search_index == "tantivy"


@pytest.mark.parametrize("variable", ["MCE_OPENSEARCH_ENDPOINT", "OPENSEARCH_ENDPOINT"])
def test_the_opensearch_endpoint_is_read_under_either_name(monkeypatch, variable):
    monkeypatch.delenv("MCE_OPENSEARCH_ENDPOINT", raising=False)
    monkeypatch.delenv("OPENSEARCH_ENDPOINT", raising=False)
    monkeypatch.setenv("MCE_SEARCH_INDEX", "opensearch")
    monkeypatch.setenv(variable, "https://search.example:443")
    settings = load_settings(SearchSettings)
    assert (settings.search_index, settings.opensearch_endpoint) == ("opensearch", "https://search.example:443")
    assert (settings.opensearch_index, settings.opensearch_verify_certs) == ("products", True)


def test_an_unknown_index_fails_at_startup_naming_the_setting(monkeypatch):
    monkeypatch.setenv("MCE_SEARCH_INDEX", "solr")
    with pytest.raises(SettingsError, match="MCE_SEARCH_INDEX"):
        load_settings(SearchSettings)


def test_an_index_name_opensearch_would_refuse_fails_at_startup(monkeypatch):
    monkeypatch.setenv("MCE_OPENSEARCH_INDEX", "Products/../x")
    with pytest.raises(SettingsError, match="MCE_OPENSEARCH_INDEX"):
        load_settings(SearchSettings)


def test_the_opensearch_password_is_never_shown(monkeypatch):
    monkeypatch.setenv("MCE_OPENSEARCH_PASSWORD", "hunter2")
    monkeypatch.setenv("MCE_OPENSEARCH_TIMEOUT_S", "-1")
    with pytest.raises(SettingsError) as raised:
        load_settings(SearchSettings)
    assert "hunter2" not in str(raised.value)
    monkeypatch.delenv("MCE_OPENSEARCH_TIMEOUT_S")
    assert "hunter2" not in repr(load_settings(SearchSettings))
