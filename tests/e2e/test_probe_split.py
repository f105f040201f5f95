"""hrprobe with publishers and viewers in separate processes (issue 4 item 8): the view process measures lag
against the hub's clock, learnt NTP-style from ping/pong, and accounts for every sample the publish
process sent."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import _hub_binary
from hubclient import BIG_BUDGET, http_base

CLASSES = 2
VIEWERS = 2


def wait_for_viewers(hub: str, viewer: subprocess.Popen, count: int, timeout: float = 60.0) -> None:
    """Waits until the hub counts `count` viewers in its live classes (polling `/v1/classes/live`, the viewing
    process's only outside sign that it is ready), failing early if that process exits first."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"{http_base(hub)}/v1/classes/live", timeout=10) as response:
            seen = sum(c["viewers"] for c in json.loads(response.read()))
        if seen == count:
            return
        assert viewer.poll() is None, f"the view process exited ({viewer.returncode}) before its viewers joined"
        assert time.monotonic() < deadline, f"{seen} of {count} viewers after {timeout} s"
        time.sleep(0.05)  # polling an outside state; the deadline above bounds it


# Zero loss is checked: a budget no loaded machine can overrun. The processes cannot tell each other when the
# last sample is out, so the view process waits up to --drain for the stragglers (a deadline, not a measure).
@pytest.mark.hub_args(*BIG_BUDGET)
def test_publish_and_view_in_separate_processes(hub):
    probe = Path(os.environ.get("HRPROBE_BIN", str(_hub_binary().with_name("hrprobe"))))
    out = Path(tempfile.mkdtemp(prefix="hrprobe-split-"))
    shape = ["--run-id", "split", "--classes", str(CLASSES), "--publishers", "5", "--viewers", str(VIEWERS),
             "--duration", "4s", "--warmup", "1s", "--drain", "10s"]
    viewer = subprocess.Popen(
        [str(probe), "run", hub + "/", "--role", "view", *shape, "--json", str(out / "view.json")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_viewers(hub, viewer, CLASSES * VIEWERS)  # the viewers are in the classes before the first sample
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
