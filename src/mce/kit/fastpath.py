"""Fast reads: a few hot GETs answered before the framework's routing, when they are valid.

Routing and dependency injection cost more than a hot read itself (about a third of a relay's CPU). A fast read
parses the request with the very model its FastAPI route declares and answers with the very function the route
calls; a request it cannot parse (an invalid one included) goes on to the route, which answers it as always, so the
two cannot differ. The route stays declared for the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mce.kit.errors import DomainError, domain_error_response


@dataclass(frozen=True)
class FastRead:
    """One hot read: the route it stands for, how to parse a request for it, and how to answer."""

    route: str
    parse: Callable[[Scope], Any]
    answer: Callable[[Any], Awaitable[Response]]

    @property
    def template(self) -> SimpleNamespace:
        """What metrics label the request with, as if the route had matched."""
        return SimpleNamespace(path=self.route)


def query_model(scope: Scope, path: str, model: type[BaseModel]) -> BaseModel | None:
    """The query string as the model, when the path is `path` and the query is valid; None otherwise."""
    if scope["path"] != path:
        return None
    # A repeated parameter counts with its last value, as the route reads it.
    given = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
    try:
        return model.model_validate(given)
    except ValidationError:
        return None


def path_id(scope: Scope, prefix: str, maximum: int) -> int | None:
    """The id at the end of `prefix<id>`, when it is one the route would take; None otherwise."""
    path = scope["path"]
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix) :]
    return int(rest) if rest.isdigit() and 1 <= int(rest) <= maximum else None


class FastReadsMiddleware:
    """Answers the reads it can parse; everything else goes on to the app."""

    def __init__(self, app: ASGIApp, *, reads: Sequence[FastRead]) -> None:
        self.app = app
        self.reads = reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            for read in self.reads:
                parsed = read.parse(scope)
                if parsed is not None:
                    scope["route"] = read.template
                    try:
                        response = await read.answer(parsed)
                    except DomainError as exc:
                        response = domain_error_response(exc)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
