"""Settings of the search service, read from MCE_ environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr

from mce.kit.bus.factory import BusSettings
from mce.kit.settings import ServiceUrl


class SearchSettings(BusSettings):
    """Which index to use, and where the product service answers (for rebuilds); the bus comes with BusSettings."""

    # tantivy = the embedded index under <data dir>/search-index/, one per replica; opensearch = one index that every
    # replica shares, on the server at opensearch_endpoint.
    search_index: Literal["tantivy", "opensearch"] = "tantivy"
    product_url: ServiceUrl = "http://127.0.0.1:8001"
    # The design doc's plain name works too; env_prefix does not apply to aliased fields, so both names are listed.
    opensearch_endpoint: str = Field(
        default="http://127.0.0.1:19200",
        validation_alias=AliasChoices("MCE_OPENSEARCH_ENDPOINT", "OPENSEARCH_ENDPOINT", "opensearch_endpoint"),
    )
    opensearch_index: str = Field(default="products", pattern=r"^[a-z0-9][a-z0-9_.-]{0,200}$")
    # Basic auth, for a domain with fine-grained access control (AWS); unset, requests carry no credentials.
    opensearch_username: str | None = None
    opensearch_password: SecretStr | None = None
    # Whether an https endpoint's certificate must be valid; off only for a local server with a self-signed one.
    opensearch_verify_certs: bool = True
    opensearch_timeout_s: float = Field(default=5.0, gt=0, le=120)
