"""Standings rebuilt from a big record after a restart (PROTOCOL.md, "Standings: the live leaderboard"): the read
runs off the hub's service thread, so every other class keeps being relayed meanwhile, the class being rebuilt gets
its boards once it is back, and samples that arrive during the rebuild count exactly once.

The big record is written straight into the hub's SQLite file while the hub is stopped (uploading it would take
minutes); syncing is on events (a relayed sample, ping/pong, acks, the first board), never on sleeps.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3

from hubclient import now_ms, open_welcomed, run
from test_record import RecordHub, acked_up_to, barrier, data_dir, http  # noqa: F401 (fixture)

RIDERS = 400
SAMPLES = 1_000  # per rider: 400,000 rows, seconds of reading for a debug hub
ARGS = ["--budget-ms", "60000", "--jitter", "off", "--board-interval-ms", "100"]


def write_big_record(path, class_id: str, t0: int) -> None:
    """RIDERS × SAMPLES rows at 1 Hz for `class_id`, each rider in one zone (1…5 by index)."""
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO samples(class, participant, seq, ts, rts, bpm, rr, contact, ee, zone)"
            " VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?)",
            ((class_id, f"rider-{r:03d}", seq, t0 + seq * 1000, t0 + seq * 1000, 100 + 10 * (r % 5), 1 + r % 5)
             for r in range(RIDERS) for seq in range(1, SAMPLES + 1)))
        db.execute("INSERT INTO classes(class, newest_rts) VALUES (?, ?)", (class_id, t0 + SAMPLES * 1000))
    db.close()


def test_a_big_rebuild_does_not_hold_up_other_classes(data_dir):
    hub = RecordHub(data_dir, *ARGS).start()
    hub.stop()  # the record's file now exists, with its schema
    t0 = now_ms() - SAMPLES * 1000
    write_big_record(data_dir / "record.sqlite3", "big", t0)
    hub.start()
    try:
        async def scenario():
            # A screen on the big class: its standings must be read back from 400,000 rows.
            big, _ = await open_welcomed(hub.base, "big", "viewer")
            assert (await big.next())["t"] == "snapshot"
            # The summary asked for meanwhile waits for the same read.
            summary_early = asyncio.create_task(asyncio.to_thread(http, "GET", f"{hub.http}/v1/classes/big/summary"))

            # Another class is relayed while that read runs.
            screen, _ = await open_welcomed(hub.base, "other", "viewer")
            device, _ = await open_welcomed(hub.base, "other", "publisher", participant="zoe")
            await device.hr(1, 120, ts=now_ms())
            await screen.expect(lambda m: m["t"] == "hr" and m["p"] == "zoe", what="zoe's sample")
            # … and rider-000 of the big class rides on: committed (acked) while the standings are being rebuilt.
            rider, welcome = await open_welcomed(hub.base, "big", "publisher", participant="rider-000")
            assert welcome["last_seq"] == SAMPLES
            for seq in range(SAMPLES + 1, SAMPLES + 4):
                await rider.hr(seq, 150, ts=t0 + seq * 1000)
            await acked_up_to(rider, SAMPLES + 3)
            # Still no board for the big class: its read had not come back when all that was done.
            assert not [m for m in await barrier(big) if m["t"] == "board"], "the rebuild finished too soon to tell"

            board = await big.expect(lambda m: m["t"] == "board", timeout=300, what="the big class's first board")
            assert board["n"] == RIDERS
            status, _, body = await summary_early
            assert status == 200, body
            assert len(json.loads(body)) == RIDERS
            for conn in (big, screen, device, rider):
                await conn.close()

        run(scenario(), timeout=400)
        status, _, body = http("GET", f"{hub.http}/v1/classes/big/summary")
        assert status == 200
        riders = {entry["p"]: entry for entry in json.loads(body)}
        assert riders["rider-000"]["samples"] == SAMPLES + 3, "the samples sent during the rebuild, counted once"
        assert riders["rider-001"]["samples"] == SAMPLES
    finally:
        hub.stop()
