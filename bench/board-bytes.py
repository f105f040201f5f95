"""Bytes of `board` messages one viewer of the demo class receives (default board=10), measured on the socket.

usage: python3 bench/board-bytes.py HRHUB_BINARY [RIDERS] [BOARDS]
Starts `hrhub --demo --demo-riders RIDERS` on a temporary data directory, reads BOARDS board messages as a viewer
and prints their mean size and the bytes per second after the first.
"""
import asyncio, json, re, shutil, subprocess, sys, tempfile, time

from websockets.asyncio.client import connect

binary = sys.argv[1]
riders = int(sys.argv[2]) if len(sys.argv) > 2 else 40
wanted = int(sys.argv[3]) if len(sys.argv) > 3 else 20
data = tempfile.mkdtemp()
hub = subprocess.Popen([binary, "--port", "0", "--demo", "--demo-riders", str(riders), "--data-dir", data,
                        "--log-level", "warning"], stdout=subprocess.PIPE, text=True)
base = re.search(r"(ws://\S+)", hub.stdout.readline()).group(1)


async def main():
    async with connect(f"{base}/v1/classes/demo/ws?role=viewer", subprotocols=["hrhub.v1.json"]) as ws:
        sizes, start = [], None
        while len(sizes) < wanted:
            for message in json.loads(await ws.recv()):
                if message["t"] == "board":
                    sizes.append(len(json.dumps(message, separators=(",", ":"))))
                    start = start or time.monotonic()
        span = time.monotonic() - start
        print(f"{len(sizes)} boards (board=10, {riders} riders) in {span:.1f} s: mean {sum(sizes) / len(sizes):.0f} "
              f"bytes, max {max(sizes)}; {sum(sizes[1:]) / span:.0f} B/s per viewer")

try:
    asyncio.run(main())
finally:
    hub.terminate()
    hub.wait()
    shutil.rmtree(data)
