"""Abuse at a live hub while a normal class runs (issue 5, robustness).

A normal class (3 publishers at 5 Hz, one JSON viewer, one binary viewer) runs for 10 s. Meanwhile, on the
same hub and loopback only, in three rounds 3 s apart (bounded in count and time):

- garbage text and binary frames, each answered with the documented `error` code, the socket staying open;
- invalid UTF-8 in a text frame (1007), and a valid text message split inside a UTF-8 character (accepted);
- oversized frames (1009): one text, one binary, a fragmented message, and a raw frame announcing 1 MiB;
- WebSocket protocol violations on a raw socket: a reserved opcode, RSV bits, bad control frames (closed),
  an unmasked frame (closed, or served: libwebsockets 4.1 accepts it);
- half-open sockets: TCP connect and silence, half an HTTP upgrade and a stall, a full upgrade then silence
  (held open to the very end: the hub must still stop cleanly on SIGTERM around them);
- random bytes to the port;
- a churn loop of 300 connections (100 a round) opened and dropped quickly: some at once, some
  mid-handshake, some after a full upgrade (with a close handshake, or a TCP reset).

Then: the normal class's accounting is intact (every published sample delivered exactly once, in order,
and no gap at all for these readers), the normal publishers saw no error, `/healthz` answers 200, a new
connection is welcomed, and the fixture requires exit status 0 on SIGTERM.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import re
import socket
import struct
import time
import urllib.request
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from hubclient import BIG_BUDGET, BINARY_PROTOCOL, Conn, encode_client_binary, now_ms, open_welcomed, run
from test_delivery import Ledger, finish, read_into

# Correctness (nothing lost, order, once): a budget no loaded machine can overrun.
pytestmark = pytest.mark.hub_args(*BIG_BUDGET)

CLASS = "normal"
PUBLISHERS = 3
RATE_HZ = 5
SECONDS = 10
ROUNDS = 3  # the abuse is repeated while the class runs: rounds start ROUND_S apart
ROUND_S = 3.0
CHURN = 300  # connections in all, CHURN // ROUNDS per round
CHURN_CONCURRENCY = 16
MAX_FRAME = 4096  # the hub's default --max-message-bytes
STEP_TIMEOUT_S = 5.0

# Bad client frames and the `error` code PROTOCOL.md gives each (a set where the text allows two readings).
GARBAGE_TEXT: list[tuple[str, set[str]]] = [
    ("not json at all", {"bad_json"}),
    ("", {"bad_json"}),
    ("[1,2,3]", {"bad_json"}),
    ('"just a string"', {"bad_json"}),
    ("{", {"bad_json"}),
    ("{" * 2000, {"bad_json"}),
    ("[" * 4000, {"bad_json"}),
    ('{"t":5}', {"bad_json"}),
    ('{"x":"hr"}', {"bad_json"}),
    ('{"t":"nope"}', {"unknown_type"}),
    ('{"t":"' + "\u00e9" * 500 + '"}', {"unknown_type"}),
    ('{"t":"hr","seq":1,"ts":1,"bpm":300}', {"bad_field"}),
    ('{"t":"hr","seq":-1,"ts":1,"bpm":100}', {"bad_field"}),
    ('{"t":"hr","seq":1e30,"ts":1,"bpm":100}', {"bad_field"}),
    ('{"t":"hr","seq":1,"ts":1,"bpm":100,"rr":[' + ",".join(["500"] * 40) + "]}", {"bad_field"}),
    ('{"t":"hr","seq":1,"ts":1,"bpm":100,"rr":[[[[]]]]}', {"bad_field"}),
    ('{"t":"hello","hrmax":1e400}', {"bad_json", "bad_field"}),
    ('{"t":"hello","name":"' + "x" * 65 + '"}', {"bad_field"}),
    ('{"t":"ping"}', {"bad_field"}),
    ('{"t":"ping","id":{"a":1}}', {"bad_field"}),
    ('{"t":"hr","t":"hr","seq":"1"}', {"bad_json", "bad_field"}),
    ("\u0000\u0001\u0002", {"bad_json"}),
    ('{"t":"\\ud800"}', {"bad_json", "unknown_type"}),
]
GARBAGE_BINARY: list[tuple[bytes, set[str]]] = [
    (b"\x00", {"bad_frame"}),
    (b"\x01" * 15, {"bad_frame"}),
    (b"\x7f" + bytes(15), {"bad_frame"}),
    (encode_client_binary(1, 1, 100) + b"\x00", {"bad_frame"}),
    (encode_client_binary(1, 1, 255), {"bad_field"}),
    (struct.pack("<BBIQBB", 0x01, 0x00, 1, 1, 100, 3) + bytes(6), {"bad_frame"}),  # rr without the flag
    (struct.pack("<BBIQBB", 0x01, 0x08, 1, 1, 100, 1) + bytes(2), {"bad_field"}),  # an rr value of 0
    (struct.pack("<BBIQBB", 0x01, 0x00, 1, 2**63, 100, 0), {"bad_field"}),  # ts above Int64.max
]


@pytest.fixture
def held_sockets():
    """Raw sockets that stay open until after the hub has been stopped.

    Requested before `hub`, so pytest tears it down after `hub`: the hub gets SIGTERM, and must exit 0,
    while these half-open connections are still there.
    """
    held: list[socket.socket] = []
    yield held
    for sock in held:
        sock.close()


def test_abuse_leaves_a_normal_class_intact(held_sockets, hub):
    url = urlsplit(hub)
    host, port = url.hostname, url.port
    assert host == "127.0.0.1", "abuse stays on loopback"

    async def main():
        viewers = [
            (await open_welcomed(hub, CLASS, "viewer"))[0],
            (await open_welcomed(hub, CLASS, "viewer", subprotocols=[BINARY_PROTOCOL]))[0],
        ]
        assert viewers[1].subprotocol == BINARY_PROTOCOL
        names = [f"rider{i}" for i in range(PUBLISHERS)]
        publishers = [(await open_welcomed(hub, CLASS, "publisher", participant=name))[0] for name in names]
        ledgers = [Ledger() for _ in viewers]
        published: dict[str, list[int]] = {name: [] for name in names}
        done = asyncio.Event()
        readers = [asyncio.create_task(read_into(v, ledger, done, published)) for v, ledger in zip(viewers, ledgers)]

        async def publish():
            start = now_ms()
            for tick in range(SECONDS * RATE_HZ):
                due = start + tick * 1000 // RATE_HZ  # open loop: every tick has its own due time
                await asyncio.sleep(max(0, due - now_ms()) / 1000)
                for name, pub in zip(names, publishers):
                    seq = tick + 1
                    await pub.hr(seq, 110 + tick % 40, rr=[520, 530])
                    published[name].append(seq)

        publishing = asyncio.create_task(publish())
        await asyncio.to_thread(hold_half_open, host, port, held_sockets)
        abusers = {
            "garbage frames": lambda r: garbage_frames(hub, r),
            "invalid UTF-8": lambda r: invalid_utf8(hub, r),
            "UTF-8 split across fragments": lambda r: utf8_split_across_fragments(hub, r),
            "oversized frames": lambda r: oversized_frames(hub, r),
            "oversized raw frame": lambda r: oversized_raw_frame(host, port, r),
            "protocol violations": lambda r: protocol_violations(host, port),
            "random bytes": lambda r: random_bytes(host, port, r),
            "churn": lambda r: churn(host, port, hub, r),
            "healthz": lambda r: healthy(host, port),
        }

        async def rounds(name: str) -> list[str]:
            """ROUNDS rounds of one abuser, ROUND_S apart, so the abuse lasts as long as the class."""
            failures = []
            for r in range(ROUNDS):
                started = time.monotonic()
                try:
                    await abusers[name](r)
                except Exception as failure:  # every abuser's failure is reported, not just the first
                    failures.append(f"{name}, round {r}: {failure!r}")
                await asyncio.sleep(max(0.0, ROUND_S - (time.monotonic() - started)))
            return failures

        failures = [f for found in await asyncio.gather(*(rounds(name) for name in abusers)) for f in found]

        await publishing
        publisher_errors = []
        for pub in publishers:  # every sample handled; a normal publisher got no error
            publisher_errors += [m for m in pub.skipped + await pub.sync() if m["t"] == "error"]
        assert not publisher_errors, f"a normal publisher got errors: {publisher_errors}"
        await finish(viewers, readers, done)
        for ledger, kind in zip(ledgers, ("json", "binary")):
            ledger.check(published)
            gaps = dict(ledger.gapped)
            assert ledger.gap_count() == 0, f"{kind} viewer: a reader keeping up must lose nothing: {gaps}"
            for name in names:
                assert ledger.delivered[name] == published[name], f"{kind} viewer, {name}"

        assert await asyncio.to_thread(healthz, host, port) == 200, "healthz after the abuse"
        fresh, welcome = await open_welcomed(hub, CLASS, "viewer")
        snapshot = await fresh.next()
        assert snapshot["t"] == "snapshot"
        present = {entry["p"] for entry in snapshot["participants"]}
        assert set(names) <= present, f"the normal riders are still present: {present}"
        for conn in [fresh, *viewers, *publishers]:
            await conn.close()
        assert not failures, "abusers did not get the documented answers:\n" + "\n".join(failures)

    run(main(), timeout=90)


def test_every_oversized_message_closes_its_connection(hub):
    """100 fragmented and 100 single-frame oversized messages from 20 + 20 concurrent connections at a time.
    Every one gets a 1009 close frame, also a fragmented one whose sender is still writing when the hub refuses
    it (the hub reads only its receive buffer, 256 bytes, per wake-up, so it refuses at the first piece that
    shows the message too large, well before the last fragment)."""

    async def main():
        codes: dict[str, list[int | None]] = {"fragmented": [], "single frame": []}

        async def send(i: int, what: str, message) -> None:
            pub, _ = await open_welcomed(hub, "big", "publisher", participant=f"p{i}", max_size=None)
            try:
                await pub.ws.send(message)
            except ConnectionClosed as closed:  # the hub closed while the fragments were still going out
                codes[what].append(closed.rcvd.code if closed.rcvd else None)
                return
            codes[what].append(await pub.close_code(timeout=STEP_TIMEOUT_S))

        fragmented = ['{"t":"ping","id":1,"pad":"'] + ["y" * 500] * 12 + ['"}']
        single = '{"t":"ping","id":1,"pad":"' + "x" * (MAX_FRAME + 100) + '"}'
        for r in range(5):
            await asyncio.gather(
                *(send(100 * r + i, "fragmented", fragmented) for i in range(20)),
                *(send(100 * r + 50 + i, "single frame", single) for i in range(20)),
            )
        summary = {what: {code: found.count(code) for code in set(found)} for what, found in codes.items()}
        assert summary["single frame"] == {1009: 100}, summary
        assert summary["fragmented"] == {1009: 100}, summary

    run(main(), timeout=60)


@pytest.mark.hub_args("--max-message-bytes", "2000")
def test_an_oversized_message_refused_while_its_rest_is_still_arriving_gets_its_1009_close_frame(hub):
    """Each over-limit message is written whole, in one write, so its rest waits in the hub's socket when the hub
    refuses it at the first piece that shows it too large; the client must still read a 1009 close frame, never
    a bare end of stream. The hub reads at most its receive buffer (plus lws's 16 bytes of headroom) per wake-up.
    The fragmented shapes (first fragments of 1,616 and 1,624 bytes for a 256-byte buffer, 1,040 and 1,048 for a
    512-byte one) make it refuse in the middle of a read, and leave the rest of the message, its empty final
    fragment included, small enough for the next read, which lws parses before it writes the close frame. Before
    the fix (the refusal returned -1 to lws, which dropped the rest of that read and then parsed the rest of the
    message out of step) every text one of these ended without a close frame (4 of 4 each, at both sizes)."""
    host, port = urlsplit(hub).hostname, urlsplit(hub).port
    over = ('{"t":"ping","id":1,"pad":"' + "x" * (2001 - 28) + '"}').encode()
    assert len(over) == 2001

    def fragmented(opcode: int, first: int) -> bytes:
        return (
            client_frame(opcode, over[:first], fin=False)
            + client_frame(0x0, over[first:], fin=False)
            + client_frame(0x0, b"", fin=True)  # an empty final fragment, as the websockets library ends one
        )

    shapes = {
        "text, one frame": client_frame(0x1, over),
        "binary, one frame": client_frame(0x2, over),
        **{f"text, fragmented after {first}": fragmented(0x1, first) for first in (1040, 1048, 1616, 1624)},
        **{f"binary, fragmented after {first}": fragmented(0x2, first) for first in (1048, 1616)},
    }

    async def one(what: str, data: bytes, i: int) -> int | None:
        path = f"/v1/classes/limit/ws?role=publisher&participant=p{i}"
        reader, writer = await raw_upgrade(host, port, path)
        try:
            writer.write(data)
            await writer.drain()
            return await read_close_code(reader, STEP_TIMEOUT_S)
        finally:
            writer.close()

    async def main():
        for n, (what, data) in enumerate(shapes.items()):
            codes = [await one(what, data, 100 * n + i) for i in range(10)]
            assert codes == [1009] * 10, f"{what}: close codes {codes}"

    run(main(), timeout=60)


# MARK: - Abusers. Each returns None, or raises AssertionError naming what the hub did wrong.


async def garbage_frames(hub: str, r: int) -> None:
    """Bad frames from a publisher in the normal class and a viewer sending samples: an `error` each,
    in order, and the socket stays open and served."""
    pub, _ = await open_welcomed(hub, CLASS, "publisher", participant=f"junk{r}")
    for frame, codes in [*GARBAGE_TEXT, *GARBAGE_BINARY]:
        await pub.send_raw(frame)
        error = await pub.expect_t("error", timeout=STEP_TIMEOUT_S)
        assert error["code"] in codes, f"{frame[:40]!r}: expected {codes}, got {error}"
    await pub.ping_pong("still-open")
    await pub.close()

    viewer, _ = await open_welcomed(hub, CLASS, "viewer")
    await viewer.hr(1, 120)
    await viewer.send_raw(encode_client_binary(2, now_ms(), 120))
    for _ in range(2):
        error = await viewer.expect_t("error", timeout=STEP_TIMEOUT_S)
        assert error["code"] == "not_allowed", error
    await viewer.ping_pong("viewer-open")
    await viewer.close()


async def invalid_utf8(hub: str, r: int) -> None:
    """A text frame that is not UTF-8 closes with 1007 (RFC 6455, PROTOCOL.md)."""
    for payload in (b'{"t":"ping","id":"\xff\xfe"}', b"\xc3", b'{"t":"hello","name":"\xed\xa0\x80"}'):
        pub, _ = await open_welcomed(hub, "abuse", "publisher", participant=f"utf8-{r}")
        await pub.ws.send(payload, text=True)
        code = await pub.close_code(timeout=STEP_TIMEOUT_S)
        assert code == 1007, f"invalid UTF-8 {payload!r}: close code {code}, expected 1007"


async def utf8_split_across_fragments(hub: str, r: int) -> None:
    """A valid text message whose fragments split a UTF-8 character is one message, answered normally."""
    pub, _ = await open_welcomed(hub, "abuse", "publisher", participant=f"fragments{r}")
    message = '{"t":"ping","id":"caf\u00e9-\U0001f493","ct":1}'.encode()
    cut = message.index(b"\xc3") + 1  # inside the two-byte é
    cut2 = message.index(b"\xf0") + 2  # inside the four-byte heart
    await pub.ws.send([message[:cut], message[cut:cut2], message[cut2:]], text=True)
    pong = await pub.expect_t("pong", timeout=STEP_TIMEOUT_S)
    assert pong["id"] == "caf\u00e9-\U0001f493", pong
    await pub.close()


async def oversized_frames(hub: str, r: int) -> None:
    """Client messages over --max-message-bytes close with 1009, however they are framed."""
    cases = {
        "text": '{"t":"ping","id":1,"pad":"' + "x" * (MAX_FRAME + 100) + '"}',
        "binary": encode_client_binary(1, 1, 100) + bytes(MAX_FRAME),
        "fragmented": ['{"t":"ping","id":1,"pad":"'] + ["y" * 500] * 12 + ['"}'],
    }
    for what, message in cases.items():
        pub, _ = await open_welcomed(hub, "abuse", "publisher", participant=f"big-{what}{r}", max_size=None)
        await pub.ws.send(message)
        code = await pub.close_code(timeout=STEP_TIMEOUT_S)
        assert code == 1009, f"oversized {what} message: close code {code}, expected 1009"


async def oversized_raw_frame(host: str, port: int, r: int) -> None:
    """A frame header announcing 1 MiB, then 8 KiB of it: closed with 1009 without waiting for the rest."""
    reader, writer = await raw_upgrade(host, port, f"/v1/classes/abuse/ws?role=publisher&participant=huge{r}")
    try:
        # Binary, so that no UTF-8 check can close it first; the payload bytes' values do not matter.
        writer.write(client_frame(0x2, b"", length=1 << 20))
        writer.write(bytes(8192))
        await writer.drain()
        code = await read_close_code(reader, STEP_TIMEOUT_S)
        assert code == 1009, f"1 MiB frame header: close code {code}, expected 1009"
    finally:
        writer.close()


async def protocol_violations(host: str, port: int) -> None:
    """Frames RFC 6455 forbids from a client: the hub closes the connection (1002 when it says why)."""
    frames = {
        "reserved opcode 0x3": client_frame(0x3, b"abc"),
        "RSV1 without an extension": client_frame(0x1, b'{"t":"ping","id":1}', rsv=0x40),
        "fragmented ping": client_frame(0x9, b"x", fin=False),
        "continuation without a start": client_frame(0x0, b"abc"),
        "126-byte ping": client_frame(0x9, bytes(126)),
    }
    for what, frame in frames.items():
        reader, writer = await raw_upgrade(host, port, "/v1/classes/abuse/ws?role=viewer")
        try:
            writer.write(frame)
            await writer.drain()
            code = await read_close_code(reader, STEP_TIMEOUT_S)
            assert code in (None, 1002), f"{what}: close code {code}, expected 1002 or a dropped connection"
        finally:
            writer.close()
    # An unmasked client frame must be refused too (RFC 6455 5.1), but libwebsockets 4.1 serves it like a
    # masked one (docs/ROBUSTNESS.md, "Known"). Either is accepted here; anything else (a crash, another
    # close code, silence) is not.
    reader, writer = await raw_upgrade(host, port, "/v1/classes/abuse/ws?role=viewer")
    try:
        writer.write(client_frame(0x1, b'{"t":"ping","id":"unmasked"}', mask=False))
        await writer.drain()
        answer = await read_frames_until(reader, STEP_TIMEOUT_S, lambda text: '"pong"' in text)
        assert answer in ("served", None, 1002), f"unmasked frame: {answer}"
    finally:
        writer.close()


async def random_bytes(host: str, port: int, r: int) -> None:
    """Random bytes instead of an HTTP request, and instead of WebSocket frames after an upgrade: the hub
    answers 4xx or closes; it never hangs on them past its own timeouts nor serves them."""
    rng = random.Random(20251122 + r)

    async def request(i: int, noise: bytes) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(noise + b"\r\n\r\n")
            await writer.drain()
            answer = await read_until_eof(reader, STEP_TIMEOUT_S)
            assert answer is not None, f"random request {i}: still open after {STEP_TIMEOUT_S} s"
            refused = re.match(rb"HTTP/1\.[01] 4\d\d ", answer) is not None
            assert answer == b"" or refused, f"random request {i}: {answer[:80]!r}"
        finally:
            writer.close()

    await asyncio.gather(*(request(i, rng.randbytes(rng.randint(1, 3000))) for i in range(20)))
    async def frames(i: int, noise: bytearray) -> None:
        reader, writer = await raw_upgrade(host, port, "/v1/classes/abuse/ws?role=viewer")
        try:
            # Masked noise: whatever frames it happens to form, the hub either waits for the rest, answers
            # them, or closes with a code that says why.
            noise[1] |= 0x80
            writer.write(bytes(noise))
            await writer.drain()
            answer = await read_frames_until(reader, 2.0, lambda text: False)
            assert answer in ("open", None, 1002, 1007, 1009), f"random frames {i}: close code {answer}"
        finally:
            writer.close()

    await asyncio.gather(*(frames(i, bytearray(rng.randbytes(rng.randint(2, 2000)))) for i in range(10)))


async def churn(host: str, port: int, hub: str, r: int) -> None:
    """CHURN // ROUNDS connections opened and dropped fast, a quarter each: TCP only, mid-handshake, upgraded
    and closed politely (a rider joining and leaving the normal class), upgraded and reset."""
    semaphore = asyncio.Semaphore(CHURN_CONCURRENCY)
    rng = random.Random(7 + r)
    count = CHURN // ROUNDS

    async def one(i: int) -> None:
        async with semaphore:
            kind = i % 4
            if kind == 0:
                _, writer = await asyncio.open_connection(host, port)
                writer.close()
            elif kind == 1:
                _, writer = await asyncio.open_connection(host, port)
                request = upgrade_request(host, port, f"/v1/classes/{CLASS}/ws?role=viewer")
                writer.write(request[: rng.randint(1, len(request) - 1)])
                await writer.drain()
                writer.close()
            elif kind == 2:
                url = f"{hub}/v1/classes/{CLASS}/ws?role=publisher&participant=churn{r}-{i}"
                async with connect(url) as ws:
                    if i % 8 == 2:
                        await ws.recv()  # the welcome, sometimes
            else:
                reader, writer = await raw_upgrade(host, port, f"/v1/classes/churn{i % 5}/ws?role=viewer")
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()  # RST, no close frame

    results = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
    errors = [result for result in results if result is not None]
    assert not errors, f"{len(errors)} of {count} churn connections failed, e.g. {errors[:3]!r}"


def hold_half_open(host: str, port: int, held: list[socket.socket]) -> None:
    """Blocking, in a thread: sockets that never finish, left open for the rest of the test and the hub's
    shutdown. TCP only; half an upgrade; a full upgrade and then silence (never reading either)."""
    for _ in range(4):
        held.append(socket.create_connection((host, port), timeout=STEP_TIMEOUT_S))
    for i in range(4):
        sock = socket.create_connection((host, port), timeout=STEP_TIMEOUT_S)
        request = upgrade_request(host, port, f"/v1/classes/{CLASS}/ws?role=viewer")
        sock.sendall(request[: len(request) // 2 + i])
        held.append(sock)
    paths = [
        f"/v1/classes/{CLASS}/ws?role=viewer",
        f"/v1/classes/{CLASS}/ws?role=viewer&mode=latest",
        f"/v1/classes/{CLASS}/ws?role=publisher&participant=mute",
        "/v1/classes/abuse/ws?role=viewer",
    ]
    for path in paths:
        sock = socket.create_connection((host, port), timeout=STEP_TIMEOUT_S)
        sock.sendall(upgrade_request(host, port, path))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, f"{path}: closed during the upgrade"
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head[:80]
        held.append(sock)


# MARK: - Raw HTTP and WebSocket framing


def upgrade_request(host: str, port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def raw_upgrade(host: str, port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(upgrade_request(host, port, path))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP_TIMEOUT_S)
    assert head.startswith(b"HTTP/1.1 101"), f"{path}: {head[:80]!r}"
    return reader, writer


def client_frame(
    opcode: int, payload: bytes, fin: bool = True, mask: bool = True, length: int | None = None, rsv: int = 0
) -> bytes:
    """One client frame. `length` announces a different payload length than `payload` has (the rest is
    sent, or not, by the caller)."""
    length = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack(">H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack(">Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def read_close_code(reader: asyncio.StreamReader, timeout: float) -> int | None:
    """Reads server frames until a close frame (its code) or the end of the stream (None)."""
    answer = await read_frames_until(reader, timeout, lambda text: False)
    if answer == "open":
        raise AssertionError(f"the hub did not close within {timeout} s")
    return answer


async def read_frames_until(reader: asyncio.StreamReader, timeout: float, served) -> str | int | None:
    """Reads server frames: "served" when a text frame satisfies `served`, the close code of a close frame
    (None without a code, or when the stream just ends), "open" when neither happens within `timeout`."""
    deadline = time.monotonic() + timeout

    async def exactly(n: int) -> bytes:
        return await asyncio.wait_for(reader.readexactly(n), max(0.0, deadline - time.monotonic()))

    try:
        while True:
            first, second = await exactly(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack(">H", await exactly(2))
            elif length == 127:
                (length,) = struct.unpack(">Q", await exactly(8))
            payload = await exactly(length)
            if first & 0x0F == 0x8:
                return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
            if first & 0x0F == 0x1 and served(payload.decode("utf-8", "replace")):
                return "served"
    except (asyncio.IncompleteReadError, ConnectionResetError):
        return None
    except (asyncio.TimeoutError, TimeoutError):
        return "open"


async def read_until_eof(reader: asyncio.StreamReader, timeout: float) -> bytes | None:
    """Everything until the hub closes, or None if it is still open after `timeout`."""
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            chunk = await asyncio.wait_for(reader.read(4096), remaining)
            if not chunk:
                return data
            data += chunk
    except ConnectionResetError:
        return data
    except (asyncio.TimeoutError, TimeoutError):
        pass
    return None


async def healthy(host: str, port: int) -> None:
    status = await asyncio.to_thread(healthz, host, port)
    assert status == 200, f"/healthz answered {status}"


def healthz(host: str, port: int) -> int:
    with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=STEP_TIMEOUT_S) as response:
        return response.status
