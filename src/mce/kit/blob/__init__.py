"""The BlobStore port (S3-like object storage), its adapters and the object-created notifications it sends."""

from mce.kit.blob.port import BlobInfo, BlobNotFound, BlobStore, check_key

__all__ = ["BlobInfo", "BlobNotFound", "BlobStore", "check_key"]
