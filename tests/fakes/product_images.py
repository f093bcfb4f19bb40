"""A fake product service's internal image endpoint over real HTTP on loopback, as the image processor sees it.

PUT /products/<id>/image with the processor's bearer token: 200 and the image fields set when the upload is the
product's current one, 409 when another upload is, 404 for an unknown product, 401 for a wrong token.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PATH = re.compile(r"^/products/(\d+)/image$")


@dataclass
class FakeProductImages:
    """Products by id with their current upload key and image fields, and every call received."""

    token: str
    port: int = 0
    current_upload: dict[int, str] = field(default_factory=dict)
    images: dict[int, dict[str, str]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # While set, every call is answered 503 (the service is up but cannot serve).
    overloaded: bool = False
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeProductImages:
        """Listen on the port given (0: any free one), serving in a thread."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"null")
                fake.calls.append((self.path, body))
                match = _PATH.fullmatch(self.path)
                if fake.overloaded:
                    return self._answer(503, {"error": {"code": "unavailable", "message": "try again"}})
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._answer(401, {"error": {"code": "unauthorized", "message": "bad token"}})
                if match is None or int(match[1]) not in fake.current_upload:
                    return self._answer(404, {"error": {"code": "not_found", "message": "no such product"}})
                product_id = int(match[1])
                if fake.current_upload[product_id] != body.get("upload_key"):
                    return self._answer(409, {"error": {"code": "conflict", "message": "not the current upload"}})
                fake.images[product_id] = {k: body[k] for k in ("image_url", "thumbnail_url")}
                return self._answer(200, {"id": product_id, **fake.images[product_id]})

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening; the port is refused until it starts again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
