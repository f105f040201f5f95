"""Signals during a drain under load (issue 13, item 5): teardown without races.

A hub carries a loaded class (publishers sending fast, viewers reading). Then it gets a second signal while
it drains: SIGINT twice in a row, SIGTERM then SIGINT, or a second SIGINT only once the first close frame
reached a client (the hub is then closing connections or already tearing down). Each time the hub must exit
0, every client must get the close code 1001, and nothing may crash.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import LISTENING, START_TIMEOUT_S, STOP_TIMEOUT_S, REPO_ROOT, _hub_binary, _pump
from hubclient import class_url, run

PUBLISHERS = 12
VIEWERS = 6
CLASSES = 2
SAMPLE_INTERVAL_S = 0.005  # 200 samples/s per publisher: the hub is busy when the signals come
CRASH = re.compile(r"Fatal error|Segmentation|Aborted|AddressSanitizer|double free|core dumped", re.I)


class Hub:
    """A hub process this test signals itself (the `hub` fixture sends its own SIGTERM)."""

    def __init__(self):
        args = [str(_hub_binary()), "--host", "127.0.0.1", "--port", "0", "--log-level", "warning",
                "--max-sample-rate", "1000", "--drain-timeout-ms", "5000"]
        self.proc = subprocess.Popen(
            args, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        first: queue.Queue = queue.Queue()
        threading.Thread(target=_pump, args=(self.proc.stdout, self.stdout, first), daemon=True).start()
        threading.Thread(target=_pump, args=(self.proc.stderr, self.stderr, None), daemon=True).start()
        line = first.get(timeout=START_TIMEOUT_S)
        assert line, f"hub exited before listening: {''.join(self.stderr)}"
        match = LISTENING.fullmatch(line.rstrip("\n"))
        assert match, line
        self.url = match.group(1)

    def signal(self, signo: int) -> None:
        self.proc.send_signal(signo)

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S + 5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"hub did not exit after the signals\n{''.join(self.stderr[-40:])}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


async def publisher(url: str, p: str, started: asyncio.Event) -> int | None:
    """Publishes until the hub closes; returns the close code it received. It reads what the hub sends (acks) as a
    device does: a client that never reads stops taking data once its library's queue is full (websockets pauses
    the socket at 16 messages), so the hub's close frame could not reach it and the drain would end it with 1006."""
    async with connect(class_url(url, f"c{int(p[1:]) % CLASSES}", role="publisher", participant=p),
                       subprotocols=["hrhub.v1.json"]) as ws:
        await ws.recv()  # welcome
        started.set()

        async def read() -> None:
            try:
                async for _ in ws:
                    pass
            except ConnectionClosed:
                pass

        reader = asyncio.create_task(read())
        seq = 0
        try:
            while True:
                seq += 1
                await ws.send(json.dumps({"t": "hr", "seq": seq, "ts": int(time.time() * 1000), "bpm": 120}))
                await asyncio.sleep(SAMPLE_INTERVAL_S)
        except ConnectionClosed:
            pass
        await reader
        return ws.close_code


async def viewer(url: str, class_id: str, receiving: asyncio.Event) -> int | None:
    """Reads until the hub closes; returns the close code it received."""
    async with connect(class_url(url, class_id, role="viewer"), subprotocols=["hrhub.v1.json"]) as ws:
        try:
            while True:
                for message in json.loads(await ws.recv()):
                    if message["t"] == "hr":
                        receiving.set()
        except ConnectionClosed:
            pass
        return ws.close_code


async def load_then(hub: Hub, signals) -> list[int | None]:
    """Runs the load, waits until samples flow, then calls `signals(first_close)`; returns every close code."""
    started = [asyncio.Event() for _ in range(PUBLISHERS)]
    receiving = [asyncio.Event() for _ in range(VIEWERS)]
    tasks = [asyncio.create_task(viewer(hub.url, f"c{i % CLASSES}", receiving[i])) for i in range(VIEWERS)]
    tasks += [asyncio.create_task(publisher(hub.url, f"p{i}", started[i])) for i in range(PUBLISHERS)]
    waiting = [asyncio.create_task(e.wait()) for e in started + receiving]
    await asyncio.wait_for(asyncio.gather(*waiting), 15)
    first_close = asyncio.Event()
    for task in tasks:
        task.add_done_callback(lambda _: first_close.set())
    await signals(first_close)
    return await asyncio.wait_for(asyncio.gather(*tasks), 15)


def check(hub: Hub, codes: list[int | None]) -> None:
    status = hub.wait()
    stderr = "".join(hub.stderr)
    assert not CRASH.search(stderr), stderr[-4000:]
    assert status == 0, f"exit status {status}\n{stderr[-4000:]}"
    assert codes == [1001] * (PUBLISHERS + VIEWERS), codes


def scenario(name: str):
    async def twice_sigint(first_close):
        hub.signal(signal.SIGINT)
        hub.signal(signal.SIGINT)

    async def sigterm_then_sigint(first_close):
        hub.signal(signal.SIGTERM)
        await asyncio.sleep(0)
        hub.signal(signal.SIGINT)

    async def sigint_again_at_the_first_close(first_close):
        hub.signal(signal.SIGINT)
        await first_close.wait()  # the drain is under way, or the hub is already tearing down
        hub.signal(signal.SIGINT)
        hub.signal(signal.SIGTERM)

    hub = Hub()
    try:
        actions = {
            "twice_sigint": twice_sigint,
            "sigterm_then_sigint": sigterm_then_sigint,
            "sigint_again_at_the_first_close": sigint_again_at_the_first_close,
        }
        codes = run(load_then(hub, actions[name]), timeout=40)
        check(hub, codes)
    finally:
        hub.kill()


@pytest.mark.parametrize("name", ["twice_sigint", "sigterm_then_sigint", "sigint_again_at_the_first_close"])
def test_a_second_signal_during_a_drain_under_load_exits_0_and_every_client_gets_1001(name):
    for _ in range(int(os.environ.get("HRHUB_SIGNAL_REPEAT", "1"))):
        scenario(name)
