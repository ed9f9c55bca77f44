"""The page reaches only its own files: decoy servers elsewhere on loopback hear nothing.

Only loopback addresses are used here; link-local and other hosts take the same
path through the refusing proxy (``--proxy-bypass-list=<-loopback>;...``), which
the last test pins down without sending them any traffic.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from renderlib import Composition, render
from renderlib.browser import Browser
from tests.helpers import decode_frames
from tests.render.conftest import write_composition


class Decoy:
    """An HTTP server that counts every request it receives."""

    def __init__(self, host: str) -> None:
        self.requests: list[str] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                requests.append(self.path)
                self.send_response(200)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(b"decoy")

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def decoys():
    servers = [Decoy("127.0.0.1"), Decoy("127.0.0.2")]
    yield servers
    for server in servers:
        server.close()


def test_page_cannot_reach_other_loopback_origins_or_files(page_dir, decoys):
    (page_dir.parent / "secret.txt").write_text("outside the composition")
    (page_dir / "own.txt").write_text("mine")
    attempts = []
    for decoy in decoys:
        attempts += [
            f"fetch('{decoy.url}/fetch').then(ok, no)",
            f"fetch('{decoy.url}/post', {{method: 'POST', body: 'x'}}).then(ok, no)",
            f"new Promise(r => {{ const i = new Image(); i.onload = () => r(ok());"
            f" i.onerror = () => r(no()); i.src = '{decoy.url}/img'; }})",
            f"new Promise(r => {{ const s = document.createElement('script');"
            f" s.onload = () => r(ok()); s.onerror = () => r(no()); s.src = '{decoy.url}/js';"
            f" document.head.appendChild(s); }})",
            f"new Promise(r => {{ const w = new WebSocket('{decoy.url.replace('http', 'ws')}/ws');"
            f" w.onopen = () => r(ok()); w.onerror = () => r(no()); }})",
        ]
    attempts += [
        "fetch('file:///etc/hostname').then(ok, no)",
        "fetch('/../secret.txt').then(r => r.ok ? ok() : no(), no)",
        "fetch('/%2e%2e/secret.txt').then(r => r.ok ? ok() : no(), no)",
    ]
    html = f"""<!doctype html><html><body style="margin:0;background:#000">
<div id="own" style="position:absolute;left:0;top:0;width:40px;height:40px"></div>
<div id="leak" style="position:absolute;left:80px;top:0;width:40px;height:40px"></div>
<script>
const ok = () => true, no = () => false;
const release = window.renderlib.hold("network attempts");
Promise.all([{", ".join(attempts)}]).then(results => {{
  if (results.some(Boolean)) document.getElementById("leak").style.background = "#fff";
  return fetch("own.txt").then(r => r.text());
}}).then(text => {{
  if (text === "mine") document.getElementById("own").style.background = "#fff";
}}).finally(release);
</script></body></html>"""
    path = write_composition(page_dir, html, frames=2)
    frames = decode_frames(render(Composition.load(path), page_dir / "out.mp4").path)
    assert frames[1][20, 20].mean() > 200, "the page could not read its own file"
    assert frames[1][20, 100].mean() < 50, "some request outside the sandbox succeeded"
    for decoy in decoys:
        assert decoy.requests == [], f"{decoy.url} was reached: {decoy.requests}"


def test_every_non_page_request_goes_to_the_refusing_proxy(monkeypatch):
    seen = {}

    class Recorder:
        def __init__(self, *, options, service):
            seen["arguments"] = options.arguments
            raise RuntimeError("not starting a browser in this test")

    monkeypatch.setattr("renderlib.browser.webdriver.Chrome", Recorder)
    with pytest.raises(RuntimeError):
        Browser(width=64, height=64, allowed_origin="127.0.0.1:4321", proxy_origin="127.0.0.1:9")
    arguments = seen["arguments"]
    assert "--proxy-server=http://127.0.0.1:9" in arguments
    # <-loopback> removes Chromium's implicit bypass of loopback and link-local hosts.
    assert "--proxy-bypass-list=<-loopback>;127.0.0.1:4321" in arguments
