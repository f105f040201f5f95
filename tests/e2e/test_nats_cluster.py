"""Cluster mode on a 3-node NATS cluster (three nats-servers joined by routes, JetStream clustered, the record stream
with 3 replicas): one NATS node killed with SIGKILL mid-ride, and the ride goes on. Nothing acked is lost, nothing
is recorded twice, and no viewer sees a sample twice.

Slow (the JetStream cluster elects its leaders, and again after the kill): marked `long`, run by
`scripts/test --long`.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import uuid

import pytest

from hubclient import run
from test_cluster import STOP_TIMEOUT_S, Hub, free_port, viewer, wait_until
from test_cluster_record import RIDE_BUDGET_S, Device
from test_record import http

pytestmark = pytest.mark.long


def readable_record(hub, class_id: str) -> dict[str, list[int]] | None:
    """The class's record as `record_seqs` reads it, or None while the hub answers 503 (the JetStream cluster is
    still electing after a node died: an honest "not now", which a client retries)."""
    status, _, body = http("GET", f"{hub.http}/v1/classes/{class_id}/record")
    if status == 503:
        assert body.startswith(b"record unavailable"), body[:200]
        return None
    assert status == 200, (hub.hub_id, status, body[:200])
    seqs: dict[str, list[int]] = {}
    for row in json.loads(body):
        seqs.setdefault(row["p"], []).append(row["seq"])
    return seqs

NODES = 3


class NatsNode:
    """One nats-server of the cluster: its client port, its route port, its own JetStream store."""

    def __init__(self, name: str, store):
        self.name = name
        self.port = free_port()
        self.route_port = free_port()
        self.store = store
        self.proc: subprocess.Popen | None = None
        self.url = f"nats://127.0.0.1:{self.port}"

    def start(self, routes: list[str]) -> None:
        binary = shutil.which("nats-server")
        if binary is None:
            pytest.fail("nats-server is not installed (scripts/setup installs it)")
        self.proc = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(self.port), "-n", self.name, "-js", "-sd", str(self.store),
             "--cluster_name", "hrhub-test", "--cluster", f"nats://127.0.0.1:{self.route_port}",
             "--routes", ",".join(routes)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=STOP_TIMEOUT_S)


class ClusterURLs:
    """What test_cluster.Hub reads of its NATS server: the URL, here every node's."""

    def __init__(self, nodes: list[NatsNode]):
        self.url = ",".join(node.url for node in nodes)


@pytest.fixture
def nats_cluster(tmp_path):
    nodes = [NatsNode(f"n{i}", tmp_path / f"js{i}") for i in range(1, NODES + 1)]
    hubs: list[Hub] = []
    try:
        for node in nodes:
            node.start([f"nats://127.0.0.1:{other.route_port}" for other in nodes if other is not node])
        for name in ["a", "b"]:
            hubs.append(Hub(f"hub-{name}", ClusterURLs(nodes), tmp_path / name, ["--nats-replicas", "3"]))
        # Ready: the JetStream cluster has a leader and each hub has created (or found) the 3-replica stream.
        for hub in hubs:
            wait_until(lambda: hub.healthz() == "ok", 60, f"/healthz ok on {hub.hub_id}")
        yield nodes, hubs
    finally:
        for hub in hubs:
            hub.stop()
        for node in nodes:
            node.stop()


def test_a_nats_node_killed_mid_ride_loses_nothing_acked(nats_cluster):
    nodes, (a, b) = nats_cluster
    class_id = "n3-" + uuid.uuid4().hex[:8]
    ann, bo = Device("ann"), Device("bo")

    async def main():
        on_b = await viewer(b, class_id)
        await ann.connect(a, class_id)
        await bo.connect(b, class_id)
        await ann.ride(range(1, 41), 20)
        await bo.ride(range(1, 41), 20)
        await ann.acked_up_to(40)
        await bo.acked_up_to(40)

        nodes[0].kill9()
        # The ride goes on: the stream keeps a quorum of 2 of 3, and a hub on the dead node reconnects to another.
        await ann.ride(range(41, 161), 20)
        await bo.ride(range(41, 161), 20)
        await ann.acked_up_to(160)
        await bo.acked_up_to(160)
        seen = [m for m in await on_b.sync() + on_b.skipped if m["t"] == "hr"]
        for rider in ("ann", "bo"):
            seqs = [m["seq"] for m in seen if m["p"] == rider]
            assert len(seqs) == len(set(seqs)), f"the screen on B saw one of {rider}'s samples twice"
            assert seqs == sorted(seqs), f"{rider}'s samples out of order on B"

    run(main(), timeout=RIDE_BUDGET_S * 3)
    expected = {"ann": list(range(1, 161)), "bo": list(range(1, 161))}
    for hub in (a, b):
        wait_until(lambda: readable_record(hub, class_id) == expected, RIDE_BUDGET_S, f"the whole record on {hub.hub_id}")
