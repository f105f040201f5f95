"""Bursty 50–400 ms delay on publishers' links (the delay proxy): what the hub's jitter buffer makes of it."""

from __future__ import annotations

import os

from scenario import account, finish, percentile, start_hub, start_proxy, start_publishers, start_viewer

RIDERS = ["ana", "ben", "cleo", "dev", "eli"]
DURATION_S = 60


def record(published: dict, log: dict, path: str) -> None:
    """Writes what the hub saw of each rider (seq, ts, rts) as CSV: a delay trace for the unit tests."""
    with open(path, "w") as out:
        out.write("participant,seq,ts,rts\n")
        for p, seq, ts, rts, *_ in sorted(log["hr"]):
            out.write(f"{p},{seq},{ts},{rts}\n")


def test_bursty_jitter_in_order_with_a_smaller_lag_spread(lab):
    riders = lab.group("riders")
    screens = lab.group("screens")
    hub = start_hub(lab)
    viewer = start_viewer(lab, screens, hub)
    proxied = start_proxy(lab, riders, hub, "bursty", seed=7)
    publishers = start_publishers(lab, riders, proxied, RIDERS, DURATION_S, seed=7)
    published, [log] = finish([publishers], [viewer], timeout=DURATION_S + 40)
    if os.environ.get("HRFAULT_RECORD"):
        record(published, log, os.environ["HRFAULT_RECORD"])
    lags, network, held = [], [], []
    for rider in RIDERS:
        got = account(log, rider, published[rider]["captured"])
        print(f"\n{rider}: {got.row()}")
        assert got.explained, got.row()
        assert got.duplicates == 0 and got.out_of_order == 0
        lags += got.lags
        network += got.network
        held += got.held
    spread_net = percentile(network, 99) - percentile(network, 50)
    spread_lag = percentile(lags, 99) - percentile(lags, 50)
    print(f"\nall riders: network delay p50 {percentile(network, 50)} p99 {percentile(network, 99)} "
          f"max {max(network)} (spread {spread_net}); lag at the screen p50 {percentile(lags, 50)} "
          f"p99 {percentile(lags, 99)} max {max(lags)} (spread {spread_lag}); "
          f"median added {percentile(lags, 50) - percentile(network, 50)}, "
          f"worst over worst network {max(lags) - max(network)}")
    assert spread_lag < spread_net
