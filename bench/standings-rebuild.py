"""usage: python3 bench/standings-rebuild.py HRHUB_BINARY RIDERS SAMPLES_PER_RIDER

Measures how long a hub takes to build a class's standings from its record (GET …/summary of a class not in
memory: RecordIndex.forEachRecorded + ClassStandings.record for every row), after uploading riders × samples."""
import json, subprocess, sys, tempfile, time, urllib.request, re, shutil

binary, riders, per_rider = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = tempfile.mkdtemp()

def start():
    proc = subprocess.Popen([binary, "--port", "0", "--data-dir", data, "--log-level", "warning", "--class-linger-ms", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    return proc, re.search(r"ws://(\S+)", line).group(1)

def req(method, url, body=None):
    r = urllib.request.Request(url, data=body, method=method)
    with urllib.request.urlopen(r, timeout=600) as resp:
        return resp.read()

proc, host = start()
t0 = 1_790_000_000_000
for r in range(riders):
    for start_seq in range(1, per_rider + 1, 10_000):
        seqs = range(start_seq, min(per_rider, start_seq + 9_999) + 1)
        body = json.dumps([{"t": "hr", "seq": s, "ts": t0 + s * 1000, "bpm": 100 + (s // 30) % 90} for s in seqs]).encode()
        req("POST", f"http://{host}/v1/classes/big/participants/rider{r}/samples", body)
proc.terminate(); proc.wait()
proc, host = start()
times = []
for _ in range(3):
    began = time.perf_counter()
    body = req("GET", f"http://{host}/v1/classes/big/summary")
    times.append(time.perf_counter() - began)
rows = riders * per_rider
print(f"{rows} rows ({riders} riders × {per_rider}): summary from the record in "
      + ", ".join(f"{t*1000:.0f} ms" for t in times) + f"; best {min(times)/rows*1e6:.2f} µs per row; {len(body)} bytes")
proc.terminate(); proc.wait()
shutil.rmtree(data)
