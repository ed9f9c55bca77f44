"""A direct DevTools connection to the page chromedriver opened.

chromedriver relays a DevTools command through its own HTTP server and back: two more
JSON encodings and an HTTP round trip in Python for every seek and every screenshot.
The per-frame commands go over the page's own DevTools websocket instead (the address
chromedriver reports as ``debuggerAddress``, on loopback), one small JSON message each way.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Callable
from typing import Any

import websocket

from renderlib.errors import BrowserError


class DevToolsConnection:
    """One websocket to one page target: commands, their answers, and the events between."""

    def __init__(self, debugger_address: str, *, answer_timeout: float) -> None:
        """``answer_timeout``: seconds a command may go unanswered before Chromium is
        taken for hung (a guard against hangs, far above any frame's time)."""
        try:
            with urllib.request.urlopen(
                f"http://{debugger_address}/json/list", timeout=30
            ) as reply:
                targets = json.load(reply)
            page = next(target for target in targets if target["type"] == "page")
            self._socket = websocket.create_connection(
                page["webSocketDebuggerUrl"],
                timeout=answer_timeout,
                suppress_origin=True,
                # Screenshots are large ASCII (base64) messages: skip the pure-Python UTF-8
                # check, and send each command at once instead of waiting on Nagle's timer.
                skip_utf8_validation=True,
                sockopt=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
            )
        except (OSError, StopIteration, ValueError, websocket.WebSocketException) as exc:
            raise BrowserError(f"could not connect to Chromium's DevTools: {exc}") from exc
        self._answer_timeout = answer_timeout
        self._next_id = 0
        self._in_flight: dict[int, str] = {}  # commands sent without waiting: id -> method

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Send a command and return its result; events that arrive meanwhile go to ``on_event``.

        Commands ``on_event`` sends with ``send_once`` are answered before this returns.
        """
        command_id = self._send(method, params)
        while True:
            message = self._receive(method)
            if message.get("id") == command_id:
                break
            if "id" in message:
                self._in_flight.pop(message["id"], None)
            elif on_event is not None:
                on_event(message)
        while self._in_flight:
            answered = self._receive(method).get("id")
            self._in_flight.pop(answered, None)
        if "error" in message:
            raise BrowserError(f"Chromium refused {method}: {message['error'].get('message')}")
        return message["result"]

    def set_answer_timeout(self, seconds: float) -> None:
        self._answer_timeout = seconds
        self._socket.settimeout(seconds)

    def send_once(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send ``method`` unless one is already waiting for its answer."""
        if method not in self._in_flight.values():
            self._in_flight[self._send(method, params)] = method

    def close(self) -> None:
        try:
            self._socket.close()
        except (OSError, websocket.WebSocketException):
            pass

    def _send(self, method: str, params: dict[str, Any] | None) -> int:
        self._next_id += 1
        message = json.dumps({"id": self._next_id, "method": method, "params": params or {}})
        try:
            self._socket.send(message)
        except (OSError, websocket.WebSocketException) as exc:
            raise BrowserError(f"Chromium stopped answering ({method}): {exc}") from exc
        return self._next_id

    def _receive(self, method: str) -> dict[str, Any]:
        try:
            return json.loads(self._socket.recv())
        except websocket.WebSocketTimeoutException:
            raise BrowserError(
                f"Chromium did not answer {method} within {self._answer_timeout:g} s"
            ) from None
        except (OSError, ValueError, websocket.WebSocketException) as exc:
            raise BrowserError(f"Chromium stopped answering ({method}): {exc}") from exc
