"""Operating the hub: a Prometheus scrape of /metrics, and the graceful drain on SIGTERM."""

from __future__ import annotations

import asyncio
import resource
import signal
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import start_hub
from hubclient import BIG_BUDGET, Conn, http_base, open_welcomed, run, scrape, wait_connections


@pytest.mark.hub_args(*BIG_BUDGET)  # every sample is delivered, none late, however loaded the machine
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


def test_the_hub_raises_its_open_file_limit_to_the_hard_limit():
    """Every connection is a descriptor: the hub raises the soft RLIMIT_NOFILE it inherits to the hard limit
    before it opens the port (lws sizes its table from it then), and /metrics says which limit is in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = 512
    assert hard > lowered, f"the hard open-file limit ({hard}) leaves nothing to raise"
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))  # the hub inherits it
    try:
        with start_hub() as running:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            assert scrape(running.base)["hrhub_open_file_limit_descriptors"] == hard
            assert running.stop() == 0, running.diagnostics()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


STUCK_SAMPLES = 300  # with 16 rr values each, far more than a 2 KiB receive buffer and the hub's send buffer


def stuck_viewer(host: str, port: int) -> socket.socket:
    """A viewer that completes the upgrade and then never reads: once its small receive buffer is full, the hub
    cannot write it anything, not even the close frame, so a drain waits for it until the drain timeout."""
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    stuck.settimeout(30)
    stuck.connect((host, port))
    stuck.sendall(b"GET /v1/classes/d/ws?role=viewer HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = stuck.recv(1)  # the response head only: nothing after it is read
        assert chunk, "the hub closed the stuck viewer during its upgrade"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return stuck


async def fill(base: str, reader_count: int) -> Conn:
    """A publisher in class `d` that sends STUCK_SAMPLES samples the hub has handled when this returns (the
    class already holds `reader_count` viewers, a stuck one among them)."""
    pub, _ = await open_welcomed(base, "d", "publisher", participant="anna")
    await wait_connections(base, "d", reader_count + 1)
    for seq in range(1, STUCK_SAMPLES + 1):
        await pub.hr(seq, 130, rr=[500] * 16)
    assert not [m for m in await pub.sync() if m["t"] == "error"], "the hub took every sample"
    return pub


def test_sigterm_drains_flushes_and_exits_zero():
    """SIGTERM: /healthz turns 503, upgrades are refused, readers get what was queued then 1001, and the hub
    exits 0 once the last client is gone. A stuck client holds the drain open while this is checked (the drain
    timeout is far longer than the test)."""
    # Jitter off: every sample is queued for the reader the moment the hub handles it, so "what was queued" at
    # SIGTERM is all of them.
    with start_hub(["--drain-timeout-ms", "120000", "--jitter", "off", *BIG_BUDGET]) as hub:
        base = hub.base
        host, port = urlsplit(base).hostname, urlsplit(base).port

        async def main():
            reader, _ = await open_welcomed(base, "d", "viewer")
            stuck = await asyncio.to_thread(stuck_viewer, host, port)
            try:
                pub = await fill(base, reader_count=2)
                hub.proc.send_signal(signal.SIGTERM)
                # The reader gets what was queued, then 1001.
                seqs = []
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        message = await reader.next()
                        assert message["t"] != "gap", f"a reader that keeps up lost samples: {message}"
                        if message["t"] == "hr":
                            seqs.append(message["seq"])
                assert seqs == list(range(1, STUCK_SAMPLES + 1))
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001, closed.value
                # While the stuck client holds the drain open: health says so, and no new WebSocket is taken.
                with pytest.raises(urllib.error.HTTPError) as draining:
                    urllib.request.urlopen(f"{http_base(base)}/healthz", timeout=10)
                assert draining.value.code == 503
                with pytest.raises(InvalidStatus) as refused:
                    await open_welcomed(base, "d", "viewer")
                assert refused.value.response.status_code == 503
                await pub.close()
            finally:
                stuck.close()  # the last client: the drain ends

        run(main(), timeout=60)
        assert hub.wait_exit() == 0, hub.diagnostics()


def test_drain_timeout_ends_a_drain_that_a_stuck_client_holds_open():
    """A client that never reads would hold the drain open forever: the hub exits 0 anyway once the drain
    timeout has passed (waited for, not timed)."""
    with start_hub(["--drain-timeout-ms", "500", "--jitter", "off", *BIG_BUDGET]) as hub:
        url = urlsplit(hub.base)
        stuck = stuck_viewer(url.hostname, url.port)
        try:

            async def main():
                pub = await fill(hub.base, reader_count=1)
                hub.proc.send_signal(signal.SIGTERM)
                assert await pub.close_code() == 1001

            run(main(), timeout=60)
            assert hub.wait_exit() == 0, hub.diagnostics()
            assert "drain timeout: 1 connections still open" in "".join(hub.stderr), hub.diagnostics()
        finally:
            stuck.close()
