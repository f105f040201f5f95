"""50 % random packet loss (nftables, both ways) on one rider's link for 60 s, next to clean riders."""

from __future__ import annotations

import os
import threading

from scenario import account, finish, percentile, record_trace, start_hub, start_publishers, start_viewer

CLEAN = ["ana", "ben", "cleo"]
LOSSY = "lou"
LOSS_S = 60


def test_half_the_packets_lost_on_one_riders_link(lab):
    clean_riders = lab.group("clean")
    lossy_rider = lab.group("lossy")
    screens = lab.group("screens")
    hub = start_hub(lab, *os.environ.get("HRFAULT_HUB_ARGS", "").split())
    viewer = start_viewer(lab, screens, hub)
    clean = start_publishers(lab, clean_riders, hub, CLEAN, LOSS_S + 10, seed=3)
    lossy_rider.loss(50)
    # The lossy device notices a silent socket after 5 s (no pong) and reconnects, resending what the hub lacks.
    lossy = start_publishers(lab, lossy_rider, hub, [LOSSY], LOSS_S + 10, dead_after=5, seed=4)
    # Loss for 60 s, then a clean link for the last 10 s of the ride so the device can hand over everything.
    dropped: list[int] = []
    timer = threading.Timer(LOSS_S, lambda: (dropped.append(lossy_rider.dropped()), lossy_rider.clear_loss()))
    timer.start()
    try:
        published, [log] = finish([clean, lossy], [viewer], timeout=LOSS_S + 60)
    finally:
        timer.cancel()
    if os.environ.get("HRFAULT_RECORD"):
        record_trace({LOSSY: published[LOSSY]}, log, os.environ["HRFAULT_RECORD"])
    clean_lags = []
    for rider in CLEAN:
        got = account(log, rider, published[rider]["captured"])
        print(f"\n{rider} (clean): {got.row()}")
        assert got.explained, got.row()
        assert got.delivered == got.captured and got.gapped == 0, got.row()
        clean_lags += got.lags
    got = account(log, LOSSY, published[LOSSY]["captured"])
    print(f"\n{LOSSY} (50 % loss): {got.row()}; device: {published[LOSSY]['connects']} connections, "
          f"{published[LOSSY]['resent']} resent; nft dropped {dropped[0] if dropped else '?'} packets")
    print(f"clean riders' lag p50 {percentile(clean_lags, 50)} p99 {percentile(clean_lags, 99)} ms")
    # Every sample of the lossy rider is delivered once or named in a gap, never both, never twice.
    assert got.explained, got.row()
    assert got.delivered + got.gapped == got.captured, got.row()
    assert got.delivered > 0
    assert published[LOSSY]["connects"] >= 1
