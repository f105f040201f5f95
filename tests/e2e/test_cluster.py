"""Cluster mode: three real hubs joined by a real nats-server (started here on a free loopback port).

- a publisher on hub A, viewers on hubs B and C: every sample exactly once, in order;
- hub A killed with SIGKILL: its rider leaves with reason `timeout` on B and C within 5 s;
- nats-server stopped: `/healthz` says `degraded: cluster unreachable` and B keeps relaying its own clients;
  restarted: `ok` again and A's samples reach B again.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import json
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import LISTENING, REPO_ROOT, _hub_binary
from hubclient import open_welcomed, run

STOP_TIMEOUT_S = 5
# The contract: a dead hub's riders leave within 5 s on every other hub.
DEAD_HUB_LEAVE_S = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str) -> None:
    """Polls `predicate` (an observable state, e.g. a port accepting or /healthz) until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout} s")
        time.sleep(0.02)


class NatsServer:
    """nats-server with JetStream on a loopback port of its own; stopped and restarted by pid."""

    def __init__(self, store: Path):
        self.port = free_port()
        self.store = store
        self.proc: subprocess.Popen | None = None
        self.url = f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("nats-server")
        if binary is None:
            pytest.fail("nats-server is not installed (scripts/setup installs it)")
        self.proc = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(self._accepts, 10, f"nats-server on port {self.port}")

    def _accepts(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"nats-server exited with {self.proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.proc = None


class Hub:
    """One hrhub process in the cluster."""

    def __init__(self, hub_id: str, nats: NatsServer, data_dir: Path, extra: list[str] = ()):
        binary = _hub_binary()
        if not binary.exists():
            pytest.fail(f"hub binary not found at {binary}")
        self.hub_id = hub_id
        self.proc = subprocess.Popen(
            [str(binary), "--host", "127.0.0.1", "--port", "0", "--log-level", "warning", "--nats", nats.url,
             "--hub-id", hub_id, "--data-dir", str(data_dir), "--budget-ms", "60000", *extra],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        line = self.proc.stdout.readline()
        match = LISTENING.fullmatch(line.rstrip("\n"))
        assert match, f"hub {hub_id}: first stdout line should say where it listens, got {line!r}"
        self.base = match.group(1)
        self.http = self.base.replace("ws://", "http://")

    def healthz(self) -> str:
        with urllib.request.urlopen(self.http + "/healthz", timeout=5) as response:
            assert response.status == 200
            return response.read().decode().strip()

    def metric(self, line_prefix: str) -> float:
        """The value of the first /metrics line starting with `line_prefix`."""
        with urllib.request.urlopen(self.http + "/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(line_prefix):
                    return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"no metric {line_prefix} on hub {self.hub_id}")

    def live_classes(self) -> list[dict]:
        with urllib.request.urlopen(self.http + "/v1/classes/live", timeout=5) as response:
            return json.loads(response.read().decode())

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"hub {self.hub_id} did not exit within {STOP_TIMEOUT_S} s of SIGTERM")


@pytest.fixture
def cluster(tmp_path):
    """A nats-server and three hubs A, B, C on it."""
    nats = NatsServer(tmp_path / "jetstream")
    nats.start()
    hubs: list[Hub] = []
    try:
        for name in ["a", "b", "c"]:
            hubs.append(Hub(f"hub-{name}", nats, tmp_path / name))
        # Ready: every hub reaches NATS and has the record stream (created or found at its start).
        for hub in hubs:
            wait_until(lambda: hub.healthz() == "ok", 20, f"/healthz ok on {hub.hub_id}")
        yield nats, hubs
    finally:
        for hub in hubs:
            hub.stop()
        nats.stop()


async def viewer(hub: Hub, class_id: str):
    """A viewer whose hub has subscribed to the class: the pong comes after the hub's cluster pass, which
    registers the subscription at the NATS server before it ends."""
    conn, _ = await open_welcomed(hub.base, class_id, "viewer")
    await conn.ping_pong()
    return conn


async def seqs_until(conn, participant: str, last: int) -> list[int]:
    """The seqs of `participant`'s samples up to and including `last`."""
    seqs: list[int] = []
    while not seqs or seqs[-1] < last:
        message = await conn.expect(lambda m: m["t"] == "hr" and m["p"] == participant, what=f"sample after {seqs[-3:]}")
        seqs.append(message["seq"])
    return seqs


def test_a_publisher_on_one_hub_reaches_viewers_on_the_others_exactly_once_in_order(cluster):
    _, (a, b, c) = cluster
    samples = 300

    async def main():
        class_id = "cl-" + uuid.uuid4().hex[:8]
        on_b = await viewer(b, class_id)
        on_c = await viewer(c, class_id)
        pub, _ = await open_welcomed(a.base, class_id, "publisher", participant="ann")
        await pub.hello(name="Ann", hrmax=190)
        for seq in range(1, samples + 1):
            await pub.hr(seq=seq, bpm=100 + seq % 80)
        for conn in (on_b, on_c):
            assert await seqs_until(conn, "ann", samples) == list(range(1, samples + 1))
            assert [m for m in conn.skipped if m["t"] == "gap"] == []
            joins = [m for m in conn.skipped if m["t"] == "join" and m["p"] == "ann"]
            assert joins, "the remote rider joins"

    run(main(), timeout=60)


def test_a_killed_hubs_riders_leave_with_timeout_on_the_others(cluster):
    _, (a, b, c) = cluster

    async def main():
        class_id = "cl-" + uuid.uuid4().hex[:8]
        on_b = await viewer(b, class_id)
        on_c = await viewer(c, class_id)
        pub, _ = await open_welcomed(a.base, class_id, "publisher", participant="bo")
        await pub.hr(seq=1, bpm=120)
        for conn in (on_b, on_c):
            await conn.expect_t("hr", p="bo", seq=1)
        a.kill9()
        for conn in (on_b, on_c):
            await conn.expect_t("leave", timeout=DEAD_HUB_LEAVE_S, p="bo", reason="timeout")
        # A late viewer on B does not see the dead hub's rider.
        late, _ = await open_welcomed(b.base, class_id, "viewer")
        snapshot = await late.expect_t("snapshot")
        assert [entry["p"] for entry in snapshot["participants"]] == []

    run(main(), timeout=60)


def test_without_nats_a_hub_is_degraded_and_serves_its_own_clients_then_recovers(cluster):
    nats, (a, b, _) = cluster
    assert b.healthz() == "ok"

    async def main():
        class_id = "cl-" + uuid.uuid4().hex[:8]
        on_b = await viewer(b, class_id)
        nats.stop()
        wait_until(lambda: b.healthz() == "degraded: cluster unreachable", 10, "/healthz degraded")
        assert b.metric("hrhub_cluster_connected_state") == 0
        local, _ = await open_welcomed(b.base, class_id, "publisher", participant="cy")
        for seq in range(1, 4):
            await local.hr(seq=seq, bpm=130)
        assert await seqs_until(on_b, "cy", 3) == [1, 2, 3]

        nats.start()
        wait_until(lambda: a.healthz() == "ok" and b.healthz() == "ok", 20, "/healthz ok after NATS returned")
        remote, _ = await open_welcomed(a.base, class_id, "publisher", participant="dee")
        await remote.ping_pong()
        for seq in range(1, 4):
            await remote.hr(seq=seq, bpm=140)
        assert await seqs_until(on_b, "dee", 3) == [1, 2, 3]
        assert b.metric("hrhub_cluster_connected_state") == 1
        assert b.metric('hrhub_cluster_samples_total{outcome="relayed"}') >= 3

    run(main(), timeout=60)


def test_a_device_that_moves_to_another_hub_takes_over_without_leaving(cluster):
    _, (a, b, c) = cluster

    async def main():
        class_id = "cl-" + uuid.uuid4().hex[:8]
        on_c = await viewer(c, class_id)
        old, _ = await open_welcomed(a.base, class_id, "publisher", participant="x")
        await old.hr(seq=1, bpm=120)
        await on_c.expect_t("hr", p="x", seq=1)
        new, _ = await open_welcomed(b.base, class_id, "publisher", participant="x")
        assert await old.close_code() == 4009
        await new.hr(seq=2, bpm=121)
        await on_c.expect_t("hr", p="x", seq=2)
        # A's announcements reach C in order: once C shows a rider A announced after the takeover, C has also
        # seen A stop announcing x.
        marker, _ = await open_welcomed(a.base, class_id, "publisher", participant="marker")
        await on_c.expect_t("join", p="marker")
        presence = [m for m in on_c.skipped if m["t"] in ("join", "leave") and m["p"] == "x"]
        assert [m["t"] for m in presence] == ["join"], "x joined once and never left"

    run(main(), timeout=60)


def test_a_hub_started_without_nats_serves_and_joins_when_nats_comes(tmp_path):
    nats = NatsServer(tmp_path / "jetstream")  # not started yet
    hub = Hub("hub-early", nats, tmp_path / "early")
    try:
        assert hub.healthz() == "degraded: cluster unreachable"

        async def main():
            on_hub = await viewer(hub, "early")
            pub, _ = await open_welcomed(hub.base, "early", "publisher", participant="eve")
            await pub.hr(seq=1, bpm=120)
            assert await seqs_until(on_hub, "eve", 1) == [1]

        run(main(), timeout=30)
        nats.start()
        wait_until(lambda: hub.healthz() == "ok", 20, "/healthz ok once NATS is up")
    finally:
        hub.stop()
        nats.stop()


def test_the_live_class_list_counts_every_hub(cluster):
    _, (a, b, c) = cluster

    async def main():
        class_id = "cl-" + uuid.uuid4().hex[:8]
        viewers = [await viewer(b, class_id), await viewer(b, class_id)]
        pub, _ = await open_welcomed(a.base, class_id, "publisher", participant="fay")
        await pub.hello(name="Fay")
        expected = [{"id": class_id, "participants": 1, "viewers": 2}]
        # A has the rider and knows B's viewers; C has no connection in the class and knows both from announcements.
        for hub in (a, b, c):
            wait_until(lambda: hub.live_classes() == expected, 10, f"/v1/classes/live on {hub.hub_id} = {expected}")
        for conn in viewers:
            await conn.close()
        await pub.close()

    run(main(), timeout=60)


def test_a_draining_hubs_riders_leave_at_once_on_the_others(cluster):
    _, (a, b, _) = cluster

    async def main():
        class_id = "cl-" + uuid.uuid4().hex[:8]
        on_b = await viewer(b, class_id)
        pub, _ = await open_welcomed(a.base, class_id, "publisher", participant="gus")
        await pub.hr(seq=1, bpm=120)
        await on_b.expect_t("hr", p="gus", seq=1)
        a.stop()  # SIGTERM: A drains and says goodbye
        await on_b.expect_t("leave", p="gus", reason="closed")

    run(main(), timeout=60)
