"""Product photo uploads through the gateway: a multipart form read within a size limit, sent on as raw bytes.

The request context caps an upload route's body at the photo limit plus room for the form around it, before
anything is read; what is read is parsed here, and the photo itself is checked against the exact limit.
"""

from __future__ import annotations

import re

from fastapi import Request
from starlette.datastructures import FormData, UploadFile

from mce.kit.errors import Invalid, PayloadTooLarge, UnsupportedMediaType, problem

# Paths that take a photo: the JSON API's and the admin page's.
UPLOAD_PATHS = re.compile(r"/(?:api|admin)/products/[^/]+/image")
# What a multipart form adds around the photo: boundaries, part headers, the CSRF token and the idempotency key.
FORM_OVERHEAD_BYTES = 64 * 1024
FIELD = "file"


def body_limit(max_bytes: int) -> int:
    """The most bytes a request to an upload path may carry: the photo and its form."""
    return max_bytes + FORM_OVERHEAD_BYTES


async def read_form(request: Request) -> FormData:
    """The multipart form of an upload (415 if the body is not one; Starlette answers 400 for a malformed one)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise UnsupportedMediaType(
            "send the photo as multipart/form-data, in a part named 'file'",
            details=[problem("", "the body must be multipart/form-data")],
        )
    return await parse_form(request)


async def parse_form(request: Request) -> FormData:
    """The request's form, multipart or not, with room for one file and a few small fields."""
    # The fields besides the photo are a token or two, hence so few and so small.
    return await request.form(max_files=1, max_fields=8, max_part_size=4096)


async def photo_of(form: FormData, max_bytes: int) -> bytes:
    """The bytes of the form's `file` part; 422 without one, 413 over max_bytes."""
    part = form.get(FIELD)
    if not isinstance(part, UploadFile):
        raise Invalid("the form has no photo", details=[problem(FIELD, "required: the photo file")])
    try:
        data = await part.read(max_bytes + 1)
    finally:
        await part.close()
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"a photo may be at most {max_bytes} bytes", details=[problem(FIELD, f"over {max_bytes} bytes")]
        )
    return data
