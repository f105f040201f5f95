"""Delivery rules end to end: the accounting invariant under a slow viewer, a reconnecting publisher
and a stalled-then-bursting publisher.

The invariant (PROTOCOL.md, `gap`): for every viewer and participant, every sample published while the
viewer was connected is either delivered exactly once, in increasing seq, or named in exactly one gap.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import defaultdict

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from hubclient import BINARY, Conn, class_url, now_ms, open_welcomed, run

CLASS_TIMEOUT_S = 20


class Ledger:
    """What one viewer got, per participant: delivered seqs in arrival order and gap-covered seqs."""

    def __init__(self) -> None:
        self.delivered: dict[str, list[int]] = defaultdict(list)
        self.gapped: dict[str, list[tuple[int, int, int, str]]] = defaultdict(list)

    def take(self, message: dict) -> None:
        if message["t"] == "hr":
            self.delivered[message["p"]].append(message["seq"])
        elif message["t"] == "gap":
            self.gapped[message["p"]].append(
                (message["from_seq"], message["to_seq"], message["count"], message["reason"])
            )
        elif message["t"] == BINARY:
            for sample in message["samples"]:
                self.delivered[sample["p"]].append(sample["seq"])

    def accounted(self, participant: str) -> set[int]:
        named = {seq for start, end, _, _ in self.gapped[participant] for seq in range(start, end + 1)}
        return named | set(self.delivered[participant])

    def check(self, published: dict[str, list[int]]) -> None:
        """Asserts the invariant for every participant; `published` lists each one's seqs."""
        for participant, seqs in published.items():
            delivered = self.delivered[participant]
            assert delivered == sorted(delivered), f"{participant}: out of order {delivered}"
            assert len(delivered) == len(set(delivered)), f"{participant}: delivered twice {delivered}"
            named: list[int] = []
            for start, end, count, reason in self.gapped[participant]:
                assert reason in ("backpressure", "late", "conflated"), reason
                covered = [seq for seq in seqs if start <= seq <= end]
                assert count == len(covered), f"{participant}: gap {start}..{end} count {count} vs {covered}"
                named.extend(covered)
            assert len(named) == len(set(named)), f"{participant}: a seq named in two gaps: {named}"
            both = set(named) & set(delivered)
            assert not both, f"{participant}: delivered and named in a gap: {sorted(both)}"
            missing = set(seqs) - set(named) - set(delivered)
            assert not missing, f"{participant}: neither delivered nor named: {sorted(missing)}"

    def gap_count(self) -> int:
        return sum(count for gaps in self.gapped.values() for _, _, count, _ in gaps)


class RawViewer:
    """A viewer whose reading is fully under the test's control: websockets' sans-I/O protocol over an
    asyncio stream with a tiny user-space buffer, so when the test stops reading, only the kernel's
    default receive buffer stands between the stall and the hub."""

    def __init__(self, url: str):
        self.url = url
        self.protocol = ClientProtocol(parse_uri(url), max_size=None)
        self.pending: list[dict] = []

    async def open(self) -> None:
        uri = parse_uri(self.url)
        self.reader, self.writer = await asyncio.open_connection(uri.host, uri.port, limit=1024)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while not isinstance(self.protocol.handshake_exc, Exception) and self.protocol.state.name == "CONNECTING":
            await self._pump(5)
        assert self.protocol.state.name == "OPEN", self.protocol.handshake_exc

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.writer.write(chunk)

    async def _pump(self, timeout: float) -> None:
        data = await asyncio.wait_for(self.reader.read(65536), timeout)
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                continue
            if event.opcode == Opcode.TEXT:
                self.pending.extend(json.loads(event.data))
        self._flush()

    async def next(self, timeout: float) -> dict:
        while not self.pending:
            await self._pump(timeout)
        return self.pending.pop(0)

    async def close(self) -> None:
        self.writer.close()


async def read_into(
    conn: Conn | RawViewer, ledger: Ledger, until: asyncio.Event, published: dict[str, list[int]] | None = None
) -> None:
    """Reads and books messages until `until` is set and then either every published seq is accounted
    for (when `published` is given) or nothing more arrives for a moment."""
    while True:
        if until.is_set() and published is not None:
            if all(ledger.accounted(p) >= set(seqs) for p, seqs in published.items()):
                return
        try:
            message = await conn.next(timeout=0.5)
        except (asyncio.TimeoutError, TimeoutError):
            if until.is_set() and published is None:
                return
            continue
        ledger.take(message)


@pytest.mark.hub_args("--queue-max-messages", "64")
def test_slow_viewer_gets_gaps_while_others_get_everything(hub):
    """50 publishers at 5 Hz; one viewer stops reading for 5 s. It gets gaps; the others lose nothing."""

    async def main():
        class_id = "slowviewer"
        publishers = 50
        rate_hz = 8
        seconds = 8
        normal = [(await open_welcomed(hub, class_id, "viewer"))[0] for _ in range(3)]
        # The slow viewer: tiny buffers, so when it stops reading the stall reaches the hub at once.
        slow = RawViewer(class_url(hub, class_id, role="viewer"))
        await slow.open()
        assert (await slow.next(5))["t"] == "welcome"
        pubs = [(await open_welcomed(hub, class_id, "publisher", participant=f"r{i}"))[0] for i in range(publishers)]

        ledgers = [Ledger() for _ in normal]
        slow_ledger = Ledger()
        done = asyncio.Event()
        published: dict[str, list[int]] = {f"r{i}": [] for i in range(publishers)}
        readers = [asyncio.create_task(read_into(c, l, done, published)) for c, l in zip(normal, ledgers)]

        async def slow_reader():
            await asyncio.sleep(1.0)  # reads normally for a second
            deadline = asyncio.get_running_loop().time() + 1.0
            while asyncio.get_running_loop().time() < deadline:
                try:
                    slow_ledger.take(await slow.next(timeout=0.2))
                except (asyncio.TimeoutError, TimeoutError):
                    pass
            await asyncio.sleep(5.0)  # stops reading: the hub must not let this slow anyone else
            await read_into(slow, slow_ledger, done, published)

        slow_task = asyncio.create_task(slow_reader())
        start = now_ms()
        ticks = seconds * rate_hz
        for tick in range(ticks):
            # Open loop: every tick is due at a fixed time, whatever the previous one cost.
            due = start + tick * 1000 // rate_hz
            await asyncio.sleep(max(0, due - now_ms()) / 1000)
            for i, pub in enumerate(pubs):
                seq = tick + 1
                await pub.hr(seq, 120 + tick % 30, rr=[480, 490, 500, 510])
                published[f"r{i}"].append(seq)
        done.set()
        await asyncio.wait_for(asyncio.gather(*readers, slow_task), CLASS_TIMEOUT_S)

        for ledger in ledgers:
            ledger.check(published)
            assert ledger.gap_count() == 0, "a viewer that reads normally must lose nothing"
            assert sum(len(v) for v in ledger.delivered.values()) == publishers * ticks
        slow_ledger.check(published)
        assert slow_ledger.gap_count() > 0, "the stalled viewer's backlog should have been dropped and named"
        for conn in [*normal, slow, *pubs]:
            await conn.close()

    run(main(), timeout=60)


def test_reconnecting_publisher_resending_its_last_30_causes_no_duplicate(hub):
    async def main():
        class_id = "reconnect"
        viewer, _ = await open_welcomed(hub, class_id, "viewer")
        ledger = Ledger()
        done = asyncio.Event()
        reader = asyncio.create_task(read_into(viewer, ledger, done))

        pub, welcome = await open_welcomed(hub, class_id, "publisher", participant="anna")
        assert welcome["last_seq"] is None
        for seq in range(1, 41):
            await pub.hr(seq, 130)
            await asyncio.sleep(0.02)
        await pub.ping_pong()  # everything above was handled
        await pub.close()

        pub, welcome = await open_welcomed(hub, class_id, "publisher", participant="anna")
        assert welcome["last_seq"] == 40
        # A device that ignores last_seq and replays its whole offline buffer: 30 already-accepted samples.
        for seq in range(11, 41):
            await pub.hr(seq, 130)
        for seq in range(41, 46):
            await pub.hr(seq, 131)
            await asyncio.sleep(0.02)
        refused = []  # the seqs the duplicate errors name (a coalesced error names a run: from_seq..to_seq)
        while len(refused) < 30:
            message = await pub.next()
            if message["t"] == "error":
                assert message["code"] == "duplicate", message
                refused += range(message.get("from_seq", message["seq"]), message.get("to_seq", message["seq"]) + 1)
        assert sorted(refused) == list(range(11, 41))
        await asyncio.sleep(1.0)
        done.set()
        await reader
        ledger.check({"anna": list(range(1, 46))})
        assert ledger.delivered["anna"] == list(range(1, 46)), "on a quiet loopback nothing should be late"
        await pub.close()
        await viewer.close()

    run(main(), timeout=30)


def test_stalled_then_bursting_publisher_is_delivered_in_order_or_named_late(hub):
    async def main():
        class_id = "burst"
        viewer, _ = await open_welcomed(hub, class_id, "viewer")
        ledger = Ledger()
        done = asyncio.Event()
        reader = asyncio.create_task(read_into(viewer, ledger, done))
        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="ben")

        seq = 0
        for _ in range(10):  # 2 s on time at 5 Hz
            seq += 1
            await pub.hr(seq, 120)
            await asyncio.sleep(0.2)
        # Wi-Fi stalls for 2 s: the strap keeps capturing, nothing gets through.
        buffered = []
        for _ in range(10):
            seq += 1
            buffered.append((seq, now_ms()))
            await asyncio.sleep(0.2)
        for s, ts in buffered:  # ...then everything arrives at once
            await pub.hr(s, 125, ts=ts)
        for _ in range(10):  # and it goes on normally
            seq += 1
            await pub.hr(seq, 130)
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        done.set()
        await reader

        ledger.check({"ben": list(range(1, seq + 1))})
        late = {s for a, b, _, reason in ledger.gapped["ben"] if reason == "late" for s in range(a, b + 1)}
        # Samples captured well over the 800 ms budget before they arrived cannot be shown live.
        assert set(range(11, 15)) <= late, f"old burst samples should be named late, got {sorted(late)}"
        # The on-time ones before and after the stall all arrive.
        assert set(range(1, 11)) | set(range(21, seq + 1)) <= set(ledger.delivered["ben"])
        await pub.close()
        await viewer.close()

    run(main(), timeout=30)
