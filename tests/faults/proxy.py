"""A userspace TCP proxy that delays what passes through it: delay and jitter without netem.

    python3 tests/faults/proxy.py --listen 127.0.0.1:0 --target 10.200.0.1:8080 --profile bursty --seed 1

prints `proxy listening on HOST:PORT` first, then forwards every connection to the target. Each chunk read from the
client is held for a delay drawn for it, and chunks keep their order (a chunk never overtakes the one before it,
as on a TCP connection: a late chunk holds back those behind it). What the target sends back passes undelayed
(`--both` delays it too).

Delay profiles (each connection draws from its own generator, seeded by `--seed` and the connection's number, so a
run is repeatable):

- `bursty` (default): a two-state (Gilbert–Elliott) chain over chunks. In the good state a delay of 50–90 ms; with
  probability 0.05 per chunk it turns bad (150–400 ms) and with probability 0.5 per chunk back to good. About one
  chunk in eleven is in a burst: delays median ~70 ms, p99 ~370 ms: Wi-Fi that stalls now and then.
- `uniform:LO-HI`: every chunk LO–HI ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time


class DelayProfile:
    """Draws one chunk's delay in ms; `next()` advances the chain."""

    def __init__(self, spec: str, seed: int):
        self.rng = random.Random(seed)
        self.bad = False
        if spec == "bursty":
            self.kind = "bursty"
        elif spec.startswith("uniform:"):
            low, _, high = spec.removeprefix("uniform:").partition("-")
            self.kind, self.low, self.high = "uniform", float(low), float(high or low)
            if not 0 <= self.low <= self.high:
                raise ValueError(f"uniform delay needs 0 <= LO <= HI, got {spec!r}")
        else:
            raise ValueError(f"unknown delay profile {spec!r} (bursty or uniform:LO-HI)")

    def next(self) -> float:
        if self.kind == "uniform":
            return self.rng.uniform(self.low, self.high)
        if self.bad:
            self.bad = self.rng.random() >= 0.5
        else:
            self.bad = self.rng.random() < 0.05
        return self.rng.uniform(150, 400) if self.bad else self.rng.uniform(50, 90)


async def _pump(reader, writer, profile: DelayProfile | None) -> None:
    """Copies reader to writer; with a profile each chunk waits for its own release time, in order."""
    queue: asyncio.Queue = asyncio.Queue()

    async def release() -> None:
        while True:
            item = await queue.get()
            if item is None:
                break
            due, data = item
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(release())
    last_due = 0.0
    try:
        while data := await reader.read(65536):
            if sender.done():
                break
            due = time.monotonic() + (profile.next() / 1000 if profile else 0)
            last_due = max(last_due, due)
            queue.put_nowait((last_due, data))
    except (ConnectionError, OSError):
        pass
    finally:
        queue.put_nowait(None)
        try:
            await sender
        except (ConnectionError, OSError):
            pass
        try:
            writer.close()
        except (ConnectionError, OSError):
            pass


async def serve(listen: str, target: str, spec: str, seed: int, both: bool) -> None:
    host, _, port = listen.rpartition(":")
    target_host, _, target_port = target.rpartition(":")
    DelayProfile(spec, seed)  # a bad spec fails now, not at the first connection
    connections = 0

    async def handle(client_reader, client_writer) -> None:
        nonlocal connections
        connections += 1
        number = connections
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(target_host, int(target_port))
        except OSError:
            client_writer.close()
            return
        up = DelayProfile(spec, seed * 1000 + number)
        down = DelayProfile(spec, seed * 1000 + number + 500) if both else None
        await asyncio.gather(_pump(client_reader, upstream_writer, up), _pump(upstream_reader, client_writer, down))

    server = await asyncio.start_server(handle, host, int(port))
    bound = server.sockets[0].getsockname()
    print(f"proxy listening on {bound[0]}:{bound[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description="TCP proxy with delay and jitter")
    parser.add_argument("--listen", required=True, help="HOST:PORT (port 0: any free one)")
    parser.add_argument("--target", required=True, help="HOST:PORT")
    parser.add_argument("--profile", default="bursty", help="bursty or uniform:LO-HI (ms)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--both", action="store_true", help="delay both directions")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.listen, args.target, args.profile, args.seed, args.both))
    except ValueError as error:
        print(f"proxy: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
