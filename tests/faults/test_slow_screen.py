"""A class screen behind a slow downlink (tc tbf 64 kbit/s) in a busy class."""

from __future__ import annotations

from scenario import account, finish, start_hub, start_publishers, start_viewer

RIDERS = [f"r{i:02d}" for i in range(20)]
DURATION_S = 20


def test_slow_screen_gets_drop_oldest_gaps_and_nobody_else_notices(lab):
    riders = lab.group("riders")
    slow = lab.group("slow")
    fast = lab.group("fast")
    # A backlog of 32 messages (default 1,024) so drop-oldest acts before the budget does: with the default the
    # slow screen's samples grow old in its queue and are named `late` instead (same count, other reason). The
    # bound counts what a screen holds beyond the newest tick, so the fast screen is not cut by the size of a tick.
    hub = start_hub(lab, "--queue-max-messages", "32")
    slow_viewer = start_viewer(lab, slow, hub, dead_after=30)
    fast_viewer = start_viewer(lab, fast, hub)
    slow.rate_limit("64kbit")
    # 20 riders at 8 samples/s: about 160 samples/s, some 20 KB/s of frames, three times what 64 kbit/s carries.
    publishers = start_publishers(lab, riders, hub, RIDERS, DURATION_S, rate=8, seed=9)
    published, [slow_log, fast_log] = finish([publishers], [slow_viewer, fast_viewer], timeout=DURATION_S + 40)
    totals = {"delivered": 0, "gapped": 0, "captured": 0}
    reasons: dict = {}
    for rider in RIDERS:
        captured = published[rider]["captured"]
        got = account(slow_log, rider, captured)
        assert got.explained, f"{rider} at the slow screen: {got.row()}"
        assert got.delivered + got.gapped == captured
        totals["delivered"] += got.delivered
        totals["gapped"] += got.gapped
        totals["captured"] += captured
        for reason, count in got.gap_reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
        fast_got = account(fast_log, rider, captured)
        assert fast_got.delivered == captured and fast_got.gapped == 0, f"{rider} at the fast screen: {fast_got.row()}"
    print(f"\nslow screen: {totals}, gaps by reason {reasons}, connections {len(slow_log['connections'])} "
          f"closes {[c['close'] for c in slow_log['connections']]}")
    assert totals["gapped"] > 0 and reasons.get("backpressure", 0) > 0
    assert len(slow_log["connections"]) == 1 and len(fast_log["connections"]) == 1
