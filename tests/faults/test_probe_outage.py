"""The probe's device model (`hrprobe run --device-model firmware`) through a real outage: its riders' link goes down
for 8 s mid-ride with no reset (sockets stay open, packets go nowhere). Each device must notice the silence, drop
the socket, reconnect with backoff once the link is back, upload what it captured meanwhile, and the probe's own
record check must find every captured sample in the record exactly once (it exits 1 otherwise).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from scenario import REPO_ROOT, hub_has_record, start_hub

RIDERS = 3
OUTAGE_AT_S = 10  # after the probe starts (connecting takes well under a second; the warm-up is 1 s)
OUTAGE_S = 8

pytestmark = pytest.mark.skipif(not hub_has_record(), reason="needs the class record (issue #9), not landed yet")


def probe_binary() -> Path:
    path = Path(os.environ.get("HRPROBE_BIN", ".build/debug/hrprobe"))
    return path if path.is_absolute() else REPO_ROOT / path


def test_probe_devices_notice_the_outage_upload_after_it_and_the_record_is_complete(lab, tmp_path):
    probe = probe_binary()
    assert probe.exists(), f"hrprobe not found at {probe} (swift build first, or set HRPROBE_BIN)"
    riders = lab.group("riders")
    hub = start_hub(lab)
    report = tmp_path / "r.json"
    proc = lab.spawn(riders, [str(probe), "run", f"{hub}/", "--run-id", "outage", "--classes", "1", "--publishers",
                              str(RIDERS), "--viewers", "0", "--rate", "10", "--warmup", "1s", "--duration", "18s",
                              "--device-model", "firmware", "--json", str(report), "--quiet"])

    def outage() -> None:  # the fault's own schedule
        threading.Event().wait(OUTAGE_AT_S)
        riders.down()
        threading.Event().wait(OUTAGE_S)
        riders.up()

    cutter = threading.Thread(target=outage)
    cutter.start()
    try:
        out, err = proc.communicate(timeout=OUTAGE_AT_S + OUTAGE_S + 60)
        assert report.exists(), f"hrprobe wrote no report (exit {proc.returncode}): {err[-2000:]}"
    finally:
        cutter.join()
    result = json.loads(report.read_text())
    record = result["record"]
    print(f"\nprobe: captured {record['captured']} · recorded once {record['recorded']} · missing {record['missing']}"
          f" · recorded twice {record['record_duplicates']} · uploads {record['uploads']}"
          f" · silent links dropped {record['dead_links']} · reconnects {result['connections']['reconnects']}"
          f" · ack p50/p99 {result['lag_ms']['ack']['p50']}/{result['lag_ms']['ack']['p99']} ms")
    assert proc.returncode == 0, f"hrprobe exited {proc.returncode}: {record['problems'][:5]}"
    assert record["problems"] == [] and record["missing"] == 0 and record["record_duplicates"] == 0
    assert record["recorded"] == record["captured"] == RIDERS * 190
    assert record["dead_links"] >= RIDERS, "every device noticed its silent link"
    assert record["uploads"] >= RIDERS, "every device uploaded what it captured during the outage"
