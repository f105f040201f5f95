"""The cluster's record in JetStream (PROTOCOL.md "Many hubs: cluster mode", docs/CLUSTER.md): three real hubs and a
real nats-server with JetStream.

- the record, leaderboard and summary answer the same on every hub, and welcome.last_seq counts what any hub accepted;
- a hub killed with SIGKILL mid-ride: the device reconnects to another hub and resends what was not acked; the record
  (read from every hub) has every seq exactly once, and no viewer sees a sample twice;
- nats-server stopped for 10 s mid-ride and restarted: acks go on from the local spool, the spool is flushed, and
  the record on every hub has every acked seq exactly once;
- a hub killed while NATS is down: what it acked from its spool reaches the stream when it restarts on the same data
  dir.
"""

from __future__ import annotations

import asyncio
import json
import uuid

from hubclient import now_ms, open_welcomed, run
from test_cluster import Hub, cluster, viewer, wait_until  # noqa: F401  (cluster is a fixture)
from test_record import acked_up_to, http

RIDE_BUDGET_S = 60


def record_seqs(hub, class_id: str) -> dict[str, list[int]]:
    """Each participant's recorded seqs, in the order the record lists them (404: nothing yet)."""
    status, _, body = http("GET", f"{hub.http}/v1/classes/{class_id}/record")
    if status == 404:
        return {}
    assert status == 200, (hub.hub_id, status, body[:200])
    seqs: dict[str, list[int]] = {}
    for row in json.loads(body):
        seqs.setdefault(row["p"], []).append(row["seq"])
    return seqs


def get_json(hub, path: str):
    status, _, body = http("GET", f"{hub.http}{path}")
    assert status == 200, (hub.hub_id, path, status, body[:200])
    return json.loads(body)


class Device:
    """A publishing device that keeps what it sent until acked, as the firmware does."""

    def __init__(self, participant: str):
        self.participant = participant
        self.conn = None
        self.sent = 0
        self.acked = 0
        self.reader: asyncio.Task | None = None

    async def connect(self, hub, class_id: str) -> dict:
        self.conn, welcome = await open_welcomed(hub.base, class_id, "publisher", participant=self.participant)
        self.reader = asyncio.create_task(self._read_acks(self.conn))
        return welcome

    async def _read_acks(self, conn) -> None:
        try:
            while True:
                message = await conn.next(timeout=RIDE_BUDGET_S)
                if message["t"] == "ack":
                    assert message["seq"] >= self.acked or conn is not self.conn, "acks never decrease"
                    self.acked = max(self.acked, message["seq"])
        except Exception:
            return  # the connection ended (the hub was killed, or the test is over)

    async def send(self, seq: int) -> None:
        await self.conn.hr(seq=seq, bpm=100 + seq % 80)
        self.sent = max(self.sent, seq)

    async def ride(self, seqs: range, per_second: float) -> None:
        for seq in seqs:
            await self.send(seq)
            await asyncio.sleep(1 / per_second)  # the ride's pace, not a synchronisation

    async def acked_up_to(self, seq: int) -> None:
        deadline = asyncio.get_running_loop().time() + RIDE_BUDGET_S
        while self.acked < seq:
            assert asyncio.get_running_loop().time() < deadline, f"{self.participant}: ack {self.acked}, wanted {seq}"
            await asyncio.sleep(0.02)  # the reader task takes the acks; this waits for its state


def test_the_record_leaderboard_and_summary_are_the_same_on_every_hub(cluster):
    _, (a, b, c) = cluster
    class_id = "cl-" + uuid.uuid4().hex[:8]
    samples = 60

    async def main():
        await viewer(b, class_id)
        ann, _ = await open_welcomed(a.base, class_id, "publisher", participant="ann")
        await ann.hello(name="Ann", hrmax=190)
        bo, _ = await open_welcomed(b.base, class_id, "publisher", participant="bo")
        await bo.hello(name="Bo", hrmax=180)
        start = now_ms() - samples * 1000
        for seq in range(1, samples + 1):
            await ann.hr(seq=seq, bpm=170, ts=start + seq * 1000)
            await bo.hr(seq=seq, bpm=120 + seq, ts=start + seq * 1000)
        await acked_up_to(ann, samples)
        await acked_up_to(bo, samples)

    run(main(), timeout=RIDE_BUDGET_S)
    expected = {"ann": list(range(1, samples + 1)), "bo": list(range(1, samples + 1))}
    for hub in (a, b, c):
        assert record_seqs(hub, class_id) == expected, hub.hub_id
    rows = [get_json(hub, f"/v1/classes/{class_id}/record") for hub in (a, b, c)]
    assert rows[0] == rows[1] == rows[2]

    def board(hub):
        return get_json(hub, f"/v1/classes/{class_id}/leaderboard")["entries"]

    def summary(hub):
        return get_json(hub, f"/v1/classes/{class_id}/summary")

    # A and B count the samples as the record stream announces them; C reads the record: all converge.
    wait_until(lambda: board(a) == board(b) == board(c), 30, "the same leaderboard on every hub")
    wait_until(lambda: summary(a) == summary(b) == summary(c), 30, "the same summary on every hub")
    entries = board(c)
    assert [(e["p"], e.get("name")) for e in entries] == [("ann", "Ann"), ("bo", "Bo")], entries
    assert entries[0]["points"] > 0

    async def last_seq_elsewhere():
        # Ann's device moves to C, where she never published: welcome.last_seq is what A accepted.
        _, welcome = await open_welcomed(c.base, class_id, "publisher", participant="ann")
        assert welcome["last_seq"] == samples

    run(last_seq_elsewhere(), timeout=RIDE_BUDGET_S)


def test_a_hub_killed_mid_ride_loses_nothing_acked_and_records_nothing_twice(cluster):
    _, (a, b, c) = cluster
    class_id = "cl-" + uuid.uuid4().hex[:8]
    device = Device("kim")

    async def main():
        on_c = await viewer(c, class_id)
        await device.connect(a, class_id)
        seq = 0
        while device.acked < 100:
            assert seq < 2_000, f"acks must flow on hub A (acked {device.acked} of {device.sent})"
            seq += 1
            await device.send(seq)
            if seq % 10 == 0:
                await asyncio.sleep(0.01)  # a steady ride, not a burst
        for extra in range(seq + 1, seq + 21):  # more goes out, some of it unacked when A dies
            await device.send(extra)
        a.kill9()
        acked_on_a = device.acked

        welcome = await device.connect(b, class_id)
        assert welcome["last_seq"] is not None and welcome["last_seq"] >= acked_on_a
        # The device resends everything A did not ack, then rides on.
        last = device.sent + 30
        for resend in range(acked_on_a + 1, last + 1):
            await device.send(resend)
        await device.acked_up_to(last)
        seen = [m for m in await on_c.sync() + on_c.skipped if m["t"] == "hr" and m["p"] == "kim"]
        seqs = [m["seq"] for m in seen]
        assert len(seqs) == len(set(seqs)), "no viewer sees a sample twice"
        return last

    last = run(main(), timeout=RIDE_BUDGET_S)
    for hub in (b, c):
        assert record_seqs(hub, class_id) == {"kim": list(range(1, last + 1))}, hub.hub_id


def test_nats_stopped_for_ten_seconds_mid_ride_loses_nothing_acked(cluster):
    nats, (a, b, c) = cluster
    class_id = "cl-" + uuid.uuid4().hex[:8]
    ann, bo = Device("ann"), Device("bo")

    async def main():
        await ann.connect(a, class_id)
        await bo.connect(b, class_id)
        await asyncio.gather(ann.ride(range(1, 21), 20), bo.ride(range(1, 21), 20))
        await ann.acked_up_to(20)
        await bo.acked_up_to(20)

        nats.stop()
        for hub in (a, b):
            wait_until(lambda: hub.healthz() == "degraded: cluster unreachable", 10, f"{hub.hub_id} degraded")
        # Ten seconds of riding without NATS: the local spool commits, so the acks go on.
        await asyncio.gather(ann.ride(range(21, 221), 20), bo.ride(range(21, 221), 20))
        await ann.acked_up_to(220)
        await bo.acked_up_to(220)
        assert a.metric("hrhub_record_spooling_state") == 1

        nats.start()
        for hub in (a, b, c):
            wait_until(lambda: hub.healthz() == "ok", 30, f"{hub.hub_id} ok after NATS returned")
        await asyncio.gather(ann.ride(range(221, 241), 20), bo.ride(range(221, 241), 20))
        await ann.acked_up_to(240)
        await bo.acked_up_to(240)

    run(main(), timeout=RIDE_BUDGET_S * 2)
    expected = {"ann": list(range(1, 241)), "bo": list(range(1, 241))}
    for hub in (a, b, c):
        wait_until(lambda: record_seqs(hub, class_id) == expected, RIDE_BUDGET_S, f"the whole record on {hub.hub_id}")
    for hub in (a, b):
        assert hub.metric("hrhub_record_spool_flushed_total") >= 150, hub.hub_id
        assert hub.metric("hrhub_record_spooling_state") == 0


def test_a_spool_left_by_a_killed_hub_is_flushed_when_it_restarts(cluster, tmp_path):
    nats, (a, b, _) = cluster
    class_id = "cl-" + uuid.uuid4().hex[:8]
    device = Device("lea")

    async def main():
        await device.connect(a, class_id)
        await device.ride(range(1, 21), 20)
        await device.acked_up_to(20)
        nats.stop()
        wait_until(lambda: a.healthz() == "degraded: cluster unreachable", 10, "hub-a degraded")
        await device.ride(range(21, 61), 20)
        await device.acked_up_to(60)  # acked from the spool only
        a.kill9()

    run(main(), timeout=RIDE_BUDGET_S)
    nats.start()
    wait_until(lambda: b.healthz() == "ok", 30, "hub-b ok after NATS returned")
    assert record_seqs(b, class_id) == {"lea": list(range(1, 21))}, "the spooled samples are not in the stream yet"
    restarted = Hub("hub-a", nats, tmp_path / "a")  # the same --data-dir: the same spool
    try:
        wait_until(lambda: record_seqs(b, class_id) == {"lea": list(range(1, 61))}, RIDE_BUDGET_S, "the flushed spool")
        assert restarted.metric("hrhub_record_spool_flushed_total") == 40
    finally:
        restarted.stop()
