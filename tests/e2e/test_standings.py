"""Standings (PROTOCOL.md, "Standings: the live leaderboard"): `board` messages for viewers and participants,
the leaderboard and summary endpoints, the same summary after a restart, and an upload that moves a rider up.

Each test runs its own hub (`RecordHub`) so it can stop it and start it again on the same data directory. Riders
send samples whose `ts` are chosen to pin the formula; syncing is on acks (committed = counted) and ping/pong.
"""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from hubclient import class_url, now_ms, open_conn, open_welcomed, run
from test_production import SECRET, mint
from test_record import RecordHub, acked_up_to, barrier, data_dir, http, upload  # noqa: F401 (fixture)

FAST = ["--budget-ms", "60000", "--jitter", "off", "--board-interval-ms", "100"]
MULTIPLIERS = [1, 2, 4, 8, 8]
HRMAX = 200


def zone(bpm: int, hrmax: int | None) -> int | None:
    """The protocol's zone: % of hrmax rounded half up, zones 2…5 from 60, 70, 80, 90 %."""
    if not hrmax or bpm == 0:
        return None
    pct = (200 * bpm + hrmax) // (2 * hrmax)
    return 1 + sum(1 for bound in (60, 70, 80, 90) if pct >= bound)


def tenths(samples: list[tuple[int, int, int]], hrmax: int | None) -> int:
    """Points × 10, rounded half away from zero, from (seq, ts, bpm) samples: the formula, written again."""
    units = 0
    ordered = sorted(samples)
    for (_, before, _), (_, ts, bpm) in zip(ordered, ordered[1:]):
        z = zone(bpm, hrmax)
        if z is not None:
            units += min(5000, max(0, ts - before)) * MULTIPLIERS[z - 1]
    return (units * 10 + 30000) // 60000


class Plan:
    """Who rides what: (seq, ts offset ms, bpm) per rider, and their hrmax (None: no zones, no points)."""

    def __init__(self, t0: int):
        self.t0 = t0
        self.riders = {
            # 4 × 1 s, then a 6 s gap capped at 5 s, then a ts that steps back (0 s): 9 s in zone 5 = 1.2 points.
            "anna": (HRMAX, [(1, 0, 190), (2, 1000, 190), (3, 2000, 190), (4, 3000, 190), (5, 4000, 190),
                             (6, 10000, 190), (7, 9000, 190)]),
            # 4 s in zone 3 (75 %): 16/60 = 0.27 → 0.3.
            "ben": (HRMAX, [(seq, (seq - 1) * 1000, 150) for seq in range(1, 6)]),
            # 2 s in zone 1 (55 %): 0.03 → 0.0, still ahead of dan.
            "cleo": (HRMAX, [(seq, (seq - 1) * 1000, 110) for seq in range(1, 4)]),
            # No hrmax: no zone, no points.
            "dan": (None, [(seq, (seq - 1) * 1000, 120) for seq in range(1, 4)]),
        }

    def samples(self, rider: str) -> list[tuple[int, int, int]]:
        return [(seq, self.t0 + offset, bpm) for seq, offset, bpm in self.riders[rider][1]]

    def expected(self) -> list[tuple[str, int]]:
        """(rider, points × 10) in rank order: points descending, exact values, ties by id."""
        exact = {}
        for rider, (hrmax, _) in self.riders.items():
            units = 0
            ordered = sorted(self.samples(rider))
            for (_, before, _), (_, ts, bpm) in zip(ordered, ordered[1:]):
                z = zone(bpm, hrmax)
                if z is not None:
                    units += min(5000, max(0, ts - before)) * MULTIPLIERS[z - 1]
            exact[rider] = units
        order = sorted(exact, key=lambda rider: (-exact[rider], rider))
        return [(rider, tenths(self.samples(rider), self.riders[rider][0])) for rider in order]


async def ride(base: str, class_id: str, plan: Plan, rider: str, role: str = "publisher", **kwargs):
    """Connects `rider`, sends hello and its samples, and waits for the ack of the last one (committed)."""
    conn, _ = await open_welcomed(base, class_id, role, participant=rider, **kwargs)
    hrmax, _ = plan.riders[rider]
    await conn.hello(name=rider.capitalize(), **({"hrmax": hrmax} if hrmax else {}))
    samples = plan.samples(rider)
    for seq, ts, bpm in samples:
        await conn.hr(seq, bpm, ts=ts)
    await acked_up_to(conn, max(seq for seq, _, _ in samples))
    return conn


def points_tenths(entry: dict) -> int:
    return round(entry["points"] * 10)


def ranked(entries: list[dict]) -> list[tuple[str, int]]:
    return [(entry["p"], points_tenths(entry)) for entry in entries]


async def next_board(conn, predicate=lambda board: True, what: str = "board") -> dict:
    return await conn.expect(lambda m: m["t"] == "board" and predicate(m), what=what)


def test_board_for_viewers_and_participants(data_dir):
    hub = RecordHub(data_dir, *FAST).start()
    plan = Plan(now_ms())
    try:
        async def scenario():
            quiet = await open_conn(hub.base, "spin", "viewer", board=0)
            two = await open_conn(hub.base, "spin", "viewer", board=2)
            riders = [await ride(hub.base, "spin", plan, rider) for rider in ("anna", "ben", "dan")]
            # cleo rides on a participant screen: her device and her board in one connection.
            cleo = await ride(hub.base, "spin", plan, "cleo", role="participant")
            expected = plan.expected()
            assert [rider for rider, _ in expected] == ["anna", "ben", "cleo", "dan"]
            assert dict(expected)["anna"] == 12 and dict(expected)["ben"] == 3

            # A viewer that connects now: welcome, snapshot, then the board at once. (The sync first: with the class
            # tick, the riders' last samples go out on the tick after their arrival; the board shows them then.)
            tick = await open_conn(hub.base, "spin", "viewer", board=0)
            await tick.sync()
            await tick.close()
            viewer, _ = await open_welcomed(hub.base, "spin", "viewer")
            assert (await viewer.next())["t"] == "snapshot"
            board = await viewer.next()
            assert board["t"] == "board", board
            assert board["n"] == 4
            assert ranked(board["top"]) == expected
            assert [entry["rank"] for entry in board["top"]] == [1, 2, 3, 4]
            anna = board["top"][0]
            assert anna["bpm"] == 190 and anna["zone"] == 5, "bpm and zone of anna's newest live sample"
            assert "zone" not in board["top"][3] and board["top"][3]["bpm"] == 120, "dan has no hrmax"
            assert "me" not in board and "near" not in board

            # The participant sees herself and up to two riders either side.
            mine = await next_board(cleo, lambda b: "me" in b and b["n"] == 4, "cleo's board with me")
            assert mine["me"]["p"] == "cleo" and mine["me"]["rank"] == 3
            assert [entry["p"] for entry in mine["near"]] == ["anna", "ben", "dan"]
            assert ranked(mine["top"]) == expected

            # board=2: the first two ranks only.
            latest = await next_board(two, lambda b: b["n"] == 4, "a board with everyone ranked")
            assert ranked(latest["top"]) == expected[:2]
            # board=0: nothing, while the same tick reached `two` (its pong comes after anything queued).
            seen = await barrier(quiet)
            assert not [m for m in seen if m["t"] == "board"]
            assert [m["t"] for m in seen][:1] == ["welcome"]

            # Nothing changes: no new board for the viewer by the time a ping comes back.
            assert not [m for m in await barrier(viewer) if m["t"] == "board"]
            for conn in [quiet, two, viewer, cleo, *riders]:
                await conn.close()

        run(scenario())
        status, _, body = http("GET", f"{hub.http}/metrics")
        metrics = dict(line.rsplit(" ", 1) for line in body.decode().splitlines() if line.startswith("hrhub_board"))
        assert float(metrics["hrhub_board_ticks_total"]) >= 1
        assert float(metrics["hrhub_board_messages_total"]) >= 4, "at least the boards this test read"
    finally:
        hub.stop()


@pytest.mark.parametrize("query", [
    "role=viewer&board=101", "role=viewer&board=-1", "role=viewer&board=x", "role=viewer&board=",
    "role=viewer&board=1.5", "role=viewer&board=3&board=4", "role=publisher&participant=anna&board=5",
])
def test_a_bad_board_value_is_refused_with_400(hub, query):
    async def main():
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{hub}/v1/classes/spin/ws?{query}", open_timeout=5):
                pass
        assert refused.value.response.status_code == 400
        assert b"board" in refused.value.response.body

    run(main())


def leaderboard(hub: RecordHub, class_id: str, query: str = "", token: str | None = None):
    status, headers, body = http("GET", f"{hub.http}/v1/classes/{class_id}/leaderboard{query}", token=token)
    return status, (json.loads(body) if status == 200 else body.decode())


def summary(hub: RecordHub, class_id: str, token: str | None = None) -> tuple[int, bytes]:
    status, _, body = http("GET", f"{hub.http}/v1/classes/{class_id}/summary", token=token)
    return status, body


def test_leaderboard_and_summary_endpoints_a_restart_and_an_upload(data_dir):
    hub = RecordHub(data_dir, *FAST).start()
    plan = Plan(now_ms())
    try:
        async def setup():
            for rider in ("anna", "ben", "cleo", "dan"):
                conn = await ride(hub.base, "spin", plan, rider)
                await conn.close()

        run(setup())
        expected = plan.expected()

        status, board = leaderboard(hub, "spin")
        assert status == 200
        assert board["n"] == 4 and isinstance(board["at"], int)
        assert ranked(board["entries"]) == expected
        assert [(e["rank"], e["name"]) for e in board["entries"]] == [(1, "Anna"), (2, "Ben"), (3, "Cleo"), (4, "Dan")]
        status, page = leaderboard(hub, "spin", "?offset=1&limit=2")
        assert status == 200 and page["n"] == 4
        assert [(e["p"], e["rank"]) for e in page["entries"]] == [("ben", 2), ("cleo", 3)]
        status, past = leaderboard(hub, "spin", "?offset=10")
        assert status == 200 and past["entries"] == []
        for bad in ["?limit=0", "?limit=1001", "?limit=x", "?offset=-1", "?offset=1.5", "?limit=1&limit=2"]:
            status, reason = leaderboard(hub, "spin", bad)
            assert status == 400, (bad, status)
            assert "offset" in reason or "limit" in reason, reason
        assert leaderboard(hub, "nobody-rode-here")[0] == 404
        assert summary(hub, "nobody-rode-here")[0] == 404

        status, before = summary(hub, "spin")
        assert status == 200
        riders = json.loads(before)
        assert [(r["p"], r["rank"], points_tenths(r)) for r in riders] == \
            [(rider, rank, points) for rank, (rider, points) in enumerate(expected, start=1)]
        anna = riders[0]
        assert anna == {
            "p": "anna", "name": "Anna", "samples": 7, "first_ts": plan.t0, "last_ts": plan.t0 + 10000,
            "avg_bpm": 190, "max_bpm": 190, "zone_seconds": [0, 0, 0, 0, 9.0], "points": 1.2, "rank": 1}
        assert riders[1]["zone_seconds"] == [0, 0, 4.0, 0, 0]
        assert riders[3]["zone_seconds"] == [0, 0, 0, 0, 0] and riders[3]["points"] == 0

        # A restart: the same summary, byte for byte, from the record (class not in memory) …
        hub.stop()
        hub.start()
        assert summary(hub, "spin") == (200, before)

        async def after_restart():
            # … and once the class is live again (its standings rebuilt from the record).
            viewer, _ = await open_welcomed(hub.base, "spin", "viewer")
            assert (await viewer.next())["t"] == "snapshot"
            board = await viewer.next()
            assert board["t"] == "board" and ranked(board["top"]) == expected
            assert summary(hub, "spin") == (200, before)

            # Ben's device uploads what it kept during an outage: 15 s in zone 5 = 2.0 points more.
            last_ts = plan.samples("ben")[-1][1]
            samples = [{"t": "hr", "seq": seq, "ts": last_ts + (seq - 5) * 1000, "bpm": 190} for seq in range(6, 21)]
            status, _, body = upload(hub, "spin", "ben", samples)
            assert status == 200, body
            assert json.loads(body)["accepted"] == 15
            moved = await next_board(viewer, lambda b: b["top"][0]["p"] == "ben", "a board with ben on top")
            assert points_tenths(moved["top"][0]) == 3 + 20
            assert [e["p"] for e in moved["top"]] == ["ben", "anna", "cleo", "dan"]
            await viewer.close()

        run(after_restart())
        status, board = leaderboard(hub, "spin", "?limit=1")
        assert status == 200 and [(e["p"], e["rank"], points_tenths(e)) for e in board["entries"]] == [("ben", 1, 23)]
    finally:
        hub.stop()


def test_standings_need_a_viewer_or_admin_token_when_auth_is_on(data_dir):
    hub = RecordHub(data_dir, *FAST, "--jwt-secret", SECRET).start()
    plan = Plan(now_ms())
    try:
        async def setup():
            conn = await ride(hub.base, "spin", plan, "anna", token=mint("publisher", "spin", "anna"))
            await conn.close()

        run(setup())
        for path in ("leaderboard", "summary"):
            url = f"{hub.http}/v1/classes/spin/{path}"
            assert http("GET", url)[0] == 401
            assert http("GET", url, token=mint("viewer", "other"))[0] == 403
            assert http("GET", url, token=mint("publisher", "spin", "anna"))[0] == 403
            assert http("GET", url, token=mint("viewer", "spin"))[0] == 200
            assert http("GET", url, token=mint("admin"))[0] == 200
    finally:
        hub.stop()


def test_record_off_means_no_board_and_no_standings(data_dir):
    hub = RecordHub(data_dir, *FAST, "--record", "off").start()
    plan = Plan(now_ms())
    try:
        async def scenario():
            anna, _ = await open_welcomed(hub.base, "spin", "publisher", participant="anna")
            await anna.hello(hrmax=HRMAX)
            viewer = await open_conn(hub.base, "spin", "viewer")
            for seq, ts, bpm in plan.samples("anna"):
                await anna.hr(seq, bpm, ts=ts)
            await barrier(anna)
            seen = await viewer.expect(lambda m: m["t"] == "hr" and m["seq"] == 7, what="anna's last sample")
            assert seen["bpm"] == 190
            assert not [m for m in viewer.skipped + await barrier(viewer) if m["t"] == "board"]

        run(scenario())
        for path in ("leaderboard", "summary"):
            status, _, body = http("GET", f"{hub.http}/v1/classes/spin/{path}")
            assert status == 404 and b"record is off" in body
    finally:
        hub.stop()


def test_the_demo_class_has_a_live_leaderboard(data_dir):
    hub = RecordHub(data_dir, "--demo").start()
    try:
        async def scenario():
            viewer = await open_conn(hub.base, "demo", "viewer", board=100)
            # The demo riders say hello with an hrmax, so their samples have zones and earn points.
            board = await next_board(viewer, lambda b: b["n"] == 12 and b["top"][0]["points"] > 0,
                                     "a demo board with points")
            assert all("zone" in entry and entry["bpm"] > 0 for entry in board["top"]), board
            assert [entry["rank"] for entry in board["top"]] == list(range(1, 13))
            await viewer.close()

        run(scenario())
        status, board = leaderboard(hub, "demo")
        assert status == 200 and board["n"] == 12 and all("name" in e for e in board["entries"])
    finally:
        hub.stop()
