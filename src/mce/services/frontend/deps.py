"""Dependencies the routes share; async, so none of them costs a trip to the thread pool."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from mce.services.frontend import sessions
from mce.services.frontend.clients import Backends
from mce.services.frontend.schemas import MAX_ID


async def get_backends(request: Request) -> Backends:
    """The clients the lifespan opened."""
    return request.app.state.backends


async def shopper_session(request: Request) -> None:
    """Give a first-time visitor their anonymous shopper id."""
    sessions.ensure_shopper_id(request)


BackendsDep = Annotated[Backends, Depends(get_backends)]
ProductId = Annotated[int, Path(ge=1, le=MAX_ID, description="The product's id")]
