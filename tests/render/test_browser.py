"""The browser's own contract: long seeks in batches, a hung page is an error, not a hang."""

from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import pytest

from renderlib import browser as browser_module
from renderlib.browser import SEEK_BATCH_FRAMES, Browser
from renderlib.errors import BrowserError, PageError
from renderlib.page_server import AssetServer, RefusingProxy

COUNTING_PAGE = """<!doctype html><body><script>
  // State that builds up frame by frame: one more each animation frame.
  window.steps = 0;
  requestAnimationFrame(function tick() {
    window.steps += 1;
    if (window.steps === %d) throw new Error("bad step");
    requestAnimationFrame(tick);
  });
</script></body>"""


@contextmanager
def opened(folder: Path, html: str, *, hold_timeout: float = 30):
    (folder / "index.html").write_text(html)
    with AssetServer(folder) as assets, RefusingProxy() as proxy:
        with Browser(
            width=160, height=90, allowed_origin=assets.origin, proxy_origin=proxy.origin
        ) as browser:
            browser.open(
                assets.url_for(folder / "index.html"),
                frame_rate=Fraction(10),
                props={},
                hold_timeout=hold_timeout,
            )
            yield browser


def test_a_long_seek_runs_every_frame_in_batches_and_names_the_batch_that_threw(page_dir):
    frames = 2 * SEEK_BATCH_FRAMES + 50
    with opened(page_dir, COUNTING_PAGE % -1) as browser:
        browser.seek(0, frames - 1)
        assert browser._evaluate("window.steps") == frames
    bad = SEEK_BATCH_FRAMES + 10  # thrown while stepping frame bad - 1, in the second batch
    with opened(page_dir, COUNTING_PAGE % bad) as browser:
        with pytest.raises(PageError, match=f"at frame {2 * SEEK_BATCH_FRAMES - 1}: .*bad step"):
            browser.seek(0, frames - 1)


def test_a_page_that_never_finishes_a_frame_fails_instead_of_hanging(page_dir, monkeypatch):
    monkeypatch.setattr(browser_module, "ANSWER_TIMEOUT_S", 2)
    never = "<script>window.renderFrame = () => new Promise(() => {});</script>"
    with opened(page_dir, never, hold_timeout=0.5) as browser:
        with pytest.raises(BrowserError, match="did not answer"):
            browser.seek(1)
