"""Running a scenario in the lab (hub, publishers, viewers as processes in namespaces) and counting every sample."""

from __future__ import annotations

import atexit
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from agent import now_ms  # noqa: F401 (re-exported for the scenarios)
from lab import HUB_ADDRESS, Group, Lab

REPO_ROOT = Path(__file__).resolve().parents[2]
# Clients run with the interpreter running the tests (scripts/faults: the project's .venv, which has websockets).
AGENT = str(Path(__file__).with_name("agent.py"))
PROXY = str(Path(__file__).with_name("proxy.py"))
LISTENING = re.compile(r"hrhub listening on ws://(\S+):(\d+)")


def hub_has_record() -> bool:
    """Whether the hub under test keeps the class record (issue #9: `--data-dir`, the upload endpoint)."""
    # `serve` is the default subcommand; its flags are listed by `hrhub serve --help`, not `hrhub --help`.
    result = subprocess.run([str(hub_binary()), "serve", "--help"], capture_output=True, text=True)
    return "--data-dir" in result.stdout + result.stderr


def hub_binary() -> Path:
    path = Path(os.environ.get("HRHUB_BIN", ".build/debug/hrhub"))
    return path if path.is_absolute() else REPO_ROOT / path


class Proc:
    """A lab process whose stdout lines are read on a thread (so it never blocks on a full pipe)."""

    def __init__(self, popen: subprocess.Popen, name: str):
        self.popen = popen
        self.name = name
        self.lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(popen.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    @staticmethod
    def _pump(stream, sink: queue.Queue) -> None:
        for line in stream:
            sink.put(line.rstrip("\n"))
        sink.put(None)

    def _pump_err(self) -> None:
        for line in self.popen.stderr:
            self.stderr.append(line)

    def line(self, timeout: float) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.name}: no output within {timeout} s; stderr: {''.join(self.stderr[-20:])}")
        if line is None:
            self.popen.wait(timeout=5)
            raise AssertionError(f"{self.name} exited {self.popen.returncode}; stderr: {''.join(self.stderr[-20:])}")
        return line

    def send(self, text: str) -> None:
        self.popen.stdin.write(text)
        self.popen.stdin.flush()

    def result(self, timeout: float) -> dict:
        """The JSON line a client prints last."""
        while True:
            line = self.line(timeout)
            if line.startswith("{"):
                return json.loads(line)


def start_hub(lab: Lab, *args: str) -> str:
    """hrhub in the hub's namespace on 10.200.0.1, any free port; returns its ws:// base URL."""
    binary = hub_binary()
    assert binary.exists(), f"hub binary not found at {binary} (swift build first, or set HRHUB_BIN)"
    # Each hub keeps its class record in a directory of its own: a record shared between scenarios would make one
    # scenario's seqs duplicates in the next. Removed when the test process ends.
    own: list[str] = []
    if "--data-dir" not in args:
        data_dir = tempfile.mkdtemp(prefix="hrfault-record-")
        atexit.register(shutil.rmtree, data_dir, True)
        own = ["--data-dir", data_dir]
    proc = Proc(lab.spawn(None, [str(binary), "--host", HUB_ADDRESS, "--port", "0", "--log-level", "warning",
                                 *own, *args]), "hrhub")
    match = LISTENING.fullmatch(proc.line(15))
    assert match, "the hub's first line must say where it listens"
    return f"ws://{match.group(1)}:{match.group(2)}"


def start_proxy(lab: Lab, where: Group, target_url: str, profile: str = "bursty", seed: int = 1) -> str:
    """The delay proxy inside `where`, on its loopback, forwarding to the hub; returns the ws:// URL to use."""
    target = target_url.removeprefix("ws://")
    proc = Proc(lab.spawn(where, [sys.executable, PROXY, "--listen", "127.0.0.1:0", "--target", target,
                                  "--profile", profile, "--seed", str(seed)]), "proxy")
    line = proc.line(10)
    assert line.startswith("proxy listening on "), line
    return "ws://" + line.removeprefix("proxy listening on ")


def start_viewer(lab: Lab, where: Group, url: str, dead_after: float = 5.0) -> Proc:
    proc = Proc(lab.spawn(where, [sys.executable, AGENT, "view", url, "--dead-after", str(dead_after)],
                          stdin=subprocess.PIPE), f"viewer in {where.name}")
    assert proc.line(15) == "ready"
    return proc


def start_publishers(lab: Lab, where: Group, url: str, riders: list[str], duration: float, rate: float = 1.0,
                     dead_after: float = 5.0, seed: int = 1, upload: bool = False) -> Proc:
    proc = Proc(lab.spawn(where, [sys.executable, AGENT, "publish", url, "--riders", ",".join(riders), "--rate",
                                  str(rate), "--duration", str(duration), "--dead-after", str(dead_after),
                                  "--seed", str(seed), *(["--upload"] if upload else [])]),
                f"publishers in {where.name}")
    assert proc.line(15) == "ready"
    return proc


def finish(publishers: list[Proc], viewers: list[Proc], timeout: float) -> tuple[dict, list[dict]]:
    """Waits for the publishers' results (every sample sent and a pong after it), then tells each viewer how far
    to read (the last seq of every rider) and collects their logs."""
    published: dict = {}
    for proc in publishers:
        published.update(proc.result(timeout))
    for rider, result in published.items():
        assert result["drained"], f"{rider}: the publisher could not hand over all it captured: {result}"
    until = ",".join(f"{rider}={result['captured']}" for rider, result in published.items())
    for proc in viewers:
        proc.send(f"until {until}\n")
    return published, [proc.result(30) for proc in viewers]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0…100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


@dataclass
class Account:
    """What one viewer got of one rider's `captured` samples (seqs 1…captured)."""

    captured: int
    delivered: int = 0
    gapped: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    both: int = 0  # delivered and named in a gap
    neither: int = 0  # neither delivered nor named
    gap_reasons: dict = field(default_factory=dict)
    lags: list = field(default_factory=list)  # recv − ts, ms
    network: list = field(default_factory=list)  # rts − ts, ms
    held: list = field(default_factory=list)  # recv − rts, ms: what the hub (and the viewer's link) added

    @property
    def explained(self) -> bool:
        return self.duplicates == 0 and self.both == 0 and self.neither == 0 and self.out_of_order == 0

    def row(self) -> str:
        return (f"captured {self.captured}, delivered {self.delivered}, gapped {self.gapped} {self.gap_reasons}, "
                f"duplicates {self.duplicates}, both {self.both}, unexplained {self.neither}, "
                f"lag p50 {percentile(self.lags, 50):.0f} p99 {percentile(self.lags, 99):.0f} "
                f"max {max(self.lags, default=0):.0f} ms, network p50 {percentile(self.network, 50):.0f} "
                f"p99 {percentile(self.network, 99):.0f} max {max(self.network, default=0):.0f} ms")


def account(log: dict, rider: str, captured: int, count_missed_while_away: bool = False) -> Account:
    """Counts one rider in a viewer's log. Samples missed while the viewer was disconnected are neither
    delivered nor gapped by the contract; with `count_missed_while_away` they are not counted as unexplained."""
    result = Account(captured)
    seen: set[int] = set()
    last = 0
    for p, seq, ts, rts, received, _ in log["hr"]:
        if p != rider:
            continue
        if seq in seen:
            result.duplicates += 1
            continue
        if seq < last:
            result.out_of_order += 1
        last = max(last, seq)
        seen.add(seq)
        result.lags.append(received - ts)
        result.network.append(rts - ts)
        result.held.append(received - rts)
    named: set[int] = set()
    for p, low, high, count, reason, *_ in log["gaps"]:
        if p != rider:
            continue
        result.gap_reasons[reason] = result.gap_reasons.get(reason, 0) + count
        named.update(range(low, high + 1))
    result.delivered = len(seen)
    everything = set(range(1, captured + 1))
    result.gapped = len(named & everything)
    result.both = len(seen & named)
    if not count_missed_while_away:
        result.neither = len(everything - seen - named)
    return result


def record_trace(published: dict, log: dict, path: str) -> None:
    """Writes what the hub saw of each rider as CSV `participant,seq,ts,rts`: a delay trace for the unit tests
    (tests/data/jitter-*.csv). A sample the viewer got a `late` gap for has an empty `rts`: it reached the hub
    beyond the budget, exactly when is not known at the screen."""
    delivered = {(p, seq): (ts, rts) for p, seq, ts, rts, *_ in log["hr"]}
    late = {(p, seq) for p, low, high, _, reason, *_ in log["gaps"] if reason == "late" for seq in range(low, high + 1)}
    with open(path, "w") as out:
        out.write("participant,seq,ts,rts\n")
        for rider in sorted(published):
            for seq, ts in enumerate(published[rider]["ts"], start=1):
                if (rider, seq) in delivered:
                    out.write(f"{rider},{seq},{ts},{delivered[(rider, seq)][1]}\n")
                elif (rider, seq) in late:
                    out.write(f"{rider},{seq},{ts},\n")
