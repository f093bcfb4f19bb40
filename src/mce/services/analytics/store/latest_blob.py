"""The latest windows as one JSON blob (`analytics/latest.json`), for a static dashboard or a CDN to read.

A dashboard polling the Function's route costs an invocation (and a cold start) per viewer per refresh; a blob
behind a CDN costs nothing per viewer, and the windows only change when a batch arrives. So the Function writes
the blob after each batch that changed a window, and readers who need no query parameters read the blob.
"""

from __future__ import annotations

import contextlib
import random
import time
from datetime import UTC, datetime

import orjson
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings

from mce.kit.errors import Unavailable
from mce.services.analytics.domain import WINDOWS_LIMIT_DEFAULT, windows_body
from mce.services.analytics.store.azure_tables import CLIENT_OPTIONS, translated_errors
from mce.services.analytics.store.port import WindowStore

WHAT = "analytics blob storage"
CONTAINER_DEFAULT = "analytics"
BLOB_NAME = "latest.json"
# Windows close once a minute: a reader may be a few seconds behind, and the CDN absorbs the rest.
CACHE_CONTROL = "public, max-age=10"
RACES_MAX = 30


class LatestWindowsBlob:
    """Writes the newest windows to one blob; concurrent writers never leave an older view over a newer one."""

    def __init__(self, container: ContainerClient, limit: int = WINDOWS_LIMIT_DEFAULT) -> None:
        self.container = container
        self.blob = container.get_blob_client(BLOB_NAME)
        self.limit = limit

    @classmethod
    def connect(
        cls, connection_string: str, container: str = CONTAINER_DEFAULT, *, create: bool = True
    ) -> LatestWindowsBlob:
        """The blob in this account's container, the container made first when `create` and absent."""
        with translated_errors(WHAT):
            client = BlobServiceClient.from_connection_string(connection_string, **CLIENT_OPTIONS)
            found = client.get_container_client(container)
            if create:
                with contextlib.suppress(ResourceExistsError):
                    found.create_container()
            return cls(found)

    def publish(self, store: WindowStore) -> None:
        """Write the store's newest windows, `{"windows": [...], "updated_at": ...}`, newest first.

        The windows are read after the ETag of the blob, and written only over that ETag: a writer whose view may be
        older than one written meanwhile reads again instead of overwriting it.
        """
        with translated_errors(WHAT):
            for race in range(RACES_MAX):
                try:
                    etag: str | None = self.blob.get_blob_properties().etag
                except ResourceNotFoundError:
                    etag = None
                body = windows_body(store.recent(self.limit))
                body["updated_at"] = datetime.now(UTC).isoformat()
                guard = (
                    {"etag": etag, "match_condition": MatchConditions.IfNotModified}
                    if etag
                    else {"match_condition": MatchConditions.IfMissing}
                )
                try:
                    self.blob.upload_blob(
                        orjson.dumps(body),
                        overwrite=True,
                        content_settings=ContentSettings(content_type="application/json", cache_control=CACHE_CONTROL),
                        **guard,
                    )
                except (ResourceModifiedError, ResourceExistsError):
                    # Spread the retries of writers that collided, so they do not collide again in step.
                    time.sleep(random.uniform(0, 0.005 * (race + 1)))
                    continue
                return
        raise Unavailable(f"{WHAT}: lost {RACES_MAX} races to write {BLOB_NAME} in a row", service=WHAT)

    def close(self) -> None:
        """Release connections."""
        self.container.close()
