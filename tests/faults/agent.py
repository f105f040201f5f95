"""Clients for the fault scenarios, run inside the lab's namespaces (one process per group of clients).

    agent.py publish URL --riders a,b --rate 1 --duration 60      # devices: capture, buffer, reconnect, resend
    agent.py view URL [--dead-after 1.0]                           # a class screen that logs everything it gets

Both print one `ready` line once connected (viewers: welcomed), and their log as one JSON line at the end.

A publisher behaves like device firmware: it captures a sample every 1/rate s whether or not it is connected
(an offline buffer of everything captured), reconnects with jittered backoff when its socket dies or goes silent
(no answer to its pings for `--dead-after` s), and after each `welcome` resends only what is newer than
`last_seq`. After `--duration` it stops capturing, makes sure everything was sent, and proves the hub handled it
with a ping → pong round trip on the same socket.

A viewer keeps a log of every `hr` and `gap` (with its receive time, Unix ms, and which connection it came on),
and each connection's `welcome` and `snapshot`. It pings every 0.25 s and reconnects when nothing arrives for
`--dead-after` s. It stops when a line `until p=SEQ,q=SEQ` on stdin is satisfied (for every rider, a sample or a
gap at or beyond SEQ has arrived) or `--max-wait` s after that line, whichever is first.

Namespaces share the wall clock, so `recv − ts` is a sample's true end-to-end lag and `rts − ts` its network delay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from urllib.parse import urlencode

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


def now_ms() -> int:
    return int(time.time() * 1000)


def url_for(base: str, class_id: str, **query) -> str:
    return f"{base}/v1/classes/{class_id}/ws?{urlencode(query)}"


class Rider:
    def __init__(self, participant: str, rate: float, duration: float, seed: int):
        self.participant = participant
        self.period = 1.0 / rate
        self.duration = duration
        self.captured: list[dict] = []
        self.rng = random.Random(seed)
        self.connects = 0
        self.resent = 0
        self.uploaded = 0
        self.sent = 0
        self.drained = False
        self.capturing = True
        self.welcomed_ms: list[int] = []  # when each connection's welcome arrived, Unix ms
        self.upload_answered_ms: list[int] = []
        self.new_sample = asyncio.Event()

    async def capture(self) -> None:
        start = time.monotonic()
        k = 0
        bpm = 110
        while time.monotonic() - start < self.duration:
            bpm = min(170, max(90, bpm + self.rng.choice((-1, 0, 1))))
            self.captured.append({"t": "hr", "seq": k + 1, "ts": now_ms(), "bpm": bpm})
            self.new_sample.set()
            k += 1
            await asyncio.sleep(max(0.0, start + k * self.period - time.monotonic()))
        self.capturing = False
        self.new_sample.set()


def upload_backlog(base: str, class_id: str, rider: Rider, from_index: int) -> int:
    """POSTs every captured sample from `from_index` on (all but the newest, which goes live); returns the index
    of the first sample still to send on the socket."""
    import urllib.request

    batch = rider.captured[from_index:-1]
    url = f"{base.replace('ws://', 'http://')}/v1/classes/{class_id}/participants/{rider.participant}/samples"
    request = urllib.request.Request(url, data=json.dumps(batch).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    rider.uploaded += answer["accepted"]
    rider.upload_answered_ms.append(now_ms())
    return from_index + len(batch)


async def publish_one(base: str, class_id: str, rider: Rider, dead_after: float, drain_s: float,
                      upload: bool = False) -> None:
    backoff = 0.25
    url = url_for(base, class_id, role="publisher", participant=rider.participant)
    capture = asyncio.create_task(rider.capture())
    deadline = None
    while True:
        if not rider.capturing and deadline is None:
            deadline = time.monotonic() + drain_s
        if deadline is not None and time.monotonic() > deadline:
            break
        try:
            async with connect(url, open_timeout=2, ping_interval=None, close_timeout=1) as ws:
                welcome = json.loads(await asyncio.wait_for(ws.recv(), dead_after))[0]
                assert welcome["t"] == "welcome", welcome
                rider.connects += 1
                rider.welcomed_ms.append(now_ms())
                backoff = 0.25
                last_seq = welcome.get("last_seq") or 0
                next_index = last_seq  # captured[i] has seq i + 1
                if upload and rider.connects > 1 and len(rider.captured) - next_index > 1:
                    # After an outage the offline buffer goes up by the POST endpoint, not the live socket.
                    next_index = await asyncio.get_running_loop().run_in_executor(
                        None, upload_backlog, base, class_id, rider, next_index)
                if rider.connects > 1:
                    rider.resent += max(0, min(len(rider.captured), rider.sent) - next_index)
                heard = time.monotonic()
                pong_for: int | None = None
                ping_id = 0
                while True:
                    # A send waits while the socket's buffers are full (a dead link): that is silence too.
                    while next_index < len(rider.captured):
                        await asyncio.wait_for(ws.send(json.dumps(rider.captured[next_index])), dead_after)
                        next_index += 1
                        rider.sent = max(rider.sent, next_index)
                    if not rider.capturing and pong_for is None:
                        ping_id += 1
                        pong_for = ping_id
                        await asyncio.wait_for(
                            ws.send(json.dumps({"t": "ping", "id": f"final{ping_id}", "ct": now_ms()})), dead_after)
                    rider.new_sample.clear()
                    ping_id += 1
                    await asyncio.wait_for(ws.send(json.dumps({"t": "ping", "id": ping_id, "ct": now_ms()})),
                                           dead_after)
                    # Read everything that has arrived (pongs, and acks after every commit): a backlog of old frames
                    # must not pass for signs of life.
                    wait = 0.5 if rider.capturing else 0.2
                    try:
                        while True:
                            frame = await asyncio.wait_for(ws.recv(), wait)
                            heard = time.monotonic()
                            wait = 0.01
                            for message in json.loads(frame):
                                if message.get("t") == "pong" and message.get("id") == f"final{pong_for}":
                                    rider.drained = True
                    except (asyncio.TimeoutError, TimeoutError):
                        pass
                    if rider.drained:
                        await capture
                        return
                    if time.monotonic() - heard > dead_after:
                        break  # silent: the link is dead; reconnect
                    if deadline is not None and time.monotonic() > deadline:
                        break
                    if rider.capturing:
                        try:
                            await asyncio.wait_for(rider.new_sample.wait(), 0.5)
                        except (asyncio.TimeoutError, TimeoutError):
                            pass
        except (OSError, ConnectionClosed, asyncio.TimeoutError, TimeoutError, json.JSONDecodeError, IndexError):
            pass
        await asyncio.sleep(backoff * (0.5 + random.random()))
        backoff = min(backoff * 2, 2.0)
    await capture


async def publish(args) -> dict:
    riders = [Rider(p, args.rate, args.duration, args.seed + i) for i, p in enumerate(args.riders.split(","))]
    print("ready", flush=True)
    await asyncio.gather(*(publish_one(args.url, args.class_id, r, args.dead_after, args.drain, args.upload)
                           for r in riders))
    return {r.participant: {"captured": len(r.captured), "sent": r.sent, "connects": r.connects,
                            "resent": r.resent, "uploaded": r.uploaded, "drained": r.drained,
                            "welcomed_ms": r.welcomed_ms, "upload_answered_ms": r.upload_answered_ms,
                            "ts": [s["ts"] for s in r.captured]} for r in riders}


async def view(args) -> dict:
    log = {"connections": [], "hr": [], "gaps": []}
    targets: dict[str, int] = {}
    accounted: dict[str, int] = {}
    until_set = asyncio.Event()
    done = asyncio.Event()
    ready = False

    def satisfied() -> bool:
        return until_set.is_set() and all(accounted.get(p, 0) >= seq for p, seq in targets.items())

    async def read_stdin() -> None:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            if line.startswith("until"):
                for item in line.split()[1].split(",") if len(line.split()) > 1 else []:
                    p, _, seq = item.partition("=")
                    targets[p] = int(seq)
                until_set.set()
                if satisfied():
                    done.set()
                return

    async def session() -> None:
        nonlocal ready
        backoff = 0.1
        url = url_for(args.url, args.class_id, role="viewer")
        while not done.is_set():
            try:
                async with connect(url, open_timeout=1, ping_interval=None, close_timeout=0.5) as ws:
                    index = len(log["connections"])
                    conn = {"opened_ms": now_ms(), "welcome": False, "snapshot": None, "close": None}
                    log["connections"].append(conn)
                    backoff = 0.1
                    heard = time.monotonic()
                    next_ping = 0.0
                    while not done.is_set():
                        if time.monotonic() >= next_ping:
                            await ws.send(json.dumps({"t": "ping", "id": 1, "ct": now_ms()}))
                            next_ping = time.monotonic() + 0.25
                        try:
                            frame = await asyncio.wait_for(ws.recv(), 0.25)
                        except (asyncio.TimeoutError, TimeoutError):
                            if time.monotonic() - heard > args.dead_after:
                                conn["close"] = "dead"
                                break
                            continue
                        heard = time.monotonic()
                        received = now_ms()
                        for m in json.loads(frame):
                            t = m.get("t")
                            if t == "welcome":
                                conn["welcome"] = True
                                if not ready:
                                    ready = True
                                    print("ready", flush=True)
                            elif t == "snapshot":
                                conn["snapshot"] = {e["p"]: e["last"]["seq"] for e in m["participants"]
                                                    if e.get("last")}
                            elif t == "hr":
                                log["hr"].append([m["p"], m["seq"], m["ts"], m["rts"], received, index])
                                accounted[m["p"]] = max(accounted.get(m["p"], 0), m["seq"])
                            elif t == "gap":
                                log["gaps"].append([m["p"], m["from_seq"], m["to_seq"], m["count"], m["reason"],
                                                    index, received])
                                accounted[m["p"]] = max(accounted.get(m["p"], 0), m["to_seq"])
                        if satisfied():
                            done.set()
            except ConnectionClosed as closed:
                if log["connections"]:
                    log["connections"][-1]["close"] = closed.rcvd.code if closed.rcvd else "abnormal"
            except (OSError, asyncio.TimeoutError, TimeoutError):
                pass
            if not done.is_set():
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, 1.0)

    async def give_up() -> None:
        await until_set.wait()
        try:
            await asyncio.wait_for(done.wait(), args.max_wait)
        except (asyncio.TimeoutError, TimeoutError):
            log["timed_out"] = True
            done.set()

    asyncio.create_task(read_stdin())
    await asyncio.gather(session(), give_up())
    return log


def main() -> int:
    parser = argparse.ArgumentParser(description="fault-scenario clients")
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("publish")
    p.add_argument("url")
    p.add_argument("--class-id", default="faults")
    p.add_argument("--riders", required=True)
    p.add_argument("--rate", type=float, default=1.0)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--dead-after", type=float, default=5.0)
    p.add_argument("--drain", type=float, default=30.0, help="longest time to send what is left after capture")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--upload", action="store_true", help="after an outage, POST the offline buffer (needs the record)")
    v = sub.add_parser("view")
    v.add_argument("url")
    v.add_argument("--class-id", default="faults")
    v.add_argument("--dead-after", type=float, default=5.0)
    v.add_argument("--max-wait", type=float, default=15.0)
    args = parser.parse_args()
    result = asyncio.run(publish(args) if args.mode == "publish" else view(args))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
