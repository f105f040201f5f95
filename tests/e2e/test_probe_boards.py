"""hrprobe reads the hub's `board`s and `ack`s with its frame scanner (not JSONDecoder): a run against a hub with
its record on counts the boards every screen got, their bytes, and the board staleness, which needs the acks
(docs/HRPROBE.md; the studio shape of bench/run, where decoding 2,500 boards a second made the probe send late)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import _hub_binary
from hubclient import BIG_BUDGET

CLASSES = 2
PARTICIPANTS = 3
VIEWERS = 1


@pytest.mark.hub_args(*BIG_BUDGET, "--jitter", "off", "--board-interval-ms", "100")
def test_boards_and_acks_are_counted_without_a_full_decode(hub):
    probe = Path(os.environ.get("HRPROBE_BIN", str(_hub_binary().with_name("hrprobe"))))
    out = Path(tempfile.mkdtemp(prefix="hrprobe-boards-")) / "run.json"
    run = subprocess.run(
        [str(probe), "run", hub + "/", "--classes", str(CLASSES), "--publishers", "0",
         "--participants", str(PARTICIPANTS), "--viewers", str(VIEWERS), "--rate", "5",
         "--warmup", "1s", "--duration", "3s", "--json", str(out), "--quiet"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(out.read_text())
    delivery = report["delivery"]
    assert delivery["malformed_frames"] == 0, "every board and ack was read"
    assert delivery["lost"] == 0 and delivery["expected"] > 0, delivery
    boards = report["boards"]
    # Every screen (participants and plain viewers) got boards in the window, and their bytes were counted.
    assert boards["screens"] == CLASSES * (PARTICIPANTS + VIEWERS), boards
    assert boards["received"] >= boards["screens"], boards
    assert boards["bytes"] > boards["received"] * len('{"t":"board","at":0,"n":0,"top":[]}'), boards
    # Staleness is measured from acks: without the scanner's acks neither figure would have a single value.
    assert boards["staleness_ms"]["count"] > 0, boards
    assert boards["own_staleness_ms"]["count"] > 0, boards
