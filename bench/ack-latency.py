#!/usr/bin/env python3
"""Accept → ack through the hub, measured by an independent client (issue 14's target: p99 ≤ 50 ms at 5,000/s).

Starts a release hrhub with its class record on a temporary --data-dir, loads it with
`hrprobe run --device-model firmware` (10 classes × 50 publishers × 10 Hz = 5,000 samples/s), and meanwhile runs
PROBES Python publishers of its own (websockets, written from PROTOCOL.md) at 10 Hz, each timing a sample from its
write to the `ack` covering it. Prints one Markdown row per sync mode.

With --nats, the hub runs in cluster mode on a nats-server with JetStream started here (free loopback port,
temporary storage): the record is the JetStream stream, so an ack waits for the stream's PubAck (docs/CLUSTER.md).

usage: bench/ack-latency.py BIN_DIR [SECONDS] [PROBES] [--nats]   (BIN_DIR: where the release hrhub and hrprobe are)
"""
import asyncio
import json
import os
import socket
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from websockets.asyncio.client import connect


async def publisher(url: str, name: str, seconds: float, lat: list) -> None:
    async with connect(f"{url}/v1/classes/ack-bench/ws?role=publisher&participant={name}") as ws:
        sent: dict[int, float] = {}

        async def reader():
            async for frame in ws:
                for m in json.loads(frame):
                    if m["t"] == "ack":
                        now = time.monotonic()
                        for seq in [s for s in sent if s <= m["seq"]]:
                            lat.append((now - sent.pop(seq)) * 1000)
                            if lat[-1] > 100:
                                print(f"slow {name} seq {seq} {lat[-1]:.0f} ms at {now:.2f}", file=sys.stderr)

        task = asyncio.create_task(reader())
        for seq in range(1, int(seconds * 10) + 1):
            sent[seq] = time.monotonic()
            await ws.send(json.dumps({"t": "hr", "seq": seq, "ts": int(time.time() * 1000), "bpm": 120}))
            await asyncio.sleep(0.1)
        deadline = time.monotonic() + 10
        while sent and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        task.cancel()
        assert not sent, f"{len(sent)} samples never acked"


def hub_ack_delay(url: str) -> str:
    """The hub's own view, from /metrics: the share of recorded socket samples whose commit reached the relay
    within 50 ms of acceptance, and the smallest bucket bound holding 99 % of them."""
    page = urllib.request.urlopen(url.replace("ws://", "http://") + "/metrics", timeout=10).read().decode()
    buckets = []
    for line in page.splitlines():
        if line.startswith("hrhub_record_ack_delay_seconds_bucket"):
            bound = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if bound == "+Inf" else float(bound) * 1000, int(line.split()[-1])))
    total = buckets[-1][1]
    within50 = next(c for b, c in buckets if b >= 50)
    p99 = next(b for b, c in buckets if c >= 0.99 * total)
    return f"{100 * within50 / total:.2f} % ≤ 50 ms, p99 ≤ {p99:g} ms"


def start_nats(store: str) -> tuple[subprocess.Popen, str]:
    """nats-server with JetStream on a free loopback port; returns it once it accepts connections."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, f"nats://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def run(bin_dir: str, sync: str, seconds: float, probes: int, nats: bool = False) -> str:
    data = tempfile.mkdtemp(prefix="ack-bench-")
    cluster: list[str] = []
    server = None
    if nats:
        server, url = start_nats(os.path.join(data, "jetstream"))
        cluster = ["--nats", url, "--hub-id", "bench"]
    hub = subprocess.Popen([f"{bin_dir}/hrhub", "--port", "0", "--data-dir", data, "--sync", sync,
                            "--log-level", "warning", *cluster], stdout=subprocess.PIPE, text=True)
    try:
        url = hub.stdout.readline().split()[-1]
        load = subprocess.Popen([f"{bin_dir}/hrprobe", "run", f"{url}/", "--classes", "10", "--publishers", "50",
                                 "--viewers", "1", "--rate", "10", "--device-model", "firmware",
                                 "--duration", f"{int(seconds) + 10}s", "--quiet"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(4)  # the load is running
        lat: list[float] = []

        async def all_probes():
            await asyncio.gather(*(publisher(url, f"p{i}", seconds, lat) for i in range(probes)))

        asyncio.run(all_probes())
        hub_side = hub_ack_delay(url)
        load.wait(timeout=seconds + 60)
        lat.sort()
        pick = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))]
        load_avg = os.getloadavg()[0]
        mode = f"{sync}, JetStream R1" if nats else sync
        return (f"| {mode} | {load_avg:.2f} | {len(lat)} | {pick(0.5):.1f} | {pick(0.99):.1f} | {lat[-1]:.1f} | {hub_side} |")
    finally:
        hub.terminate()
        hub.wait(timeout=30)
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    nats = "--nats" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--nats"]
    bin_dir = args[0]
    seconds = float(args[1]) if len(args) > 1 else 20
    probes = int(args[2]) if len(args) > 2 else 5
    print("| sync | load avg (end) | acked samples | ack p50 ms | ack p99 ms | ack max ms | hub side (accept → commit at the relay) |")
    print("|---|---|---:|---:|---:|---:|---|")
    for sync in ("normal",) if nats else ("normal", "full"):
        print(run(bin_dir, sync, seconds, probes, nats), flush=True)
