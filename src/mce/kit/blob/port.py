"""BlobStore port: objects under keys in one bucket, written whole or not at all, like S3.

A store may notify someone of each object it creates (S3's event notifications); see kit.blob.notifications.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

from mce.kit.errors import Invalid, NotFound, problem

KEY_MAX = 1024
# Our keys are paths of plain segments: no '..', no leading '/', nothing a filesystem or a URL treats specially.
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


class BlobNotFound(NotFound):
    """No object under that key."""


@dataclass(frozen=True)
class BlobInfo:
    """What a store knows of one object."""

    key: str
    size: int
    content_type: str
    etag: str  # hex MD5 of the bytes, as S3 gives for a single-part upload


def check_key(key: str) -> str:
    """The key as given, or Invalid: 1 to 1024 characters, '/'-separated segments of letters, digits, '.', '_', '-'."""
    if (
        not isinstance(key, str)
        or not 0 < len(key) <= KEY_MAX
        or not all(_SEGMENT.fullmatch(segment) for segment in key.split("/"))
    ):
        raise Invalid(
            "a blob key is '/'-separated segments of A-Z, a-z, 0-9, '.', '_', '-'",
            details=[problem("key", "must be 1 to 1024 characters of plain path segments")],
        )
    return key


class BlobStore(ABC):
    """A bucket of objects."""

    bucket: str

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> BlobInfo:
        """Store the bytes under the key, replacing any object there, atomically; then notify of the new object."""

    @abstractmethod
    def get(self, key: str) -> tuple[bytes, BlobInfo]:
        """The object's bytes and info; BlobNotFound when there is none."""

    @abstractmethod
    def head(self, key: str) -> BlobInfo | None:
        """The object's info, or None when there is none."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot be reached."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
