"""The staff dashboard of shopper activity: a live chart of unique users and events per minute."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from mce.kit.errors import DomainError
from mce.services.frontend.admin import ADMIN_PAGE
from mce.services.frontend.deps import BackendsDep
from mce.services.frontend.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)

# The chart's span: the last hour of one-minute windows.
CHART_WINDOWS = 60


def minute_label(ms: int) -> str:
    """A window's time as HH:MM in UTC."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M")


def window_rows(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Windows as the page's table shows them, newest first."""
    return [
        {
            "start": minute_label(window["window_start"]),
            "end": minute_label(window["window_end"]),
            "day": datetime.fromtimestamp(window["window_start"] / 1000, UTC).strftime("%Y-%m-%d"),
            "unique_users": window["unique_users"],
            "event_count": window["event_count"],
        }
        for window in windows
    ]


@router.get("/analytics", dependencies=ADMIN_PAGE)
async def dashboard(request: Request, backends: BackendsDep) -> Response:
    """The chart (drawn and kept current by /static/analytics.js), and a table for screen readers and no script."""
    unavailable = False
    try:
        body = await backends.analytics.fetch_json("/windows", {"limit": CHART_WINDOWS})
        windows = body["windows"]
    except DomainError:
        # The page still loads; its script keeps asking, and draws the chart once analytics answers.
        unavailable, windows = True, []
    context = {
        "rows": window_rows(windows),
        "latest": window_rows(windows[:1])[0] if windows else None,
        "unavailable": unavailable,
        "chart_windows": CHART_WINDOWS,
    }
    return render(request, "admin/analytics.html", context)
