"""An outage at 90 % of a time-compressed ride: the device uploads its offline buffer, the record is complete once.

Needs the class record (issue #9: `--data-dir`, `POST …/samples`, `GET …/record`); on a hub without it (`hrhub
serve --help` does not list `--data-dir`) it skips, naming the reason.

The device (agent.py `--upload`) notices the dead link within `dead_after` s, reconnects after it, and POSTs what
the hub has not got (after `welcome.last_seq`) instead of resending it live; the screen gets those as `late` gaps.
"""

from __future__ import annotations

import json
import sys
import threading

import pytest

from scenario import account, finish, hub_has_record, now_ms, start_hub, start_publishers, start_viewer

RATE = 10  # samples/s: a 40 s ride of 400 samples stands for a 400 s one
RIDE_S = 40
OUTAGE_AT_S = 36  # 90 % of the ride
OUTAGE_S = 30

pytestmark = pytest.mark.skipif(not hub_has_record(), reason="needs the class record (issue #9), not landed yet")


def test_outage_at_ninety_percent_then_upload_record_complete_exactly_once(lab, tmp_path):
    rider_link = lab.group("rider")
    screens = lab.group("screens")
    hub = start_hub(lab, "--data-dir", str(tmp_path / "data"))
    viewer = start_viewer(lab, screens, hub)
    # The ride lasts until the outage is over, so the device reconnects and uploads while still riding.
    publishers = start_publishers(lab, rider_link, hub, ["ana"], OUTAGE_AT_S + OUTAGE_S + 4, rate=RATE,
                                  dead_after=2, seed=11, upload=True)
    came_back: list[int] = []

    def outage() -> None:
        threading.Event().wait(OUTAGE_AT_S)
        rider_link.down()
        threading.Event().wait(OUTAGE_S)
        rider_link.up()
        came_back.append(now_ms())

    cutter = threading.Thread(target=outage)
    cutter.start()
    try:
        published, [log] = finish([publishers], [viewer], timeout=OUTAGE_AT_S + OUTAGE_S + 60)
    finally:
        cutter.join()
    device = published["ana"]
    captured = device["captured"]
    got = account(log, "ana", captured)
    back = came_back[0]
    welcomed_after = [t - back for t in device["welcomed_ms"] if t >= back]
    uploaded_after = [t - back for t in device["upload_answered_ms"] if t >= back]
    brief = {k: v for k, v in device.items() if k != "ts"}
    print(f"\nana: {got.row()}; device: {brief}; after the link came back: welcome +{welcomed_after[:1]} ms, "
          f"upload answered +{uploaded_after[:1]} ms")
    assert welcomed_after and uploaded_after, "the device reconnected and uploaded after the outage"
    assert got.explained and got.delivered + got.gapped == captured, got.row()
    assert device["uploaded"] > 0
    # Every captured sample is in the record exactly once.
    url = f"{hub.replace('ws://', 'http://')}/v1/classes/faults/record?participant=ana"
    record = json.loads(lab_fetch(lab, url))
    seqs = [row["seq"] for row in record]
    assert seqs == list(range(1, captured + 1)), f"record has {len(seqs)} samples, {len(set(seqs))} distinct"


def lab_fetch(lab, url: str) -> str:
    """GET inside the hub's namespace (the hub listens on the lab's bridge only)."""
    proc = lab.spawn(None, [sys.executable, "-c", f"import urllib.request;print(urllib.request.urlopen({url!r}).read()"
                                             f".decode())"])
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out
