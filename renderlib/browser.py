"""Open a sandboxed headless Chromium on a page, with renderlib's clock installed.

Chromium's headless shell is started and driven by Selenium through the system
chromedriver (never a downloaded one); the per-frame commands (seek, capture) go
over the page's own DevTools socket (renderlib.devtools). The shell runs under
begin-frame control: it draws a frame only when renderlib asks for one, and the
capture is that frame's own screenshot, so nothing is drawn twice or for nobody.
Every request except those to the page's own origin goes to a refusing proxy;
``<-loopback>`` makes Chromium send loopback and link-local requests through that
proxy too, instead of around it.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import signal
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service

from renderlib.devtools import DevToolsConnection
from renderlib.errors import BrowserError, HoldTimeoutError, PageError
from renderlib.tools import tool_path

# A fixed wall-clock origin so pages that print the date render the same every time.
VIRTUAL_EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MIN_WINDOW = (800, 600)
# A guard against a hung Chromium, far above what any seek or capture takes (plus the
# time a frame's waits may legitimately take: a few hold timeouts).
ANSWER_TIMEOUT_S = 300
# A seek through many frames (a page that is not pure, rendering from far in) is sent in
# batches, so no single command runs for long.
SEEK_BATCH_FRAMES = 100
MAX_TMPDIR_LENGTH = 60

# What any Chromium needs in a container on a closed network: no setuid sandbox for an
# unprivileged container user, no GPU, no /dev/shm (Fargate cannot size it), and none of
# the background connections that stall it where the network is closed.
CONTAINER_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

_FLAGS = (
    # --enable-begin-frame-control and the compositor settings that make a frame drawn
    # on request complete (all raster done, no threaded animation or checkerboarding).
    "--deterministic-mode",
    *CONTAINER_FLAGS,
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--mute-audio",
    "--force-device-scale-factor=1",
    "--force-color-profile=srgb",
    "--font-render-hinting=none",
    "--autoplay-policy=no-user-gesture-required",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
)


@dataclass(frozen=True)
class FrameState:
    """What the page said about the frame just seeked."""

    unchanged: bool


# The page runtime calls this binding while it waits for a frame to be drawn (a video's
# new frame is shown only then); renderlib answers each call by drawing one.
DRAW_FRAME_BINDING = "__renderlibDrawFrame"


class Browser:
    """One headless Chromium showing one page at a fixed viewport size."""

    def __init__(self, *, width: int, height: int, allowed_origin: str, proxy_origin: str) -> None:
        # Chromium makes a Unix socket under $TMPDIR, and such a path may not exceed 107
        # bytes: with a deeper TMPDIR it would not start at all.
        temp_root = tempfile.gettempdir()
        if len(temp_root) > MAX_TMPDIR_LENGTH:
            temp_root = "/tmp"
        self._profile = tempfile.mkdtemp(prefix="renderlib-chromium-", dir=temp_root)
        options = webdriver.ChromeOptions()
        options.binary_location = _launcher_for(tool_path("chromium-headless-shell"), self._profile)
        for flag in _FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self._profile}/profile")
        # The viewport is set exactly below; a window smaller than about 300x200
        # makes headless Chromium stop producing frames, so it never is.
        window_width, window_height = max(width, MIN_WINDOW[0]), max(height, MIN_WINDOW[1])
        options.add_argument(f"--window-size={window_width},{window_height}")
        options.add_argument(f"--proxy-server=http://{proxy_origin}")
        options.add_argument(f"--proxy-bypass-list=<-loopback>;{allowed_origin}")
        # chromedriver and Chromium stay in the caller's process group, so a Ctrl-C, a
        # terminal hang-up or a kill of the whole group (as the local farm does) ends them too.
        service = Service(tool_path("chromedriver"), env={**os.environ, "TMPDIR": temp_root})
        try:
            self._driver = webdriver.Chrome(options=options, service=service)
        except WebDriverException as exc:
            shutil.rmtree(self._profile, ignore_errors=True)
            raise BrowserError(f"could not start Chromium: {_first_line(exc)}") from exc
        except BaseException:
            shutil.rmtree(self._profile, ignore_errors=True)
            raise
        self._service = service
        try:
            address = self._driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
            self._devtools = DevToolsConnection(address, answer_timeout=ANSWER_TIMEOUT_S)
            self.cdp("Page.enable")
            self.cdp("Runtime.enable")
            self.cdp("Runtime.addBinding", {"name": DRAW_FRAME_BINDING})
            self.cdp(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
        except BaseException:
            self.close()
            raise

    def cdp(self, command: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._devtools.call(command, params)

    def open(
        self, url: str, *, frame_rate: Fraction, props: dict[str, Any], hold_timeout: float
    ) -> None:
        """Load ``url`` with the virtual clock and page API installed before its scripts."""
        config = {
            "fps": float(frame_rate),
            "frameRate": [frame_rate.numerator, frame_rate.denominator],
            "props": props,
            "holdTimeoutMs": hold_timeout * 1000,
            "epochMs": VIRTUAL_EPOCH_MS,
        }
        script = _runtime_source().replace("__RENDERLIB_CONFIG__", json.dumps(config))
        self._devtools.set_answer_timeout(ANSWER_TIMEOUT_S + 4 * hold_timeout)
        self.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": script})
        try:
            self._driver.get(url)
        except WebDriverException as exc:
            raise PageError(f"could not load the page {url}: {_first_line(exc)}") from exc
        status = self._evaluate("document.readyState")
        if status != "complete":
            raise PageError(f"the page {url} did not finish loading (readyState {status})")
        self._raise_page_errors("while loading", self._evaluate("__renderlibRuntime.takeErrors()"))

    def seek(self, first: int, last: int | None = None) -> FrameState:
        """Move the page's clock through frames ``first``..``last`` (default: just ``first``)."""
        last = first if last is None else last
        for start in range(first, last + 1, SEEK_BATCH_FRAMES):
            end = min(start + SEEK_BATCH_FRAMES - 1, last)
            result = self._evaluate(f"__renderlibRuntime.seek({start}, {end})", await_promise=True)
            self._raise_page_errors(f"at frame {end}", result["errors"])
        return FrameState(unchanged=bool(result["unchanged"]))

    def capture_jpeg(self, quality: int) -> bytes:
        """Draw the page as it is now and return that frame as a JPEG."""
        frame = self.cdp(
            "HeadlessExperimental.beginFrame",
            {"screenshot": {"format": "jpeg", "quality": quality}},
        )
        if "screenshotData" not in frame:
            raise BrowserError("Chromium drew the frame but returned no screenshot")
        return base64.b64decode(frame["screenshotData"])

    def close(self) -> None:
        devtools = getattr(self, "_devtools", None)
        if devtools is not None:
            devtools.close()
        try:
            self._driver.quit()
        except Exception:  # noqa: BLE001 - whatever is left is killed below regardless
            pass
        if self._service.process is not None and self._service.process.poll() is None:
            self._service.process.kill()
            self._service.process.wait()
        # Every Chromium process carries the profile folder on its command line.
        for pid in _processes_mentioning(self._profile):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        reply = self._devtools.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": await_promise, "returnByValue": True},
            on_event=self._on_event,
        )
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise PageError(f"renderlib's page runtime failed: {text}")
        return reply["result"].get("value")

    def _on_event(self, message: dict[str, Any]) -> None:
        if (
            message.get("method") == "Runtime.bindingCalled"
            and message["params"]["name"] == DRAW_FRAME_BINDING
        ):
            self._devtools.send_once("HeadlessExperimental.beginFrame", {})

    @staticmethod
    def _raise_page_errors(when: str, errors: list[str]) -> None:
        if not errors:
            return
        first = errors[0]
        if "waiting for hold" in first:
            raise HoldTimeoutError(f"the page {when}: {first}")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PageError(f"the page threw {when}: {first}{more}")


def _launcher_for(headless_shell: str, folder: str) -> str:
    """A launcher that opens the shell on a blank page.

    chromedriver starts a browser without a page to open, and the headless shell then
    opens none, so chromedriver would find nothing to drive.
    """
    launcher = Path(folder) / "headless-shell"
    launcher.write_text(f'#!/bin/sh\nexec {shlex.quote(headless_shell)} "$@" about:blank\n')
    launcher.chmod(0o700)
    return str(launcher)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _runtime_source() -> str:
    return resources.files("renderlib").joinpath("page_runtime.js").read_text(encoding="utf-8")


def _first_line(exc: Exception) -> str:
    text = getattr(exc, "msg", None) or str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
