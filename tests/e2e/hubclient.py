"""A small client for the hrhub wire protocol, written from PROTOCOL.md only (as a device maker would).

Every receive has a timeout, so a broken hub fails a test instead of hanging it. The timeouts are deadlines for
events that must come, never measurements: tests synchronise with the hub through `Conn.sync()` (a ping→pong
round trip), not with sleeps or "nothing arrived within N ms" windows.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import struct
import time
import urllib.request
from collections import deque
from typing import Any, Callable
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

RECV_TIMEOUT_S = 10.0
# A correctness test (no loss, order, dedupe) runs its hub with this budget, far above the test's length, so a
# loaded machine cannot turn a sample late; only tests about lateness use small budgets.
BIG_BUDGET = ("--budget-ms", "60000")
_barrier_ids = itertools.count(1)
JSON_PROTOCOL = "hrhub.v1.json"
BINARY_PROTOCOL = "hrhub.v1.bin"
BINARY = "_binary"  # the `t` given to a binary frame from the hub (see Conn.next)

Message = dict[str, Any]


def now_ms() -> int:
    return int(time.time() * 1000)


def run(coro, timeout: float = 30.0):
    """Runs one test's coroutine with an overall time limit."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def class_url(base: str, class_id: str, **query: Any) -> str:
    """`{base}/v1/classes/{class_id}/ws?...`, leaving out query parameters that are None."""
    params = {key: value for key, value in query.items() if value is not None}
    suffix = f"?{urlencode(params)}" if params else ""
    return f"{base}/v1/classes/{class_id}/ws{suffix}"


class Conn:
    """One WebSocket connection to the hub, with the hub's messages flattened into one stream.

    A hub text frame is a JSON array of message objects; each is checked and queued. A binary
    frame is queued as `{"t": "_binary", "frame": bytes, "samples": [...]}`.
    """

    def __init__(self, ws: ClientConnection):
        self.ws = ws
        self.pending: deque[Message] = deque()
        self.skipped: list[Message] = []  # messages passed over by expect()

    @property
    def subprotocol(self) -> str | None:
        return self.ws.subprotocol

    async def _receive_frame(self, timeout: float) -> None:
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        if isinstance(frame, bytes):
            self.pending.append({"t": BINARY, "frame": frame, "samples": decode_hub_binary(frame)})
            return
        messages = json.loads(frame)
        assert isinstance(messages, list) and messages, f"a hub frame must be a non-empty JSON array: {frame!r}"
        for message in messages:
            assert isinstance(message, dict) and isinstance(message.get("t"), str), f"bad message {message!r}"
            self.pending.append(message)

    async def next(self, timeout: float = RECV_TIMEOUT_S) -> Message:
        """The next message from the hub."""
        if not self.pending:
            await self._receive_frame(timeout)
        return self.pending.popleft()

    async def expect(
        self, predicate: Callable[[Message], bool], timeout: float = RECV_TIMEOUT_S, what: str = "message"
    ) -> Message:
        """The first message matching `predicate`; messages passed over are kept in `skipped`."""
        deadline = time.monotonic() + timeout
        while True:
            while self.pending:
                message = self.pending.popleft()
                if predicate(message):
                    return message
                self.skipped.append(message)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {what} within {timeout} s; got {self.skipped[-10:]!r}")
            try:
                await self._receive_frame(remaining)
            except (asyncio.TimeoutError, TimeoutError):
                raise AssertionError(f"no {what} within {timeout} s; got {self.skipped[-10:]!r}") from None

    async def expect_t(self, t: str, timeout: float = RECV_TIMEOUT_S, **fields: Any) -> Message:
        """The first message of type `t` whose fields equal `fields`."""

        def matches(message: Message) -> bool:
            return message.get("t") == t and all(message.get(key) == value for key, value in fields.items())

        return await self.expect(matches, timeout, what=f"{t} {fields}")

    async def sync(self, timeout: float = RECV_TIMEOUT_S) -> list[Message]:
        """A barrier: sends a ping and returns every message that came before its pong (those already received
        but not yet read included).

        The hub handles a connection's messages in order and queues the pong behind everything it had queued for
        this connection, so once the pong is here the hub has handled all this connection sent before, and
        everything it sent this connection because of that (or of anything it handled earlier) has arrived. With
        the class tick a viewing connection's pong goes out on the next tick, after everything that tick brings it,
        so this holds for samples released on arrival (`--jitter off`) too. To
        check that something does NOT reach a connection, make sure the cause was handled (a `sync` on the
        connection that caused it, or its answer), then `sync` the receiving one.
        """
        ping_id = f"barrier-{next(_barrier_ids)}"
        await self.send({"t": "ping", "id": ping_id, "ct": now_ms()})
        before: list[Message] = []
        deadline = time.monotonic() + timeout
        while True:
            while self.pending:
                message = self.pending.popleft()
                if message.get("t") == "pong" and message.get("id") == ping_id:
                    return before
                before.append(message)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no pong for {ping_id} within {timeout} s; got {before[-10:]!r}")
            try:
                await self._receive_frame(remaining)
            except (asyncio.TimeoutError, TimeoutError):
                raise AssertionError(f"no pong for {ping_id} within {timeout} s; got {before[-10:]!r}") from None

    async def send(self, message: Message) -> None:
        await self.ws.send(json.dumps(message))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def hello(self, **profile: Any) -> None:
        await self.send({"t": "hello", **profile})

    async def hr(self, seq: int, bpm: int, ts: int | None = None, **extra: Any) -> int:
        """Sends one sample (capture time now unless given); returns its ts."""
        ts = now_ms() if ts is None else ts
        await self.send({"t": "hr", "seq": seq, "ts": ts, "bpm": bpm, **extra})
        return ts

    async def ping_pong(self, ping_id: Any = 1) -> Message:
        """Sends a ping and returns the pong: proof that the connection is open and served."""
        ct = now_ms()
        await self.send({"t": "ping", "id": ping_id, "ct": ct})
        return await self.expect_t("pong", id=ping_id, ct=ct)

    async def close_code(self, timeout: float = RECV_TIMEOUT_S) -> int | None:
        """Reads until the hub closes the connection; returns the close code it sent."""
        deadline = time.monotonic() + timeout
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                await self._receive_frame(remaining)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
        except (asyncio.TimeoutError, TimeoutError):
            pass
        raise AssertionError(f"the hub did not close the connection within {timeout} s")

    async def close(self) -> None:
        await self.ws.close()


def http_base(base: str) -> str:
    """`http://HOST:PORT` (or https) for a hub's `ws://HOST:PORT`."""
    return base.replace("ws://", "http://", 1).replace("wss://", "https://", 1)


def scrape(base: str) -> dict[str, float]:
    """`/metrics` parsed by Prometheus' own client parser: {"name{label=value}": value}."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{http_base(base)}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


async def wait_connections(base: str, class_id: str, count: int, timeout: float = 30.0) -> None:
    """Waits until the hub counts `count` open connections in the class (`GET /v1/classes`, a hub without a
    secret). For what no barrier can show: that the hub has finished closing a socket."""

    def connections() -> int:
        with urllib.request.urlopen(f"{http_base(base)}/v1/classes", timeout=timeout) as response:
            classes = json.loads(response.read())
        return next((c["connections"] for c in classes if c["id"] == class_id), 0)

    deadline = time.monotonic() + timeout
    while (seen := await asyncio.to_thread(connections)) != count:
        if time.monotonic() > deadline:
            raise AssertionError(f"class {class_id}: {seen} connections, expected {count}, after {timeout} s")
        await asyncio.sleep(0.02)  # polling an outside state; the deadline above bounds it


async def open_conn(
    base: str,
    class_id: str,
    role: str,
    participant: str | None = None,
    mode: str | None = None,
    subprotocols: list[str] | None = None,
    token: str | None = None,
    board: int | None = None,
    **connect_args: Any,
) -> Conn:
    url = class_url(base, class_id, role=role, participant=participant, mode=mode, token=token, board=board)
    protocols = [Subprotocol(name) for name in subprotocols] if subprotocols is not None else None
    ws = await connect(url, subprotocols=protocols, open_timeout=10, **connect_args)
    return Conn(ws)


async def open_welcomed(base: str, class_id: str, role: str, **kwargs: Any) -> tuple[Conn, Message]:
    """Opens a connection and reads its first message, which must be `welcome`."""
    conn = await open_conn(base, class_id, role, **kwargs)
    welcome = await conn.next()
    assert welcome["t"] == "welcome", f"the first message must be welcome, got {welcome!r}"
    return conn, welcome


# Binary subprotocol (little-endian).

FLAG_CONTACT_SUPPORTED = 0x01
FLAG_CONTACT = 0x02
FLAG_EE = 0x04
FLAG_RR = 0x08


def encode_client_binary(
    seq: int,
    ts: int,
    bpm: int,
    rr: list[int] | tuple[int, ...] = (),
    contact: bool | None = None,
    ee: int | None = None,
) -> bytes:
    """A client sample frame: type 0x01, flags, u32 seq, u64 ts, u8 bpm, u8 n, [u16 ee], n × u16 rr."""
    flags = 0
    if contact is not None:
        flags |= FLAG_CONTACT_SUPPORTED | (FLAG_CONTACT if contact else 0)
    if ee is not None:
        flags |= FLAG_EE
    if rr:
        flags |= FLAG_RR
    frame = struct.pack("<BBIQBB", 0x01, flags, seq, ts, bpm, len(rr))
    if ee is not None:
        frame += struct.pack("<H", ee)
    frame += struct.pack(f"<{len(rr)}H", *rr)
    return frame


def decode_hub_binary(frame: bytes) -> list[Message]:
    """Relayed samples back to back: u8 0x02, u8 flags, u32 seq, u64 ts, u8 bpm, u8 n, u64 rts,
    u8 L, L bytes participant id, [u16 ee], n × u16 rr."""
    samples = []
    offset = 0
    while offset < len(frame):
        kind, flags, seq, ts, bpm, count, rts, id_length = struct.unpack_from("<BBIQBBQB", frame, offset)
        assert kind == 0x02, f"relayed sample type must be 0x02, got {kind:#x}"
        offset += struct.calcsize("<BBIQBBQB")
        p = frame[offset : offset + id_length].decode("ascii")
        offset += id_length
        sample: Message = {"flags": flags, "p": p, "seq": seq, "ts": ts, "bpm": bpm, "rts": rts}
        if flags & FLAG_EE:
            (sample["ee"],) = struct.unpack_from("<H", frame, offset)
            offset += 2
        sample["rr"] = list(struct.unpack_from(f"<{count}H", frame, offset))
        offset += 2 * count
        assert offset <= len(frame), "binary frame ends inside a sample"
        if flags & FLAG_CONTACT_SUPPORTED:
            sample["contact"] = bool(flags & FLAG_CONTACT)
        samples.append(sample)
    return samples
