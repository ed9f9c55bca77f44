"""The page's sandbox on the network: its own loopback origin, and nothing else.

``AssetServer`` serves one folder on 127.0.0.1 (a port of its own) and refuses
any path that resolves outside it. ``RefusingProxy`` is the proxy Chromium is
pointed at for every other request: it answers 403 at once, so a blocked
request fails fast instead of waiting for a time-out.
"""

from __future__ import annotations

import io
import re
import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class _AssetHandler(SimpleHTTPRequestHandler):
    def __init__(self, *args, root: Path, **kwargs):
        self._root = root
        super().__init__(*args, directory=str(root), **kwargs)

    def send_head(self):
        path = Path(self.translate_path(self.path)).resolve()
        if not path.is_relative_to(self._root):
            self.send_error(403, "outside the composition folder")
            return None
        wanted = _RANGE.fullmatch(self.headers.get("Range", ""))
        if wanted and path.is_file():
            return self._send_range(path, wanted)
        return super().send_head()

    def _send_range(self, path: Path, wanted: re.Match):
        """A byte range of a file: media elements can only seek in a resource that has them."""
        size = path.stat().st_size
        first, last = wanted.groups()
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:
            start, end = max(0, size - int(last or 0)), size - 1
        if start > end or start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return None
        with path.open("rb") as file:
            file.seek(start)
            body = io.BytesIO(file.read(end - start + 1))
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        return body

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A browser closing a connection early is normal here, not worth a traceback.
        pass


class _LoopbackServer:
    def __init__(self, handler) -> None:
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        # A short poll interval: shutdown() waits up to one interval (0.5 s by default).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def origin(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AssetServer(_LoopbackServer):
    """Serves ``root`` at http://127.0.0.1:PORT/."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        super().__init__(partial(_AssetHandler, root=self.root))

    def url_for(self, path: Path) -> str:
        relative = Path(path).resolve().relative_to(self.root)
        return f"http://{self.origin}/{relative.as_posix()}"


class RefusingProxy(_LoopbackServer):
    """An HTTP proxy that refuses every request at once."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _refuse(self) -> None:
                self.send_error(403, "blocked by the renderlib sandbox")

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _refuse
            do_CONNECT = _refuse

            def log_message(self, format: str, *args) -> None:
                pass

        super().__init__(Handler)
