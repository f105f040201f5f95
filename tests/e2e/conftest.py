"""Fixture that runs the real hrhub binary for one test.

The binary is built beforehand (by the test script); its path is $HRHUB_BIN, by default
.build/debug/hrhub relative to the repository root. The hub is started on an ephemeral port, the
first stdout line (exactly `hrhub listening on ws://HOST:PORT`) tells where it listens, and at
the end it is sent SIGTERM and must exit with status 0 within 5 seconds.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"hrhub listening on (wss?://(\S+):(\d+))")
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 5


def _hub_binary() -> Path:
    path = Path(os.environ.get("HRHUB_BIN", ".build/debug/hrhub"))
    return path if path.is_absolute() else REPO_ROOT / path


def _pump(stream, sink: list[str], first: queue.Queue | None) -> None:
    """Reads a pipe to its end so the hub never blocks on a full pipe; hands the first line over."""
    for line in stream:
        if first is not None:
            first.put(line)
            first = None
        else:
            sink.append(line)
    if first is not None:
        first.put(None)  # end of stream before any line


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    """Every hub a test starts keeps its class record in the test's own directory, never in the repository."""
    if "HRHUB_DATA_DIR" not in os.environ:
        monkeypatch.setenv("HRHUB_DATA_DIR", str(tmp_path / "hrhub-data"))


@pytest.fixture
def hub(request) -> str:
    """Starts hrhub and yields its base URL, `ws://HOST:PORT`.

    Extra arguments come from the test's `@pytest.mark.hub_args(...)` marker.
    """
    binary = _hub_binary()
    if not binary.exists():
        pytest.fail(f"hub binary not found at {binary} (build it first, or set HRHUB_BIN)")
    marker = request.node.get_closest_marker("hub_args")
    extra = [str(arg) for arg in marker.args] if marker else []
    env_marker = request.node.get_closest_marker("hub_env")
    env = {**os.environ, **(env_marker.kwargs if env_marker else {})}
    args = [str(binary), "--host", "127.0.0.1", "--port", "0", "--log-level", "warning", *extra]
    proc = subprocess.Popen(
        args, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1, env=env
    )
    stdout_rest: list[str] = []
    stderr_lines: list[str] = []
    first_line: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, stdout_rest, first_line), daemon=True).start()
    threading.Thread(target=_pump, args=(proc.stderr, stderr_lines, None), daemon=True).start()

    def diagnostics() -> str:
        return "hub stderr:\n" + "".join(stderr_lines[-40:])

    try:
        try:
            line = first_line.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            pytest.fail(f"hub printed nothing within {START_TIMEOUT_S} s\n{diagnostics()}")
        if line is None:
            proc.wait(timeout=STOP_TIMEOUT_S)
            pytest.fail(f"hub exited with {proc.returncode} before listening\n{diagnostics()}")
        match = LISTENING.fullmatch(line.rstrip("\n"))
        assert match, f"first stdout line should be 'hrhub listening on ws://HOST:PORT', got {line!r}"
        assert int(match.group(3)) > 0, "the hub must report the port it actually bound"
        yield match.group(1)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail(f"hub did not exit within {STOP_TIMEOUT_S} s of SIGTERM\n{diagnostics()}")
    assert proc.returncode == 0, f"hub exited with {proc.returncode} after SIGTERM\n{diagnostics()}"
