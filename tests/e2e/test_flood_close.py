"""A device that floods gets the answer, not a reset (issue 13, item 1).

A publisher on a hub with `--max-sample-rate 5` sends 2,000 samples as fast as its socket allows without reading
anything, and only then reads. The bucket holds 60 s worth (300 samples); every later sample is refused with
`rate_limited`, and the 101st error (`--max-errors` 100) closes the connection with 4029. The client must read
what explains the close: the `rate_limited` errors (coalesced: at most one per 100 ms, naming the count and the
seqs), then the close frame 4029 with its reason, then the end of the stream: never a TCP reset, which would make
its kernel discard all of that unread.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from hubclient import class_url, run
from test_abuse import client_frame, upgrade_request

SAMPLES = 2_000
BUCKET = 300  # 60 s × 5 samples/s
MAX_ERRORS = 100  # the hub's default --max-errors
REASON = "too many errors or connections"
READ_TIMEOUT_S = 10.0


def samples(count: int) -> list[bytes]:
    ts = int(time.time() * 1000)
    return [json.dumps({"t": "hr", "seq": seq, "ts": ts + seq, "bpm": 120}).encode() for seq in range(1, count + 1)]


def refused_runs(messages: list[dict]) -> list[tuple[int, int, int]]:
    """(seq, count, last seq) of every rate_limited error, checking each names its seqs consistently."""
    runs = []
    for m in messages:
        if m["t"] != "error" or m["code"] != "rate_limited":
            continue
        if "count" in m:
            assert m["from_seq"] == m["seq"], f"seq must be the first refused seq: {m}"
            assert m["count"] == m["to_seq"] - m["from_seq"] + 1, f"a coalesced error names exactly its seqs: {m}"
            runs.append((m["seq"], m["count"], m["to_seq"]))
        else:
            runs.append((m["seq"], 1, m["seq"]))
    return runs


def check_refusals(messages: list[dict]) -> None:
    assert messages and messages[0]["t"] == "welcome", messages[:1]
    runs = refused_runs(messages)
    assert runs, f"no rate_limited error before the close: {messages}"
    # The first refused seq follows the bucket's last accepted one (give or take the tokens the flood's own
    # duration refilled), and the runs follow each other with no seq left out or named twice.
    assert BUCKET + 1 <= runs[0][0] <= BUCKET + 5, runs
    for (_, _, last), (first, _, _) in zip(runs, runs[1:]):
        assert first == last + 1, runs
    assert sum(count for _, count, _ in runs) == MAX_ERRORS + 1, runs
    # Coalesced: far fewer errors than refused samples.
    assert len(runs) <= 3, runs


def parse_server_frames(data: bytes) -> tuple[list[dict], tuple[int, str] | None, bytes]:
    """The JSON messages of the text frames, the close frame's (code, reason), and any bytes after the close."""
    messages: list[dict] = []
    i = 0
    while i < len(data):
        assert i + 2 <= len(data), f"truncated frame header at {i}"
        opcode, length, j = data[i] & 0x0F, data[i + 1] & 0x7F, i + 2
        if length == 126:
            (length,), j = struct.unpack(">H", data[j : j + 2]), j + 2
        elif length == 127:
            (length,), j = struct.unpack(">Q", data[j : j + 8]), j + 8
        payload = data[j : j + length]
        assert len(payload) == length, f"truncated frame at {i}"
        i = j + length
        if opcode == 0x8:
            code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
            return messages, (code, payload[2:].decode()), data[i:]
        assert opcode == 0x1, f"unexpected opcode {opcode}"
        messages += json.loads(payload)
    return messages, None, b""


@pytest.mark.hub_args("--max-sample-rate", "5")
def test_a_raw_flood_reads_the_errors_then_close_4029_then_the_end_of_the_stream(hub):
    parts = urlsplit(hub)
    host, port = parts.hostname, parts.port
    path = urlsplit(class_url(hub, "flood", role="publisher", participant="p1")).path
    query = urlsplit(class_url(hub, "flood", role="publisher", participant="p1")).query
    with socket.create_connection((host, port), timeout=READ_TIMEOUT_S) as sock:
        request = upgrade_request(host, port, f"{path}?{query}")
        sock.sendall(request.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Protocol: hrhub.v1.json\r\n\r\n"))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, f"the hub closed during the handshake: {head!r}"
            head += chunk
        head, _, received = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head[:80]

        # The flood, with nothing read meanwhile.
        sock.sendall(b"".join(client_frame(0x1, payload) for payload in samples(SAMPLES)))

        # Then read to the end of the stream. A reset raises ConnectionResetError here and fails the test.
        while chunk := sock.recv(65536):
            received += chunk
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0

    messages, close, rest = parse_server_frames(received)
    check_refusals(messages)
    assert close == (4029, REASON)
    assert rest == b"", "nothing after the close frame"


@pytest.mark.hub_args("--max-sample-rate", "5")
def test_a_websocket_client_flooding_with_a_large_write_buffer_sees_the_errors_and_close_4029(hub):
    async def main():
        url = class_url(hub, "flood", role="publisher", participant="p2")
        async with connect(url, subprotocols=["hrhub.v1.json"], write_limit=2**24, max_queue=None) as ws:
            try:
                for payload in samples(SAMPLES):
                    await ws.send(payload.decode())
            except ConnectionClosed:
                pass  # the hub's close came while we were still sending; what it said is read below
            messages: list[dict] = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    messages += json.loads(await asyncio.wait_for(ws.recv(), READ_TIMEOUT_S))
        check_refusals(messages)
        assert closed.value.rcvd is not None, f"no close frame received (cause: {closed.value.__cause__!r})"
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4029, REASON)
        assert not isinstance(closed.value.__cause__, ConnectionResetError), repr(closed.value.__cause__)

    run(main())
