"""Shopper activity figures on the JSON API, for staff: the analytics service's windows relayed as they are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from mce.kit.auth import bearer_token
from mce.kit.contracts import WindowPayload
from mce.kit.errors import ErrorBody
from mce.services.frontend import sessions
from mce.services.frontend.api import bearer_scheme
from mce.services.frontend.deps import BackendsDep
from mce.services.frontend.order_api import staff_authorization

router = APIRouter(prefix="/api/analytics", tags=["analytics"])

WINDOWS_LIMIT_MAX = 1440  # a day of one-minute windows, as the analytics service allows
Limit = Annotated[int, Query(ge=1, le=WINDOWS_LIMIT_MAX, description="How many windows to return (1 to 1440)")]


async def staff_reader(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
) -> None:
    """Staff only: the admin token, or an admin's signed-in session (the dashboard's own script); else 401 or 403.

    The session is taken for this read because it changes nothing and no other site can read the answer (no CORS);
    the dashboard's polling does not count as the admin's activity, so it keeps no one signed in.
    """
    if bearer_token(request) is None and sessions.is_admin(request, touch=False):
        return
    await staff_authorization(request, None)


class WindowList(BaseModel):
    """Stored windows, newest first."""

    windows: list[WindowPayload]


@router.get(
    "/windows",
    dependencies=[Depends(staff_reader)],
    summary="Unique users and events per minute, newest window first (staff only)",
    responses={
        200: {"model": WindowList},
        **{status: {"model": ErrorBody} for status in (401, 403, 422, 429, 502, 503)},
    },
)
async def windows(backends: BackendsDep, limit: Limit = 60) -> Response:
    """The analytics service's latest windows, `{"windows": [...]}`; 503 `unavailable` naming it when it is down."""
    response = await backends.analytics.relay("GET", "/windows", params={"limit": limit})
    response.headers["cache-control"] = "no-store"
    return response
