"""Operating the hub: a Prometheus scrape of /metrics, and the graceful drain on SIGTERM."""

from __future__ import annotations

import asyncio
import queue
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from conftest import LISTENING, REPO_ROOT, _hub_binary
from hubclient import open_welcomed, run


def scrape(base: str) -> dict[str, float]:
    """`/metrics` parsed by Prometheus' own client parser: {"name{label=value}": value}."""
    http = base.replace("ws://", "http://", 1)
    with urllib.request.urlopen(f"{http}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def test_metrics_parse_and_count_what_happened(hub):
    async def main():
        viewers = [(await open_welcomed(hub, "m", "viewer"))[0] for _ in range(2)]
        pub, _ = await open_welcomed(hub, "m", "publisher", participant="anna")
        for seq in range(1, 6):
            await pub.hr(seq, 120)
        await pub.hr(5, 120)  # a duplicate
        await pub.send_raw("garbage")  # an error
        for viewer in viewers:
            for _ in range(5):
                await viewer.expect_t("hr", p="anna")
        await pub.expect_t("error", code="bad_json")
        metrics = scrape(hub)
        assert metrics["hrhub_samples_received_total"] == 5
        assert metrics["hrhub_samples_delivered_total"] == 10
        assert metrics["hrhub_samples_dropped_total{reason=duplicate}"] == 1
        assert metrics["hrhub_client_errors_total"] == 2  # the duplicate and the bad JSON
        assert metrics["hrhub_open_connections{role=viewer}"] == 2
        assert metrics["hrhub_open_connections{role=publisher}"] == 1
        assert metrics["hrhub_remembered_classes"] == 1
        assert metrics["hrhub_residency_seconds_count"] == 10
        assert metrics["hrhub_sample_age_seconds_count"] == 10
        assert metrics["hrhub_residency_seconds_bucket{le=+Inf}"] == 10
        assert metrics["hrhub_draining_state"] == 0
        # Counters only grow between scrapes.
        await pub.hr(6, 121)
        for viewer in viewers:
            await viewer.expect_t("hr", seq=6)
        again = scrape(hub)
        assert again["hrhub_samples_received_total"] == 6
        assert again["hrhub_samples_delivered_total"] == 12
        for conn in [pub, *viewers]:
            await conn.close()

    run(main())


def test_sigterm_drains_flushes_and_exits_zero():
    """SIGTERM: /healthz turns 503, upgrades are refused, readers get what was queued then 1001, exit 0
    within the drain timeout even though one client never answers."""
    proc = subprocess.Popen(
        [str(_hub_binary()), "--port", "0", "--log-level", "warning", "--drain-timeout", "3000"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = queue.Queue()
        threading.Thread(target=lambda: line.put(proc.stdout.readline()), daemon=True).start()
        match = LISTENING.fullmatch(line.get(timeout=15).rstrip("\n"))
        assert match
        base = match.group(1)
        host, port = match.group(2), int(match.group(3))

        async def main():
            reader, _ = await open_welcomed(base, "d", "viewer")
            pub, _ = await open_welcomed(base, "d", "publisher", participant="anna")
            await reader.expect_t("join", p="anna")
            # A client that completed the upgrade but never reads: once its small receive buffer is full, the
            # hub cannot even write it a close frame, so it holds the drain open until the timeout.
            stuck = socket.socket()
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            stuck.settimeout(10)
            stuck.connect((host, port))
            stuck.sendall(b"GET /v1/classes/d/ws?role=viewer HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          b"Sec-WebSocket-Version: 13\r\n\r\n")
            await asyncio.sleep(0.2)
            sent = 300
            for seq in range(1, sent + 1):
                await pub.hr(seq, 130, rr=[500] * 16)
            await pub.ping_pong()  # the hub has the samples
            proc.send_signal(signal.SIGTERM)
            # The reader gets what was queued, then 1001.
            seqs = []
            code = None
            try:
                while True:
                    message = await reader.next(timeout=5)
                    if message["t"] == "gap":
                        raise AssertionError(f"a reader that keeps up lost samples: {message}")
                    if message["t"] == "hr":
                        seqs.append(message["seq"])
            except Exception as closed:  # websockets.ConnectionClosed
                code = getattr(getattr(closed, "rcvd", None), "code", None)
            assert seqs == list(range(1, sent + 1))
            assert code == 1001
            # While the stuck client holds the drain open: health says so, and no new WebSocket is taken.
            http = base.replace("ws://", "http://", 1)
            try:
                urllib.request.urlopen(f"{http}/healthz", timeout=5)
                raise AssertionError("/healthz should answer 503 while draining")
            except urllib.error.HTTPError as draining:
                assert draining.code == 503
            try:
                await open_welcomed(base, "d", "viewer")
                raise AssertionError("a new connection should be refused while draining")
            except Exception as refused:
                assert "503" in str(refused), refused
            stuck.close()

        run(main(), timeout=30)
        assert proc.wait(timeout=6) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
