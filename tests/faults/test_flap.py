"""A viewer whose link flaps: 2 s down every 8 s, three times."""

from __future__ import annotations

import threading

from scenario import now_ms, account, finish, start_hub, start_publishers, start_viewer

RIDERS = ["ana", "ben"]
FLAPS = 3


def test_flapping_viewer_reconnects_with_a_snapshot_and_no_duplicate(lab):
    riders = lab.group("riders")
    flaky = lab.group("flaky")
    steady = lab.group("steady")
    hub = start_hub(lab)
    # The flaky screen pings every 0.25 s and gives a connection up after 1 s of silence.
    flapping = start_viewer(lab, flaky, hub, dead_after=1.0)
    clean = start_viewer(lab, steady, hub)
    publishers = start_publishers(lab, riders, hub, RIDERS, FLAPS * 8 + 4, rate=2, seed=5)
    done = threading.Event()
    ups: list[int] = []

    def flap() -> None:
        for _ in range(FLAPS):
            if done.wait(6):
                return
            flaky.down()
            done.wait(2)
            flaky.up()
            ups.append(now_ms())

    flapper = threading.Thread(target=flap)
    flapper.start()
    try:
        published, [flap_log, clean_log] = finish([publishers], [flapping, clean], timeout=FLAPS * 8 + 40)
    finally:
        done.set()
        flapper.join()
    connections = flap_log["connections"]
    recovery = [c["opened_ms"] - up for c, up in zip(connections[1:], ups)]
    print(f"\nflapping viewer: {len(connections)} connections, closes {[c['close'] for c in connections]}, "
          f"reconnected {recovery} ms after the link came back")
    # One new connection per outage, each starting with welcome and snapshot.
    assert len(connections) == FLAPS + 1, connections
    assert all(c["welcome"] and c["snapshot"] is not None for c in connections), connections
    for rider in RIDERS:
        got = account(flap_log, rider, published[rider]["captured"], count_missed_while_away=True)
        print(f"{rider} at the flapping viewer: {got.row()}")
        assert got.duplicates == 0 and got.out_of_order == 0 and got.both == 0, got.row()
        # After each reconnect the first sample of a rider is newer than the one its snapshot showed.
        for index, conn in enumerate(connections[1:], start=1):
            firsts = [seq for p, seq, *_, c in flap_log["hr"] if p == rider and c == index]
            if firsts and rider in conn["snapshot"]:
                assert firsts[0] > conn["snapshot"][rider], (rider, index, firsts[0], conn["snapshot"])
        steady_got = account(clean_log, rider, published[rider]["captured"])
        print(f"{rider} at the steady viewer: {steady_got.row()}")
        assert steady_got.delivered == steady_got.captured and steady_got.gapped == 0, steady_got.row()
    assert len(clean_log["connections"]) == 1
