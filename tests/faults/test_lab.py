"""The lab itself: it builds what it says, and leaves nothing behind however the run ends."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lab import Lab, LabError, leftovers, require_root, run

CHILD = """
import sys, time
sys.path.insert(0, {here!r})
from lab import Lab
with Lab() as lab:
    g = lab.group("a")
    g.loss(30)
    g.rate_limit("64kbit")
    lab.spawn(g, ["sleep", "600"])
    print(lab.run_id, flush=True)
    if sys.argv[1] == "raise":
        raise RuntimeError("a failing test")
    time.sleep(600)
"""


def names(kind: str) -> str:
    return run(["ip", "netns", "list"]).stdout if kind == "netns" else run(["ip", "-o", "link", "show"]).stdout


def test_a_run_leaves_no_namespace_link_or_process(lab):
    a = lab.group("a")
    b = lab.group("b")
    a.loss(50, "inbound")
    b.rate_limit("64kbit")
    sleeper = lab.spawn(a, ["sleep", "600"])
    assert lab.hub_ns in names("netns") and a.namespace in names("netns")
    assert a.address == "10.200.0.2" and b.address == "10.200.0.3"
    # The veth ends live in the namespaces, never in the root one.
    assert a.hub_end not in names("link") and a.client_end not in names("link")
    lab.close()
    assert sleeper.poll() is not None
    assert leftovers(lab.run_id) == []
    assert lab.run_id not in names("netns") and lab.run_id not in names("link")


@pytest.mark.parametrize("ending", ["sigint", "sigterm", "raise"])
def test_nothing_remains_after_ctrl_c_sigterm_or_a_failure(ending):
    reason = require_root()
    if reason:
        pytest.fail(reason)
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(here=str(Path(__file__).parent)),
                              "raise" if ending == "raise" else "wait"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_id = child.stdout.readline().strip()
    assert run_id, child.stderr.read()
    if ending != "raise":
        assert leftovers(run_id), "the child's lab should exist while it runs"
        child.send_signal(signal.SIGINT if ending == "sigint" else signal.SIGTERM)
    child.wait(timeout=30)
    assert child.returncode != 0
    assert leftovers(run_id) == []
    assert f"hrf-{run_id}-" not in names("netns")


def test_bad_fault_parameters_are_refused_and_change_nothing(lab):
    group = lab.group("a")
    with pytest.raises(ValueError, match="0…100"):
        group.loss(101)
    with pytest.raises(ValueError, match="direction"):
        group.loss(10, "sideways")
    with pytest.raises(ValueError, match="letters and digits"):
        lab.group("no-dashes")
    assert group.dropped() == 0
    with pytest.raises(LabError, match="tbf"):
        group.rate_limit("fast")
    assert "tbf" not in run(["tc", "-n", lab.hub_ns, "qdisc", "show"]).stdout
    assert len(lab.groups) == 1


def test_without_root_the_lab_says_so(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert "needs root" in require_root()
    with pytest.raises(LabError, match="needs root"):
        Lab().__enter__()
