"""A local stand-in for the WorkOS API (127.0.0.1 only): 200 for the right bearer token, else 401."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def serve(key: str) -> Iterator[http.server.ThreadingHTTPServer]:
    """Yields the server with ``.url``, ``.key`` and ``.seen`` (path, Authorization) pairs."""
    seen: list[tuple[str, str | None]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            ok = self.headers.get("Authorization") == f"Bearer {key}"
            body = b'{"data": [], "list_metadata": {}}' if ok else b'{"message": "Unauthorized"}'
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.key, server.seen = key, seen
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
