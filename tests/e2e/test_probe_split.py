"""hrprobe with publishers and viewers in separate processes (issue 4 item 8): the view process measures lag
against the hub's clock, learnt NTP-style from ping/pong, and accounts for every sample the publish
process sent."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from conftest import _hub_binary


def test_publish_and_view_in_separate_processes(hub):
    probe = Path(os.environ.get("HRPROBE_BIN", str(_hub_binary().with_name("hrprobe"))))
    out = Path(tempfile.mkdtemp(prefix="hrprobe-split-"))
    shape = ["--run-id", "split", "--classes", "2", "--publishers", "5", "--viewers", "2",
             "--duration", "4s", "--warmup", "1s"]
    viewer = subprocess.Popen(
        [str(probe), "run", hub + "/", "--role", "view", *shape, "--json", str(out / "view.json")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.0)  # the viewers are in the classes before the first sample
        publisher = subprocess.run(
            [str(probe), "run", hub + "/", "--role", "publish", *shape, "--json", str(out / "publish.json")],
            capture_output=True, text=True, timeout=90)
        assert publisher.returncode == 0, publisher.stdout + publisher.stderr
        output, _ = viewer.communicate(timeout=90)
        assert viewer.returncode == 0, output
    finally:
        if viewer.poll() is None:
            viewer.kill()
    view = json.loads((out / "view.json").read_text())
    sent = json.loads((out / "publish.json").read_text())["delivery"]["samples_sent"]
    assert sent > 0
    # Every sample of the measured window reached both viewers of its class, and none was lost.
    assert view["delivery"]["lost"] == 0, view["delivery"]
    assert view["delivery"]["expected"] > 0
    assert view["delivery"]["samples_received"] >= view["delivery"]["expected"]
    # The lag is measured on the hub's clock: an offset with an error bound from the fastest ping.
    clock = view["clock"]
    assert clock["pongs"] > 0 and clock["error_bound_ms"] >= 0
    assert abs(clock["offset_ms"]) < 1000, "same machine: the clocks agree to well under a second"
