"""The class record (PROTOCOL.md part two): acks a device can trust, durable dedupe, uploads after an outage,
reading the record back, and a store that fails without stopping the ride.

Each test runs its own hub on a data directory of its own (`RecordHub`), so it can kill the hub with SIGKILL and
start it again on the same directory. Correctness tests use a budget far above their length.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO_ROOT, _hub_binary
from hubclient import Conn, now_ms, open_welcomed, run
from test_production import SECRET, mint

LISTENING = re.compile(r"hrhub listening on (wss?://(\S+):(\d+))")
LONG_BUDGET = ["--budget-ms", "60000"]


class RecordHub:
    """One hrhub process on a given data directory; start, SIGKILL and start again on the same one."""

    def __init__(self, data_dir: Path, *args: str):
        self.data_dir = data_dir
        self.args = list(args)
        self.proc: subprocess.Popen | None = None
        self.stderr: list[str] = []
        self.base = ""

    def start(self, expect_failure: bool = False) -> "RecordHub":
        binary = _hub_binary()
        cmd = [str(binary), "--host", "127.0.0.1", "--port", "0", "--log-level", "warning",
               "--data-dir", str(self.data_dir), *self.args]
        self.stderr = []
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        first: queue.Queue = queue.Queue()

        def pump_out():
            for index, line in enumerate(self.proc.stdout):
                if index == 0:
                    first.put(line)
            first.put(None)

        def pump_err():
            for line in self.proc.stderr:
                self.stderr.append(line)

        threading.Thread(target=pump_out, daemon=True).start()
        err_reader = threading.Thread(target=pump_err, daemon=True)
        err_reader.start()
        line = first.get(timeout=30)
        if expect_failure:
            assert line is None, f"the hub should not start, but printed {line!r}"
            self.proc.wait(timeout=10)
            err_reader.join(timeout=10)  # stderr read to its end: the reason is in it
            return self
        assert line is not None, f"hub exited before listening:\n{''.join(self.stderr)}"
        match = LISTENING.fullmatch(line.rstrip("\n"))
        assert match, line
        self.base = match.group(1)
        return self

    @property
    def http(self) -> str:
        return self.base.replace("ws://", "http://")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("hub did not stop within 10 s of SIGTERM")
            assert self.proc.returncode == 0, "".join(self.stderr[-20:])


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "hrhub-data"


def http(method: str, url: str, body: bytes | None = None, token: str | None = None,
         timeout: float = 30) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def record_rows(hub: RecordHub, class_id: str, query: str = "", token: str | None = None) -> list[dict]:
    status, _, body = http("GET", f"{hub.http}/v1/classes/{class_id}/record{query}", token=token)
    assert status == 200, (status, body[:200])
    rows = json.loads(body)
    assert isinstance(rows, list)
    return rows


def upload(hub: RecordHub, class_id: str, participant: str, samples: list[dict], token: str | None = None):
    body = json.dumps(samples).encode()
    return http("POST", f"{hub.http}/v1/classes/{class_id}/participants/{participant}/samples", body, token)


def sample(seq: int, bpm: int = 130, ts: int | None = None) -> dict:
    return {"t": "hr", "seq": seq, "ts": now_ms() if ts is None else ts, "bpm": bpm}


async def acked_up_to(conn: Conn, seq: int, timeout: float = 30) -> dict:
    return await conn.expect(lambda m: m.get("t") == "ack" and m["seq"] >= seq, timeout, what=f"ack ≥ {seq}")


async def barrier(conn: Conn, ping_id: str = "barrier") -> list[dict]:
    """ping→pong: the hub handled everything sent on `conn` before; returns what arrived before the pong."""
    conn.skipped.clear()
    await conn.ping_pong(ping_id)
    seen = list(conn.skipped)
    conn.skipped.clear()
    return seen


# Acks and reading the record back


def test_samples_are_acked_after_commit_and_read_back_in_order(data_dir):
    hub = RecordHub(data_dir, *LONG_BUDGET).start()
    try:
        async def scenario():
            anna, welcome = await open_welcomed(hub.base, "spin", "publisher", participant="anna")
            assert welcome["last_seq"] is None
            ben, _ = await open_welcomed(hub.base, "spin", "publisher", participant="ben")
            await anna.hello(name="Anna", hrmax=190)
            for seq in range(1, 31):
                await anna.hr(seq, 120 + seq, rr=[800, 810], contact=True, ee=seq)
                await ben.hr(seq * 2, 100)
            ack = await acked_up_to(anna, 30)
            assert ack["seq"] == 30
            await acked_up_to(ben, 60)
            acks = [m["seq"] for m in anna.skipped if m["t"] == "ack"] + [ack["seq"]]
            assert acks == sorted(acks), f"acks never decrease: {acks}"
        run(scenario())
        rows = record_rows(hub, "spin")
        assert [(r["p"], r["seq"]) for r in rows] == [("anna", s) for s in range(1, 31)] + \
            [("ben", s * 2) for s in range(1, 31)]
        first = rows[0]
        assert first["bpm"] == 121 and first["rr"] == [800, 810] and first["contact"] is True and first["ee"] == 1
        assert isinstance(first["ts"], int) and isinstance(first["rts"], int)
        assert set(first) <= {"p", "seq", "ts", "rts", "bpm", "rr", "contact", "ee"}
        assert "rr" not in rows[-1] and "contact" not in rows[-1], "absent fields stay absent"
        only_ben = record_rows(hub, "spin", "?participant=ben")
        assert [r["seq"] for r in only_ben] == [s * 2 for s in range(1, 31)]
        status, headers, body = http("GET", f"{hub.http}/v1/classes/spin/record?format=csv")
        assert status == 200 and headers["content-type"].startswith("text/csv")
        table = list(csv.reader(io.StringIO(body.decode())))
        assert table[0] == ["participant", "seq", "ts", "rts", "bpm", "rr"]
        assert table[1][0:2] == ["anna", "1"] and table[1][5] == "800 810"
        assert len(table) == 61
        status, _, _ = http("GET", f"{hub.http}/v1/classes/nobody-rode-here/record")
        assert status == 404
    finally:
        hub.stop()


def test_record_off_keeps_nothing_and_sends_no_ack(data_dir):
    hub = RecordHub(data_dir, "--record", "off").start()
    try:
        async def scenario():
            anna, welcome = await open_welcomed(hub.base, "spin", "publisher", participant="anna")
            for seq in range(1, 6):
                await anna.hr(seq, 120)
            seen = await barrier(anna)
            assert not [m for m in seen if m["t"] == "ack"]
        run(scenario())
        status, _, _ = http("GET", f"{hub.http}/v1/classes/spin/record")
        assert status == 404
        assert not (data_dir / "record.sqlite3").exists()
    finally:
        hub.stop()


# Crash and restart


def test_kill9_keeps_every_acked_sample_exactly_once(data_dir):
    hub = RecordHub(data_dir, *LONG_BUDGET, "--max-sample-rate", "200").start()
    acked = 0
    sent = 0

    async def ride_until_killed():
        nonlocal acked, sent
        anna, _ = await open_welcomed(hub.base, "spin", "publisher", participant="anna")

        async def read_acks():
            nonlocal acked
            try:
                while True:
                    message = await anna.next(timeout=30)
                    if message["t"] == "ack":
                        assert message["seq"] >= acked
                        acked = message["seq"]
            except Exception:
                return

        reader = asyncio.create_task(read_acks())
        for seq in range(1, 2001):
            await anna.hr(seq, 120)
            sent = seq
            if seq % 20 == 0:
                await asyncio.sleep(0.01)  # a steady ride, not a burst: pacing, not synchronisation
            if acked >= 500:
                break
        hub.kill9()
        await asyncio.wait_for(reader, 10)

    run(ride_until_killed(), timeout=60)
    assert acked >= 500, f"acks must flow during the ride (acked {acked} of {sent})"

    hub.start()
    try:
        async def after_restart():
            anna, welcome = await open_welcomed(hub.base, "spin", "publisher", participant="anna")
            assert welcome["last_seq"] is not None and welcome["last_seq"] >= acked
            for seq in (1, acked // 2, acked):
                await anna.hr(seq, 120)
            # Seqs far below the top are answered by the record at commit; the ack comes after their errors.
            await acked_up_to(anna, acked)
            seen = anna.skipped
            duplicates = sorted(m["seq"] for m in seen if m["t"] == "error" and m["code"] == "duplicate")
            assert duplicates == sorted({1, acked // 2, acked}), seen
            return welcome["last_seq"]

        last_seq = run(after_restart())
        rows = record_rows(hub, "spin")
        seqs = [r["seq"] for r in rows]
        assert len(seqs) == len(set(seqs)), "nothing recorded twice"
        assert set(range(1, acked + 1)) <= set(seqs), "every acked sample survived kill -9"
        assert max(seqs) == last_seq
    finally:
        hub.stop()


def test_a_backfill_after_restart_is_recorded_and_named_late(data_dir):
    hub = RecordHub(data_dir, *LONG_BUDGET).start()
    try:
        async def first_ride():
            anna, _ = await open_welcomed(hub.base, "spin", "publisher", participant="anna")
            for seq in range(1, 301):
                if seq != 42:
                    await anna.hr(seq, 120)
            await acked_up_to(anna, 300)
        run(first_ride())
    finally:
        hub.stop()
    hub.start()
    try:
        async def second_ride():
            screen, _ = await open_welcomed(hub.base, "spin", "viewer")
            anna, welcome = await open_welcomed(hub.base, "spin", "publisher", participant="anna")
            assert welcome["last_seq"] == 300
            await anna.hr(42, 120, ts=now_ms() - 250_000)
            await acked_up_to(anna, 42)
            gap = await screen.expect_t("gap", p="anna", from_seq=42)
            assert gap == {"t": "gap", "p": "anna", "from_seq": 42, "to_seq": 42, "count": 1, "reason": "late"}
            assert not [m for m in screen.skipped if m["t"] == "hr"], "a backfill is never relayed live"
        run(second_ride())
        assert [r["seq"] for r in record_rows(hub, "spin")] == list(range(1, 301))
    finally:
        hub.stop()


# Uploads


def test_ten_minutes_offline_are_uploaded_once(data_dir):
    hub = RecordHub(data_dir, *LONG_BUDGET).start()
    try:
        start = now_ms() - 700_000

        async def scenario():
            screen, _ = await open_welcomed(hub.base, "spin", "viewer")
            anna, _ = await open_welcomed(hub.base, "spin", "publisher", participant="anna")
            for seq in range(1, 11):
                await anna.hr(seq, 120)
            await acked_up_to(anna, 10)
            offline = [sample(seq, 140, ts=start + seq * 1000) for seq in range(11, 611)]
            for element in offline[::2]:
                del element["t"]  # t is optional in an upload
            status, _, body = await asyncio.to_thread(upload, hub, "spin", "anna", offline)
            assert status == 200, body
            assert json.loads(body) == {"accepted": 600, "duplicates": 0, "last_seq": 610}
            status, _, body = await asyncio.to_thread(upload, hub, "spin", "anna", offline)
            assert status == 200 and json.loads(body) == {"accepted": 0, "duplicates": 600, "last_seq": 610}
            gap = await screen.expect(lambda m: m["t"] == "gap" and m["to_seq"] == 610, what="the upload's gap")
            assert gap == {"t": "gap", "p": "anna", "from_seq": 11, "to_seq": 610, "count": 600, "reason": "late"}
            live = [m["seq"] for m in screen.skipped + await barrier(screen) if m["t"] == "hr"]
            assert all(seq <= 10 for seq in live), "uploaded samples are never relayed live"
            anna.skipped.clear()
            await anna.hr(300, 120)
            await anna.hr(611, 120)
            await acked_up_to(anna, 611)
            assert [m["seq"] for m in anna.skipped if m["t"] == "error"] == [300]
        run(scenario(), timeout=60)
        assert [r["seq"] for r in record_rows(hub, "spin")] == list(range(1, 612))
    finally:
        hub.stop()


def test_a_bad_upload_stores_nothing_and_names_the_element(data_dir):
    hub = RecordHub(data_dir).start()
    try:
        good = [sample(seq) for seq in range(1, 5)]
        bad = good + [{"seq": 5, "ts": now_ms(), "bpm": 300}]
        status, _, body = upload(hub, "spin", "anna", bad)
        assert status == 400
        reason = body.decode()
        assert "element 4" in reason and "bpm" in reason, reason
        assert http("GET", f"{hub.http}/v1/classes/spin/record")[0] == 404, "all or nothing"
        status, _, body = http("POST", f"{hub.http}/v1/classes/spin/participants/anna/samples", b'{"seq":1}')
        assert status == 400 and b"array" in body
        status, _, _ = upload(hub, "spin", "anna", [sample(seq) for seq in range(1, 10_002)])
        assert status == 413
        huge = b"[" + b" " * (4 * 1024 * 1024) + b"]"
        status, _, _ = http("POST", f"{hub.http}/v1/classes/spin/participants/anna/samples", huge)
        assert status == 413
        status, _, body = upload(hub, "bad%20class!", "anna", good)
        assert status in (400, 404), body
        status, _, body = upload(hub, "spin", "not%20ok", good)
        assert status == 400, body
        assert http("GET", f"{hub.http}/v1/classes/spin/record")[0] == 404
        status, _, body = upload(hub, "spin", "anna", good)
        assert status == 200 and json.loads(body)["accepted"] == 4
    finally:
        hub.stop()


def test_uploads_and_the_record_need_the_right_token(data_dir):
    hub = RecordHub(data_dir, "--jwt-secret", SECRET).start()
    try:
        samples = [sample(1)]
        assert upload(hub, "spin", "anna", samples)[0] == 401
        assert upload(hub, "spin", "anna", samples, token=mint("publisher", "spin", sub="ben"))[0] == 403
        assert upload(hub, "spin", "anna", samples, token=mint("publisher", "yoga", sub="anna"))[0] == 403
        assert upload(hub, "spin", "anna", samples, token=mint("viewer", "spin"))[0] == 403
        status, _, body = upload(hub, "spin", "anna", samples, token=mint("publisher", "spin", sub="anna"))
        assert status == 200, body
        url = f"{hub.http}/v1/classes/spin/record"
        assert http("GET", url)[0] == 401
        assert http("GET", url, token=mint("viewer", "yoga"))[0] == 403
        assert http("GET", url, token=mint("publisher", "spin", sub="anna"))[0] == 403
        assert http("GET", url, token=mint("viewer", "spin"))[0] == 200
        assert http("GET", url, token=mint("admin"))[0] == 200
    finally:
        hub.stop()


def test_a_bike_and_an_app_with_the_same_seqs_are_recorded_once(data_dir):
    hub = RecordHub(data_dir, *LONG_BUDGET).start()
    try:
        async def scenario():
            bike, _ = await open_welcomed(hub.base, "spin", "publisher", participant="anna")
            for seq in range(1, 21):
                await bike.hr(seq, 120)
            await acked_up_to(bike, 20)
            app, welcome = await open_welcomed(hub.base, "spin", "participant", participant="anna")
            assert welcome["last_seq"] == 20
            for seq in range(1, 26):
                await app.hr(seq, 121)
            await acked_up_to(app, 25)
        run(scenario())
        rows = record_rows(hub, "spin")
        assert [r["seq"] for r in rows] == list(range(1, 26))
        assert {r["bpm"] for r in rows if r["seq"] <= 20} == {120}, "the first one recorded stays"
    finally:
        hub.stop()


# Failures of the store


def test_a_foreign_or_corrupt_file_stops_the_hub_with_its_name(data_dir):
    data_dir.mkdir(parents=True)
    path = data_dir / "record.sqlite3"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    hub = RecordHub(data_dir).start(expect_failure=True)
    assert hub.proc.returncode != 0
    assert str(path) in "".join(hub.stderr), hub.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)")
def test_a_full_disk_gives_503_keeps_the_relay_and_recovers(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    hub = RecordHub(mount / "data", *LONG_BUDGET, "--max-sample-rate", "1000")
    try:
        hub.start()
        filler = mount / "filler"

        async def scenario():
            screen, _ = await open_welcomed(hub.base, "spin", "viewer")
            anna, _ = await open_welcomed(hub.base, "spin", "publisher", participant="anna")
            await anna.hr(1, 120)
            await acked_up_to(anna, 1)
            # Fill the disk to the last byte.
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
            try:
                while True:
                    os.write(fd, b"\0" * 4096)
            except OSError:
                pass
            finally:
                os.close(fd)
            seq = 1
            deadline = time.monotonic() + 60
            while True:
                for _ in range(50):
                    seq += 1
                    await anna.hr(seq, 120, rr=[800] * 16)
                status, _, body = await asyncio.to_thread(http, "GET", f"{hub.http}/healthz")
                if status == 503:
                    assert b"record unavailable" in body
                    break
                assert time.monotonic() < deadline, "the hub never noticed the full disk"
            # The relay still delivers.
            await anna.hr(seq + 1, 150)
            await screen.expect_t("hr", p="anna", seq=seq + 1, timeout=30)
            last_before_recovery = seq + 1
            # Free the space: the store recovers by itself and acks resume for everything sent.
            filler.unlink()
            await acked_up_to(anna, last_before_recovery, timeout=60)
            status, _, body = await asyncio.to_thread(http, "GET", f"{hub.http}/healthz")
            assert status == 200, body
            return last_before_recovery

        last = run(scenario(), timeout=120)
        rows = record_rows(hub, "spin")
        assert [r["seq"] for r in rows] == list(range(1, last + 1)), "every accepted sample recorded once"
        status, _, metrics = http("GET", f"{hub.http}/metrics")
        assert re.search(rb"hrhub_record_failed_commits_total [1-9]", metrics), "the failure is counted"
    finally:
        try:
            hub.stop()
        finally:
            subprocess.run(["umount", "-l", str(mount)], check=False)
