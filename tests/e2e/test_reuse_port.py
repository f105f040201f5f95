"""Several hub processes on one port (`--reuse-port`, SO_REUSEPORT) joined by a real nats-server: the kernel
spreads connections over the processes, and to clients they are one hub.

- both processes bind the port; a hub without `--reuse-port` cannot take it while they hold it;
- viewers land on both processes (checked with `ss`, by pid), and every viewer gets a publisher's samples
  exactly once, in order, whichever process the publisher landed on.
"""

from __future__ import annotations

import re
import subprocess
import uuid

import pytest

from conftest import LISTENING, REPO_ROOT, _hub_binary
from hubclient import open_welcomed, run
from test_cluster import STOP_TIMEOUT_S, NatsServer, free_port, seqs_until, wait_until

VIEWERS = 24


def start(port: int, nats: NatsServer, hub_id: str, data_dir, reuse: bool = True) -> subprocess.Popen:
    args = [str(_hub_binary()), "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            "--nats", nats.url, "--hub-id", hub_id, "--data-dir", str(data_dir), "--budget-ms", "60000"]
    if reuse:
        args.append("--reuse-port")
    return subprocess.Popen(args, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"hub {proc.pid} did not exit within {STOP_TIMEOUT_S} s of SIGTERM")


def owners(port: int) -> dict[int, int]:
    """Established connections to `port` per owning process id, as `ss` reports them."""
    out = subprocess.run(["ss", "-Htnp", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    counts: dict[int, int] = {}
    for pid in re.findall(r"pid=(\d+)", out):
        counts[int(pid)] = counts.get(int(pid), 0) + 1
    return counts


@pytest.fixture
def two_processes(tmp_path):
    nats = NatsServer(tmp_path / "jetstream")
    nats.start()
    port = free_port()
    procs = []
    try:
        for name in ["p1", "p2"]:
            proc = start(port, nats, name, tmp_path / name)
            procs.append(proc)
            line = proc.stdout.readline().rstrip("\n")
            match = LISTENING.fullmatch(line)
            assert match and match.group(1) == f"ws://127.0.0.1:{port}", \
                f"{name} should listen on the shared port, said {line!r}"
        yield nats, port, procs
    finally:
        for proc in procs:
            stop(proc)
        nats.stop()


def test_a_hub_without_reuse_port_cannot_take_the_shared_port(two_processes, tmp_path):
    nats, port, _ = two_processes
    lone = start(port, nats, "lone", tmp_path / "lone", reuse=False)
    try:
        assert lone.wait(timeout=30) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in lone.stderr.read()
    finally:
        stop(lone)


def test_connections_spread_over_the_processes_and_every_viewer_gets_each_sample_once(two_processes):
    _, port, procs = two_processes
    base = f"ws://127.0.0.1:{port}"
    samples = 100

    async def main():
        class_id = "rp-" + uuid.uuid4().hex[:8]
        viewers = []
        try:
            for _ in range(VIEWERS):
                conn, _ = await open_welcomed(base, class_id, "viewer")
                # The pong comes after the hub's cluster pass, which subscribed it to the class at NATS.
                await conn.ping_pong()
                viewers.append(conn)
            landed = owners(port)
            assert set(landed) == {p.pid for p in procs}, f"connections per process: {landed}"
            pub, _ = await open_welcomed(base, class_id, "publisher", participant="ann")
            viewers.append(pub)
            await pub.hello(name="Ann", hrmax=190)
            for seq in range(1, samples + 1):
                await pub.hr(seq=seq, bpm=100 + seq % 80)
            for conn in viewers[:-1]:
                assert await seqs_until(conn, "ann", samples) == list(range(1, samples + 1))
                assert [m for m in conn.skipped if m["t"] == "gap"] == []
        finally:
            for conn in viewers:
                await conn.close()

    run(main(), timeout=90)
