#!/usr/bin/env python3
"""bench/report.py: turns one bench/run into RESULTS.md (and answers bench/run's small questions).

  report.py --line RUNS                 one line about the last row of RUNS (bench/run's progress log)
  report.py --holds RUNS [--all-open]   exit 0 when the last row held (ran, p99 <= 50 ms, loss <= 1 %
                                        [, every planned connection open])
  report.py --results RUNS --command C --elapsed S --uptime-before U --uptime-after U --relative-to DIR
                                        RESULTS.md on stdout

RUNS is bench/run's runs.jsonl: one line per row (workload, target, step, the probe's exit status, the server's
CPU over the whole probe run from /proc/PID/stat), next to each row's probe report <name>.json. Every number in
RESULTS.md comes from those files; nothing is typed in by hand.
"""
import argparse
import json
import os
import platform
import subprocess
import sys

HOLD_P99_MS = 50.0
HOLD_LOSS = 0.01
TARGET_ORDER = ["hrhub", "floor", "nats", "ws-broadcast", "mqtt"]
TARGET_NAMES = {
    "hrhub": "hrhub",
    "floor": "floor (bare lws)",
    "nats": "nats-server",
    "ws-broadcast": "Node ws",
    "mqtt": "mosquitto",
}


def load_rows(path):
    rows = []
    directory = os.path.dirname(path)
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            report_path = os.path.join(directory, row["name"] + ".json")
            row["report"] = None
            if os.path.exists(report_path) and os.path.getsize(report_path) > 0:
                with open(report_path) as r:
                    row["report"] = json.load(r)
            rows.append(row)
    return rows


def metrics(row):
    """The figures of one row, or None when the probe wrote no report."""
    r = row.get("report")
    if not r:
        return None
    lag = r["lag_ms"]["end_to_end"]
    window = r.get("window") or {}
    server = window.get("server") or {}
    d = r["delivery"]
    c = r["connections"]
    return {
        "delivered_s": window.get("delivered_per_s"),
        "server_cpu_pct": server.get("cpu_percent"),
        "us_per_delivery": server.get("cpu_us_per_delivery"),
        "p50": lag["p50"] if lag["count"] else None,
        "p99": lag["p99"] if lag["count"] else None,
        # "p999" is how reports before the percentile rename spelled p99.9 (bench/results keeps some).
        "p99.9": lag.get("p99.9", lag.get("p999")) if lag["count"] else None,
        "max": lag["max"] if lag["count"] else None,
        "hub_p99": r["lag_ms"]["hub_to_viewer"]["p99"] if r["lag_ms"]["hub_to_viewer"]["count"] else None,
        "loss": d["loss_fraction"],
        "lost": d["lost"],
        "expected": d["expected"],
        "unexplained": d["unexplained"],
        "probe_cpu_pct": window.get("probe_cpu_percent"),
        "rss_mib": server.get("rss_end_mib"),
        "rss_before_mib": server.get("rss_before_mib"),
        "rss_per_conn_kib": server.get("rss_per_connection_kib"),
        "planned": c["planned"],
        "open": c["open_at_start"],
        "open_end": server.get("connections_at_end"),
        "offered_s": r["config"]["rate_hz"] * r["config"]["publishers_per_class"] * r["config"]["classes"],
        "viewers": r["config"]["viewers_per_class"],
    }


def holds(row, all_open=False):
    m = metrics(row)
    if row["rc"] >= 2 or m is None or m["p99"] is None:
        return False
    if m["p99"] > HOLD_P99_MS or m["loss"] > HOLD_LOSS:
        return False
    if all_open and m["open"] < m["planned"]:
        return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# Formatting.


def num(v, digits=None):
    if v is None:
        return "–"
    if digits is not None:
        return f"{v:,.{digits}f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def pct(v):
    if v is None:
        return "–"
    if v == 0:
        return "0"
    if v < 0.0001:
        return f"{v * 100:.4f}%"
    return f"{v * 100:.2f}%"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}×"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


def line_for(row):
    m = metrics(row)
    name = row["name"]
    if m is None:
        return f"{name}: no report (probe exit {row['rc']})"
    return (
        f"{name}: delivered {num(m['delivered_s'])}/s · server {num(m['server_cpu_pct'])}% cpu, "
        f"{num(m['us_per_delivery'], 3)} µs/delivery · p50 {num(m['p50'])} p99 {num(m['p99'])} max {num(m['max'])} ms"
        f" · loss {pct(m['loss'])} · probe {num(m['probe_cpu_pct'])}% · open {m['open']}/{m['planned']}"
        f" · exit {row['rc']}"
    )


# ---------------------------------------------------------------------------------------------------------------
# RESULTS.md


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def machine():
    model = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    try:
        with open("/usr/share/nodejs/ws/package.json") as f:
            ws_version = json.load(f)["version"]
    except Exception:
        ws_version = "?"
    dirty = sh("git status --porcelain -- Sources bench/floor bench/peers bench/run bench/report.py")
    return [
        f"- CPU: {sh('nproc')} × {model} (`nproc`, /proc/cpuinfo); memory {mem}; kernel {platform.release()}",
        f"- {sh('swift --version 2>&1 | head -1')}; libwebsockets {sh('pkg-config --modversion libwebsockets')}",
        f"- peers: nats-server {sh('nats-server --version').replace('nats-server: ', '')}, "
        f"{sh('/usr/sbin/mosquitto -h 2>&1 | head -1')}, Node {sh('node --version')} with ws {ws_version}",
        f"- commit {sh('git rev-parse --short HEAD')}{' (with uncommitted changes)' if dirty else ''}",
        f"- open files per process: hard limit {fd_hard_limit():,} (`ulimit -Hn`), the ceiling of the connections ladder",
    ]


def fd_hard_limit():
    import resource
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def by(rows, workload, step=None):
    out = {}
    for row in rows:
        if row["workload"] == workload and (step is None or row["step"] == step):
            out[row["target"]] = row
    return out


def ordered(targets):
    return [t for t in TARGET_ORDER if t in targets] + sorted(t for t in targets if t not in TARGET_ORDER)


def svg_link(row, rel):
    path = os.path.join(rel, row["name"] + ".svg")
    return f"[plot]({path})" if row.get("report") else "–"


def fanout_table(rows_by_target, rel, show_hub_lag=False):
    hub = metrics(rows_by_target["hrhub"]) if "hrhub" in rows_by_target else None
    header = ["target", "delivered/s", "vs hub", "server CPU", "µs/delivery", "vs hub", "p50 ms", "p99 ms",
              "p99.9 ms", "max ms", "loss", "unexplained", "probe CPU", "server RSS", "plot"]
    out = []
    for t in ordered(rows_by_target):
        row = rows_by_target[t]
        m = metrics(row)
        if m is None:
            out.append([TARGET_NAMES.get(t, t), f"failed (exit {row['rc']})"] + ["–"] * (len(header) - 2))
            continue
        out.append([
            TARGET_NAMES.get(t, t),
            num(m["delivered_s"]),
            ratio(m["delivered_s"], hub and hub["delivered_s"]),
            f"{num(m['server_cpu_pct'])}%",
            num(m["us_per_delivery"], 3),
            ratio(m["us_per_delivery"], hub and hub["us_per_delivery"]),
            num(m["p50"]), num(m["p99"]), num(m["p99.9"]), num(m["max"]),
            pct(m["loss"]), str(m["unexplained"]),
            f"{num(m['probe_cpu_pct'])}%",
            f"{num(m['rss_mib'])} MiB",
            svg_link(row, rel),
        ])
    text = table(header, out)
    if show_hub_lag and hub and hub["hub_p99"] is not None:
        text += f"\n\nhrhub's own share (hub receive `rts` → delivered): p99 {num(hub['hub_p99'])} ms."
    return text


def results(args):
    rows = load_rows(args.results)
    rel = os.path.relpath(os.path.dirname(args.results), args.relative_to)
    loads = sorted({r.get("load", "") for r in rows if r.get("load")})
    out = []
    w = out.append
    w("# bench/RESULTS.md: hrhub against its peers and its floor, end to end")
    w("")
    w("Written by `bench/report.py` from the probe reports of one `bench/run`; every number below is what that run")
    w("printed. How to read it and the method: [docs/BENCHMARKS.md](../docs/BENCHMARKS.md).")
    w("")
    w(f"- reproduce: `{args.command}` (took {args.elapsed} s)")
    w(f"- `uptime` before: `{args.uptime_before.strip()}`")
    w(f"- `uptime` after: `{args.uptime_after.strip()}`")
    for line in machine():
        w(line)
    if args.hub_flags:
        w(f"- hrhub ran as `hrhub {' '.join(args.hub_flags.split())}`: the relay with its per-rider jitter buffer")
        w("  off, as the peers have none (the buffer delays samples on purpose when arrivals jitter; see")
        w("  docs/BENCHMARKS.md); its frame rate (100 frames/s per connection) is on, as in production")
    w("- the server and the probe share the 2 cores (loopback); the machine is shared with other work, so the")
    w("  load average at each row's start is in runs.jsonl")
    w("")
    w("Columns: delivered/s = relayed samples that reached a viewer per second of the measured window;")
    w("server CPU = the relay's utime+stime over that window (% of one core, /proc/PID/stat);")
    w("µs/delivery = server CPU / deliveries; lag = due time → delivered (coordinated-omission corrected,")
    w("HdrHistogram); loss = (gaps + unexplained + not arrived) / owed; probe CPU = the probe over the window.")
    w("\"vs hub\" divides the row's figure by hrhub's in the same table (run).")
    w("")

    studio = by(rows, "studio")
    if studio:
        r0 = next((r for r in studio.values() if r.get("report")), None)
        cfg = r0["report"]["config"] if r0 else {}
        w(f"## studio: {cfg.get('classes', '?')} classes × {cfg.get('participants_per_class', '?')} rider apps "
          f"(participant role: publish and view) at {cfg.get('rate_hz', '?')} Hz")
        w("")
        w(fanout_table(studio, rel, show_hub_lag=True))
        w("")
        w("The broadcast relays (floor, Node ws) do not echo a rider's own samples back to it; the others do, so")
        w("they deliver 1/riders more per sample.")
        w("")

    live = by(rows, "live")
    if live:
        r0 = next((r for r in live.values() if r.get("report")), None)
        cfg = r0["report"]["config"] if r0 else {}
        w(f"## live: 1 class, {cfg.get('publishers_per_class', '?')} publishers, "
          f"{cfg.get('viewers_per_class', '?')} screens, {cfg.get('rate_hz', '?')} Hz")
        w("")
        w(fanout_table(live, rel, show_hub_lag=True))
        w("")

    paced_steps = sorted({r["step"] for r in rows if r["workload"] == "paced"}, key=lambda s: int(s))
    for step in paced_steps:
        group = by(rows, "paced", step)
        r0 = next((r for r in group.values() if r.get("report")), None)
        viewers = r0["report"]["config"]["viewers_per_class"] if r0 else "?"
        w(f"## paced: 1 publisher → {viewers} viewers at {step} samples/s "
          f"({int(step) * (viewers if isinstance(viewers, int) else 0):,} deliveries/s offered)")
        w("")
        w(fanout_table(group, rel))
        w("")

    sat_rows = [r for r in rows if r["workload"] == "saturation"]
    best = {}
    if sat_rows:
        w(f"## saturation: 1 class → 1,000 viewers, offered rate raised until p99 > {HOLD_P99_MS:.0f} ms "
          f"or loss > {HOLD_LOSS * 100:.0f} %")
        w("")
        w("Each step: publishers × samples/s into one class of 1,000 viewers. A step *holds* when the run")
        w(f"completed, p99 ≤ {HOLD_P99_MS:.0f} ms and loss ≤ {HOLD_LOSS * 100:.0f} %; a target's ladder stops at its first step "
          "that does not hold.")
        w("")
        header = ["target", "offered samples/s", "delivered/s", "server CPU", "µs/delivery", "p50 ms", "p99 ms",
                  "max ms", "loss", "probe CPU", "holds", "plot"]
        body = []
        for t in ordered({r["target"] for r in sat_rows}):
            for row in [r for r in sat_rows if r["target"] == t]:
                m = metrics(row)
                ok = holds(row)
                if m is None:
                    body.append([TARGET_NAMES.get(t, t), row["step"], f"failed (exit {row['rc']})"] +
                                ["–"] * 8 + ["no", "–"])
                    continue
                if ok and (t not in best or m["delivered_s"] > metrics(best[t])["delivered_s"]):
                    best[t] = row
                body.append([TARGET_NAMES.get(t, t), row["step"], num(m["delivered_s"]),
                             f"{num(m['server_cpu_pct'])}%", num(m["us_per_delivery"], 3), num(m["p50"]),
                             num(m["p99"]), num(m["max"]), pct(m["loss"]), f"{num(m['probe_cpu_pct'])}%",
                             "yes" if ok else "**no**", svg_link(row, rel)])
        w(table(header, body))
        w("")
        w("Highest delivered/s that held, per target (ratios against hrhub's best step):")
        w("")
        hub = metrics(best["hrhub"]) if "hrhub" in best else None
        body = []
        for t in ordered({r["target"] for r in sat_rows}):
            if t not in best:
                body.append([TARGET_NAMES.get(t, t), "no step held"] + ["–"] * 5)
                continue
            m = metrics(best[t])
            body.append([TARGET_NAMES.get(t, t), num(m["delivered_s"]), ratio(m["delivered_s"], hub and hub["delivered_s"]),
                         num(m["us_per_delivery"], 3), ratio(m["us_per_delivery"], hub and hub["us_per_delivery"]),
                         num(m["p99"]), f"{num(m['probe_cpu_pct'])}%"])
        w(table(["target", "delivered/s", "vs hub", "µs/delivery", "vs hub", "p99 ms", "probe CPU"], body))
        w("")

    conn_rows = [r for r in rows if r["workload"] == "connections"]
    if conn_rows:
        w("## connections: publishers at 1 Hz (99 per class + 1 screen), hub memory per connection")
        w("")
        header = ["target", "planned", "open at start", "open at end", "RSS before MiB", "RSS end MiB",
                  "KiB/connection", "delivered/s", "server CPU", "p99 ms", "loss", "probe CPU", "holds"]
        body = []
        for row in conn_rows:
            m = metrics(row)
            if m is None:
                body.append([TARGET_NAMES.get(row["target"], row["target"]), row["step"], f"failed (exit {row['rc']})"]
                            + ["–"] * 10)
                continue
            body.append([TARGET_NAMES.get(row["target"], row["target"]), f"{m['planned']:,}", f"{m['open']:,}",
                         f"{m['open_end'] or 0:,}", num(m["rss_before_mib"]), num(m["rss_mib"]),
                         num(m["rss_per_conn_kib"]), num(m["delivered_s"]), f"{num(m['server_cpu_pct'])}%",
                         num(m["p99"]), pct(m["loss"]), f"{num(m['probe_cpu_pct'])}%",
                         "yes" if holds(row, all_open=True) else "**no**"])
        w(table(header, body))
        w("")

    # Targets (issue 7, item 5).
    w("## targets (issue 7, item 5)")
    w("")
    body = []

    def verdict(ok):
        return "met" if ok else "**missed**"

    hub_best = metrics(best["hrhub"]) if "hrhub" in best else None
    nats_best = metrics(best["nats"]) if "nats" in best else None
    if sat_rows:
        v = hub_best and hub_best["us_per_delivery"]
        body.append(["server CPU per delivered sample at saturation ≤ 0.16 µs",
                     f"{num(v, 3)} µs at {num(hub_best and hub_best['delivered_s'])}/s" if v else "no step held",
                     verdict(v is not None and v <= 0.16),
                     f"{v / 0.16:.1f}× the target" if v else "–"])
        hv = hub_best and hub_best["delivered_s"]
        nv = nats_best and nats_best["delivered_s"]
        body.append(["delivered/s at saturation ≥ nats-server's (same run)",
                     f"hrhub {num(hv)}/s, nats-server {num(nv)}/s",
                     verdict(hv is not None and (nv is None or hv >= nv)) if hv else "**missed**",
                     ratio(hv, nv) + " of nats-server" if hv and nv else "–"])
    for step, limit in (("200", 3.0), ("400", 10.0)):
        row = by(rows, "paced", step).get("hrhub")
        if not row:
            continue
        m = metrics(row)
        if m is None:
            body.append([f"1 → 1,000 paced at {step}/s: p99 ≤ {limit:g} ms", "run failed", "**missed**", "–"])
            continue
        offered = int(step) * m["viewers"]
        keeps_up = m["loss"] <= 0.001 and m["delivered_s"] >= 0.98 * offered
        ok = m["p99"] is not None and m["p99"] <= limit and keeps_up
        body.append([f"1 → 1,000 paced at {step}/s: keeps up, p99 ≤ {limit:g} ms",
                     f"p99 {num(m['p99'])} ms, {num(m['delivered_s'])}/s of {offered:,}, loss {pct(m['loss'])}",
                     verdict(ok), f"p99 {m['p99'] / limit:.1f}× the limit" if m["p99"] else "–"])
    row = studio.get("hrhub") if studio else None
    if row and metrics(row):
        m = metrics(row)
        v = m["hub_p99"]
        body.append(["studio: p99 hub-added lag (rts → delivered) ≤ 2 ms", f"{num(v)} ms (end to end {num(m['p99'])} ms)",
                     verdict(v is not None and v <= 2.0), f"{v / 2.0:.1f}× the limit" if v else "–"])
    if conn_rows:
        held = [r for r in conn_rows if r["target"] == "hrhub" and holds(r, all_open=True)]
        top = max(held, key=lambda r: metrics(r)["open"]) if held else None
        if top:
            m = metrics(top)
            kib = m["rss_per_conn_kib"]
            ok = m["open"] >= 100_000 and kib is not None and kib <= 4.0
            limit = fd_hard_limit()
            blocked = f" (this machine allows {limit:,} open files per process)" if limit < 100_000 else ""
            body.append(["100,000 connections at ≤ 4 KiB of hub memory each",
                         f"{m['open']:,} connections held, {num(kib)} KiB each", verdict(ok),
                         f"{m['open'] / 100_000:.0%} of the count{blocked}; memory {kib / 4.0:.2f}× the limit"
                         if kib else "–"])
        else:
            body.append(["100,000 connections at ≤ 4 KiB of hub memory each", "no step held", "**missed**", "–"])
    w(table(["target", "this run", "verdict", "by how much"], body))
    w("")
    w(f"Row load averages (1/5/15 min at each row's start) ranged {loads[0] if loads else '?'} … "
      f"{loads[-1] if loads else '?'}.")
    # Sections from their own commands, not part of bench/run: the record's (record-bench, bench/record-ack) and
    # standings' (bench/micro, written by hand), as last written.
    for name in ("record.md", "record-ack.md", "standings.md"):
        section = os.path.join(os.path.dirname(args.results), name)
        if os.path.exists(section):
            w("")
            with open(section) as f:
                w(f.read().rstrip())
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--line")
    p.add_argument("--holds")
    p.add_argument("--all-open", action="store_true")
    p.add_argument("--results")
    p.add_argument("--command", default="bench/run")
    p.add_argument("--elapsed", default="?")
    p.add_argument("--uptime-before", default="")
    p.add_argument("--uptime-after", default="")
    p.add_argument("--relative-to", default=".")
    p.add_argument("--hub-flags", default="")
    a = p.parse_args()
    if a.line:
        print(line_for(load_rows(a.line)[-1]))
    elif a.holds:
        sys.exit(0 if holds(load_rows(a.holds)[-1], a.all_open) else 1)
    elif a.results:
        sys.stdout.write(results(a))
    else:
        p.print_help()
        sys.exit(2)


if __name__ == "__main__":
    main()
