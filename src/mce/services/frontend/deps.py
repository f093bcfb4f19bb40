"""Dependencies the routes share; async, so none of them costs a trip to the thread pool."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from mce.kit.contracts import MAX_ID
from mce.services.frontend.clients import Backends


async def get_backends(request: Request) -> Backends:
    """The clients the lifespan opened."""
    return request.app.state.backends


BackendsDep = Annotated[Backends, Depends(get_backends)]
ProductId = Annotated[int, Path(ge=1, le=MAX_ID, description="The product's id")]
CategoryId = Annotated[int, Path(ge=1, le=MAX_ID, description="The category's id")]
