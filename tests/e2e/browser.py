"""Headless Chromium driven over the Chrome DevTools Protocol (CDP), for the class screen tests.

`Chromium` starts the Debian `chromium` binary with `--remote-debugging-port=0`, reads the port from its
`DevTools listening on ws://…` stderr line and kills it (and removes its profile) on `stop()`.
`Page` is one tab: navigate, evaluate JavaScript, wait for a condition, take a screenshot. Every wait is
bounded, so a broken page fails a test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

DEVTOOLS_LINE = re.compile(r"DevTools listening on (ws://[^\s]+)")
START_TIMEOUT_S = 30
CALL_TIMEOUT_S = 15


def chromium_binary() -> str | None:
    """The browser to drive: $CHROMIUM_BIN, else `chromium` (Debian) or `chromium-browser` on PATH."""
    explicit = os.environ.get("CHROMIUM_BIN")
    if explicit:
        return explicit
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless browser process with a throwaway profile."""

    def __init__(self, binary: str):
        self.binary = binary
        self.profile = tempfile.mkdtemp(prefix="hrhub-chromium-")
        self.proc: subprocess.Popen | None = None
        self.http: str = ""  # http://127.0.0.1:PORT, the DevTools HTTP endpoint
        self.stderr_tail: list[str] = []

    def start(self) -> None:
        args = [
            self.binary,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            f"--user-data-dir={self.profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-background-timer-throttling",
            "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            "--hide-scrollbars",
            "--mute-audio",
            "--window-size=1920,1080",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        found: queue.Queue = queue.Queue()

        def pump() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            reported = False
            for line in self.proc.stderr:
                self.stderr_tail = (self.stderr_tail + [line])[-40:]
                match = DEVTOOLS_LINE.search(line)
                if match and not reported:
                    found.put(match.group(1))
                    reported = True
            if not reported:
                found.put(None)

        threading.Thread(target=pump, daemon=True).start()
        try:
            url = found.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            url = None
        if url is None:
            self.stop()
            raise RuntimeError(f"chromium did not report its DevTools port:\n{''.join(self.stderr_tail)}")
        host_port = url.split("/")[2]
        self.http = f"http://{host_port}"

    def new_page_url(self) -> tuple[str, str]:
        """Opens a blank tab; returns its target id and page WebSocket URL."""
        request = urllib.request.Request(f"{self.http}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=CALL_TIMEOUT_S) as response:
            target = json.load(response)
        return target["id"], target["webSocketDebuggerUrl"]

    def close_page(self, target_id: str) -> None:
        try:
            with urllib.request.urlopen(f"{self.http}/json/close/{target_id}", timeout=CALL_TIMEOUT_S):
                pass
        except OSError:
            pass

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    """A CDP session on one tab. Use `async with Page.open(browser) as page:`."""

    def __init__(self, browser: Chromium, target_id: str, ws: ClientConnection):
        self.browser = browser
        self.target_id = target_id
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future] = {}
        self.errors: list[str] = []  # uncaught exceptions and console.error calls in the page
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, browser: Chromium) -> "Page":
        target_id, url = browser.new_page_url()
        ws = await connect(url, max_size=None, open_timeout=CALL_TIMEOUT_S)
        page = cls(browser, target_id, ws)
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        return page

    async def __aenter__(self) -> "Page":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        self.reader.cancel()
        await self.ws.close()
        self.browser.close_page(self.target_id)

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if "id" in message:
                future = self.pending.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)
            elif message.get("method") == "Runtime.exceptionThrown":
                details = message["params"]["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                self.errors.append(f"exception: {text}")
            elif message.get("method") == "Runtime.consoleAPICalled":
                params = message["params"]
                if params.get("type") == "error":
                    args = [arg.get("value", arg.get("description")) for arg in params.get("args", [])]
                    self.errors.append(f"console.error: {args}")

    async def call(self, method: str, timeout: float = CALL_TIMEOUT_S, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression (promises are awaited)."""
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 10.0, what: str | None = None) -> Any:
        """Polls `expression` until it is truthy; returns its value. Fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = await self.evaluate(expression)
            except AssertionError as error:  # for example window.hrhub not defined yet
                last = str(error)
            else:
                if last:
                    return last
            if time.monotonic() >= deadline:
                raise AssertionError(f"{what or expression} not true within {timeout} s; last value {last!r}")
            await asyncio.sleep(0.1)

    async def viewport(self, width: int, height: int, scale: float = 1, mobile: bool = False) -> None:
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=scale,
            mobile=mobile,
        )

    async def goto(self, url: str, timeout: float = 15.0) -> None:
        await self.call("Page.navigate", url=url)
        loaded = f"location.href === {json.dumps(url)} && document.readyState === 'complete'"
        await self.wait_for(loaded, timeout, what=f"load of {url}")

    async def screenshot(self, path: Path) -> None:
        result = await self.call("Page.captureScreenshot", format="png", timeout=30)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(result["data"]))
