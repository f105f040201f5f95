"""Delivery rules end to end: the accounting invariant under a slow viewer, a reconnecting publisher
and a stalled-then-bursting publisher.

The invariant (PROTOCOL.md, `gap`): for every viewer and participant, every sample published while the
viewer was connected is either delivered exactly once, in increasing seq, or named in exactly one gap.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections import defaultdict

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from hubclient import BIG_BUDGET, BINARY, Conn, class_url, now_ms, open_welcomed, run, scrape

# A deadline for each message a reader waits for: only a hub that stopped serving it reaches it.
READ_DEADLINE_S = 30

# Every delivery test runs with the class tick off (each sample written when due) and on (the default, 100 ms).
BOTH_TICKS = pytest.mark.parametrize(
    "tick_ms", [pytest.param(t, marks=pytest.mark.hub_args("--tick-ms", t), id=f"tick-{t}") for t in ("0", "100")]
)


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

    def accounts_for(self, published: dict[str, list[int]]) -> bool:
        """Whether every published seq was delivered or named in a gap."""
        return all(self.accounted(p) >= set(seqs) for p, seqs in published.items())

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
    asyncio stream with a tiny user-space buffer and a small kernel receive buffer, so when the test stops
    reading, the stall reaches the hub at once."""

    def __init__(self, url: str):
        self.url = url
        self.protocol = ClientProtocol(parse_uri(url), max_size=None)
        self.pending: list[dict] = []

    async def open(self) -> None:
        uri = parse_uri(self.url)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (uri.host, uri.port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=1024)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while not isinstance(self.protocol.handshake_exc, Exception) and self.protocol.state.name == "CONNECTING":
            await self._pump(READ_DEADLINE_S)
        assert self.protocol.state.name == "OPEN", self.protocol.handshake_exc

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.writer.write(chunk)

    async def _pump(self, timeout: float) -> None:
        data = await asyncio.wait_for(self.reader.read(65536), timeout)
        assert data, "the hub closed the connection"
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                continue
            if event.opcode == Opcode.TEXT:
                self.pending.extend(json.loads(event.data))
        self._flush()

    async def next(self, timeout: float = READ_DEADLINE_S) -> dict:
        while not self.pending:
            await self._pump(timeout)
        return self.pending.pop(0)

    async def send(self, message: dict) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        self._flush()
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()


_wake_ids = itertools.count(1)


async def read_into(
    conn: Conn | RawViewer, ledger: Ledger, done: asyncio.Event, published: dict[str, list[int]]
) -> None:
    """Books messages until `done` is set and every published seq is accounted for. Whoever sets `done` then
    calls `wake`, so a reader waiting for a message that will never come gets one (a pong) and sees it is done."""
    while not (done.is_set() and ledger.accounts_for(published)):
        ledger.take(await conn.next(timeout=READ_DEADLINE_S))


async def wake(conn: Conn | RawViewer) -> None:
    await conn.send({"t": "ping", "id": f"wake-{next(_wake_ids)}", "ct": now_ms()})


async def finish(conns: list[Conn | RawViewer], readers: list[asyncio.Task], done: asyncio.Event) -> None:
    """Ends the readers once they have accounted for everything, and checks that nothing more was on its way
    to them: every sample was handled, so a duplicate or a stray gap would be queued before a barrier's pong."""
    done.set()
    for conn in conns:
        await wake(conn)
    await asyncio.gather(*readers)
    for conn in conns:
        extra = [m for m in await sync(conn) if m["t"] in ("hr", "gap", BINARY)]
        assert not extra, f"arrived after everything was accounted for: {extra}"


async def sync(conn: Conn | RawViewer) -> list[dict]:
    """The barrier of `Conn.sync` for either kind of viewer (wake pongs are not counted as messages)."""
    if isinstance(conn, Conn):
        return [m for m in await conn.sync() if m["t"] != "pong"]
    ping_id = f"barrier-{next(_wake_ids)}"
    await conn.send({"t": "ping", "id": ping_id, "ct": now_ms()})
    before = []
    while (message := await conn.next()).get("id") != ping_id or message["t"] != "pong":
        if message["t"] != "pong":
            before.append(message)
    return before


# Queues of 256 messages hold seconds of this class for a reader that keeps up but gets little CPU (a loaded
# machine, one Python thread for every connection); the stalled viewer overflows its queue however long that takes.
@pytest.mark.hub_args("--queue-max-messages", "256", *BIG_BUDGET)
@BOTH_TICKS
def test_slow_viewer_gets_gaps_while_others_get_everything(hub, tick_ms):
    """20 publishers at 5 Hz; one viewer stops reading until the hub has had to drop samples for it. It gets
    gaps; the others lose nothing."""

    async def main():
        class_id = "slowviewer"
        publishers = 20
        rate_hz = 5
        ticks = 8 * rate_hz  # at least; more while the slow viewer is still stalled
        normal = [(await open_welcomed(hub, class_id, "viewer"))[0] for _ in range(3)]
        slow = RawViewer(class_url(hub, class_id, role="viewer"))
        await slow.open()
        assert (await slow.next())["t"] == "welcome"
        pubs = [(await open_welcomed(hub, class_id, "publisher", participant=f"r{i}"))[0] for i in range(publishers)]

        ledgers = [Ledger() for _ in normal]
        slow_ledger = Ledger()
        done = asyncio.Event()
        published: dict[str, list[int]] = {f"r{i}": [] for i in range(publishers)}
        readers = [asyncio.create_task(read_into(c, l, done, published)) for c, l in zip(normal, ledgers)]
        stall = asyncio.Event()  # set by the publishing loop after a few ticks
        resumed = asyncio.Event()

        async def slow_reader():
            reading = asyncio.create_task(read_into(slow, slow_ledger, done, published))
            await stall.wait()  # reads normally at first
            reading.cancel()  # then stops reading: the hub must not let this slow anyone else
            # Cancelling drops no message: a pending read is cancelled before it takes any data.
            await asyncio.gather(reading, return_exceptions=True)
            while (await asyncio.to_thread(scrape, hub)).get("hrhub_samples_dropped_total{reason=backpressure}", 0) == 0:
                await asyncio.sleep(0.05)  # polling the hub's counter; the test's overall deadline bounds it
            resumed.set()
            await read_into(slow, slow_ledger, done, published)

        slow_task = asyncio.create_task(slow_reader())
        start = now_ms()
        for tick in itertools.count():
            if tick >= ticks and resumed.is_set():
                break
            if tick == rate_hz:
                stall.set()
            # Open loop: every tick is due at a fixed time, whatever the previous one cost (the load's shape).
            due = start + tick * 1000 // rate_hz
            await asyncio.sleep(max(0, due - now_ms()) / 1000)
            for i, pub in enumerate(pubs):
                seq = tick + 1
                await pub.hr(seq, 120 + tick % 30, rr=[480, 490, 500, 510])
                published[f"r{i}"].append(seq)
        for pub in pubs:  # every sample handled before `finish` looks for strays
            await pub.sync()
        await finish([*normal, slow], [*readers, slow_task], done)

        total = sum(len(seqs) for seqs in published.values())
        for ledger in ledgers:
            ledger.check(published)
            assert ledger.gap_count() == 0, "a viewer that reads normally must lose nothing"
            assert sum(len(v) for v in ledger.delivered.values()) == total
        slow_ledger.check(published)
        assert slow_ledger.gap_count() > 0, "the stalled viewer's backlog should have been dropped and named"
        for conn in [*normal, slow, *pubs]:
            await conn.close()

    run(main(), timeout=120)


@pytest.mark.hub_args(*BIG_BUDGET)
@BOTH_TICKS
def test_reconnecting_publisher_resending_its_last_30_causes_no_duplicate(hub, tick_ms):
    async def main():
        class_id = "reconnect"
        viewer, _ = await open_welcomed(hub, class_id, "viewer")
        ledger = Ledger()
        done = asyncio.Event()
        published = {"anna": list(range(1, 46))}
        reader = asyncio.create_task(read_into(viewer, ledger, done, published))

        pub, welcome = await open_welcomed(hub, class_id, "publisher", participant="anna")
        assert welcome["last_seq"] is None
        for seq in range(1, 41):
            await pub.hr(seq, 130)
        await pub.sync()  # everything above was handled
        await pub.close()

        pub, welcome = await open_welcomed(hub, class_id, "publisher", participant="anna")
        assert welcome["last_seq"] == 40
        # A device that ignores last_seq and replays its whole offline buffer: 30 already-accepted samples.
        for seq in range(11, 41):
            await pub.hr(seq, 130)
        for seq in range(41, 46):
            await pub.hr(seq, 131)
        # A held (coalesced) error may come after a later pong (PROTOCOL.md), so the errors are read until they
        # name all 30 seqs: a coalesced error names a run, from_seq..to_seq.
        refused = []
        while len(refused) < 30:
            message = await pub.next()
            if message["t"] == "error":
                assert message["code"] == "duplicate", message
                refused += range(message.get("from_seq", message["seq"]), message.get("to_seq", message["seq"]) + 1)
        assert sorted(refused) == list(range(11, 41))
        await finish([viewer], [reader], done)  # the hub handled every sample: 11..40 refused, 41..45 accounted
        ledger.check(published)
        assert ledger.delivered["anna"] == list(range(1, 46)), "with a budget this large nothing is late"
        await pub.close()
        await viewer.close()

    run(main(), timeout=60)


# A budget the on-time samples cannot overrun however loaded the machine, and that the stalled ones, captured a
# minute before they arrive, overrun by far: the test is about lateness, not about how fast the hub is.
@pytest.mark.hub_args("--budget-ms", "10000")
@BOTH_TICKS
def test_stalled_then_bursting_publisher_is_delivered_in_order_or_named_late(hub, tick_ms):
    async def main():
        class_id = "burst"
        viewer, _ = await open_welcomed(hub, class_id, "viewer")
        ledger = Ledger()
        done = asyncio.Event()
        published = {"ben": list(range(1, 31))}
        reader = asyncio.create_task(read_into(viewer, ledger, done, published))
        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="ben")

        for seq in range(1, 11):  # on time
            await pub.hr(seq, 120)
        # Wi-Fi stalled for a minute while the strap kept capturing at 5 Hz; then it all arrives at once...
        stalled_from = now_ms() - 60_000
        for seq in range(11, 21):
            await pub.hr(seq, 125, ts=stalled_from + (seq - 11) * 200)
        for seq in range(21, 31):  # ...and it goes on normally
            await pub.hr(seq, 130)
        await pub.sync()
        await finish([viewer], [reader], done)

        ledger.check(published)
        late = {s for a, b, _, reason in ledger.gapped["ben"] if reason == "late" for s in range(a, b + 1)}
        # Samples captured a minute before they arrived cannot be shown live.
        assert set(range(11, 21)) <= late, f"the stalled samples should be named late, got {sorted(late)}"
        # The on-time ones before and after the stall all arrive.
        assert set(range(1, 11)) | set(range(21, 31)) <= set(ledger.delivered["ben"])
        await pub.close()
        await viewer.close()

    run(main(), timeout=60)
