"""FilesystemBlobStore: a bucket as a directory, each object one file holding a header line and the bytes.

Header and bytes share one file, written to a temporary name and renamed into place, so a reader sees the old
object or the new one, whole, never a mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import orjson

from mce.kit.blob.port import BlobInfo, BlobNotFound, BlobStore, check_key

Notify = Callable[[str, BlobInfo], None]


class FilesystemBlobStore(BlobStore):
    """Objects under <root>/<bucket>/<key>; `notify(bucket, info)` is told of each object put."""

    def __init__(self, root: Path, bucket: str, notify: Notify | None = None) -> None:
        self.bucket = check_key(bucket)
        self.directory = Path(root) / bucket
        self.directory.mkdir(parents=True, exist_ok=True)
        self.notify = notify

    def _path(self, key: str) -> Path:
        return self.directory / check_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> BlobInfo:
        """Store the bytes under the key, replacing any object there, atomically; then notify of the new object."""
        path = self._path(key)
        info = BlobInfo(key=key, size=len(data), content_type=content_type, etag=hashlib.md5(data).hexdigest())
        header = orjson.dumps({"content_type": content_type, "etag": info.etag}) + b"\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(header)
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        if self.notify is not None:
            self.notify(self.bucket, info)
        return info

    def get(self, key: str) -> tuple[bytes, BlobInfo]:
        """The object's bytes and info; BlobNotFound when there is none."""
        try:
            raw = self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(f"no object {key!r}") from None
        header, _, data = raw.partition(b"\n")
        meta = orjson.loads(header)
        return data, BlobInfo(key=key, size=len(data), content_type=meta["content_type"], etag=meta["etag"])

    def head(self, key: str) -> BlobInfo | None:
        """The object's info, or None when there is none."""
        try:
            with self._path(key).open("rb") as file:
                meta = orjson.loads(file.readline())
                size = os.fstat(file.fileno()).st_size - file.tell()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        return BlobInfo(key=key, size=size, content_type=meta["content_type"], etag=meta["etag"])

    def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def ping(self) -> None:
        """Raise if the bucket's directory is gone or not writable."""
        if not os.access(self.directory, os.W_OK):
            raise OSError(f"blob directory {self.directory} is not writable")

    def close(self) -> None:
        """Nothing to release: files are opened per call."""
