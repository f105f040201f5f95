"""One publisher, a thousand viewers: every viewer gets every sample exactly once, in order."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from hubclient import BIG_BUDGET, RECV_TIMEOUT_S, open_conn, open_welcomed, run

# Correctness (nothing lost, order, once): a budget no loaded machine can overrun.
pytestmark = pytest.mark.hub_args(*BIG_BUDGET)

VIEWERS = 1000
BATCH = 100
SAMPLES = 20
TOTAL_TIMEOUT_S = 60


@pytest.mark.slow
def test_one_publisher_to_a_thousand_viewers(hub):
    async def main():
        class_id = "fan-" + uuid.uuid4().hex[:8]

        async def open_viewer():
            conn = await open_conn(hub, class_id, "viewer", compression=None, max_queue=None)
            assert (await conn.next())["t"] == "welcome"
            return conn

        viewers = []
        for start in range(0, VIEWERS, BATCH):
            viewers += await asyncio.gather(*(open_viewer() for _ in range(min(BATCH, VIEWERS - start))))

        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="rider-1", compression=None)
        first_seq = 5000

        async def collect(conn):
            seqs = []
            deadline = time.monotonic() + TOTAL_TIMEOUT_S
            while len(seqs) < SAMPLES:
                message = await conn.expect(
                    lambda m: m["t"] == "hr" and m.get("p") == "rider-1",
                    timeout=min(RECV_TIMEOUT_S * 2, max(0.1, deadline - time.monotonic())),
                    what=f"sample {len(seqs) + 1} of {SAMPLES}",
                )
                seqs.append(message["seq"])
            # Every sample was handled (this viewer has the last one): a duplicate would be queued before the pong.
            extra = [m for m in await conn.sync() if m["t"] == "hr"]
            return seqs + [m["seq"] for m in extra]

        collectors = [asyncio.create_task(collect(v)) for v in viewers]
        for i in range(SAMPLES):
            await pub.hr(seq=first_seq + i, bpm=100 + i, rr=[600])
            await asyncio.sleep(0.05)  # pacing, like a (fast) device: the jitter buffer paces by ts
        results = await asyncio.gather(*collectors)

        expected = list(range(first_seq, first_seq + SAMPLES))
        wrong = [(n, seqs) for n, seqs in enumerate(results) if seqs != expected]
        assert not wrong, f"{len(wrong)} of {VIEWERS} viewers did not get exactly {expected}; first: {wrong[:3]}"
        gaps = sum(1 for v in viewers for m in v.skipped if m["t"] == "gap")
        assert gaps == 0

        await pub.close()
        for start in range(0, VIEWERS, BATCH):
            await asyncio.gather(*(v.close() for v in viewers[start : start + BATCH]))

    run(main(), timeout=TOTAL_TIMEOUT_S)
