"""Fixture that runs the real hrhub binary for one test.

The binary is built beforehand (by the test script); its path is $HRHUB_BIN, by default
.build/debug/hrhub relative to the repository root. The hub is started on an ephemeral port, the
first stdout line (exactly `hrhub listening on ws://HOST:PORT`) tells where it listens, and at
the end it is sent SIGTERM and must exit with status 0 (the 30 s wait is a deadline, not a measurement).
"""

from __future__ import annotations

import contextlib
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
# Deadlines for events, generous so a loaded machine cannot miss them; nothing here measures a duration.
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 30


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


class RunningHub:
    """A started hrhub process: its URL, and what it wrote (for failure messages)."""

    def __init__(self, proc: subprocess.Popen, base: str, stdout: list[str], stderr: list[str]):
        self.proc = proc
        self.base = base  # ws://HOST:PORT (wss:// with TLS)
        self.stdout = stdout
        self.stderr = stderr

    def diagnostics(self) -> str:
        return "hub stderr:\n" + "".join(self.stderr[-40:])

    def wait_exit(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """Waits for the process to exit (a deadline, not a measurement); kills it and fails if it does not."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"hub still running {timeout} s later; killed\n{self.diagnostics()}")

    def stop(self) -> int:
        """SIGTERM, then the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit()


@contextlib.contextmanager
def start_hub(extra: list[str] = (), env: dict[str, str] | None = None, host: str = "127.0.0.1"):
    """Starts hrhub on an ephemeral port and yields a `RunningHub` once it listens; kills it if it still runs at
    the end (stopping it cleanly, and checking how, is the caller's part)."""
    binary = _hub_binary()
    if not binary.exists():
        pytest.fail(f"hub binary not found at {binary} (build it first, or set HRHUB_BIN)")
    args = [str(binary), "--host", host, "--port", "0", "--log-level", "warning", *map(str, extra)]
    proc = subprocess.Popen(
        args, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        env={**os.environ, **(env or {})},
    )
    stdout_rest: list[str] = []
    stderr_lines: list[str] = []
    first_line: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, stdout_rest, first_line), daemon=True).start()
    threading.Thread(target=_pump, args=(proc.stderr, stderr_lines, None), daemon=True).start()
    try:
        try:
            line = first_line.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            pytest.fail(f"hub printed nothing within {START_TIMEOUT_S} s\nhub stderr:\n{''.join(stderr_lines)}")
        if line is None:
            proc.wait(timeout=STOP_TIMEOUT_S)
            pytest.fail(f"hub exited with {proc.returncode} before listening\nhub stderr:\n{''.join(stderr_lines)}")
        match = LISTENING.fullmatch(line.rstrip("\n"))
        assert match, f"first stdout line should be 'hrhub listening on ws://HOST:PORT', got {line!r}"
        assert int(match.group(3)) > 0, "the hub must report the port it actually bound"
        yield RunningHub(proc, match.group(1), stdout_rest, stderr_lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def hub(request) -> str:
    """Starts hrhub and yields its base URL, `ws://HOST:PORT`; at the end sends SIGTERM and requires exit
    status 0.

    Extra arguments come from the `@pytest.mark.hub_args(...)` markers of the test and of its module (all of
    them, the module's first), environment variables from `@pytest.mark.hub_env(...)`.
    """
    markers = list(request.node.iter_markers("hub_args"))[::-1]
    extra = [arg for marker in markers for arg in marker.args]
    env_marker = request.node.get_closest_marker("hub_env")
    with start_hub(extra, env_marker.kwargs if env_marker else None) as running:
        yield running.base
        status = running.stop()
        assert status == 0, f"hub exited with {status} after SIGTERM\n{running.diagnostics()}"
