#!/usr/bin/env python3
"""Derives tests/data/ppg-trace.csv, a real beat-to-beat heart-rate series, from a PPG recording.

The recording is the third example that ships with the `heartpy` package (`heartpy.load_exampledata(2)`, its
`data/data3.csv`: 68,476 photoplethysmogram readings at about 100 Hz with wall-clock timestamps, 11.4 minutes).
heartpy's peak detection (`heartpy.process`) finds the beats; every interval between two consecutive accepted
beats (neither rejected by heartpy, 300…2000 ms) becomes one row:

    t_ms,rr_ms,bpm        beat time from the start of the recording (ms), interval to the previous beat, 60000/rr

Run once, by hand (the CSV is committed; `pip install heartpy` first):

    python3 tools/make_trace.py [--out tests/data/ppg-trace.csv]

It prints how many beats it found, kept and dropped, and the bpm range. The result is deterministic.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "tests/data/ppg-trace.csv")
    args = parser.parse_args()
    try:
        import heartpy as hp
    except ImportError:
        print("make_trace: needs heartpy (pip install heartpy)", file=sys.stderr)
        return 1

    data, timer = hp.load_exampledata(2)
    fs = hp.get_samplerate_datetime(timer, timeformat="%Y-%m-%d %H:%M:%S.%f")
    working, measures = hp.process(data, fs, report_time=False)
    peaks = list(working["peaklist"])
    rejected = set(working["removed_beats"])
    rows: list[tuple[int, int, float]] = []
    for previous, peak in zip(peaks, peaks[1:]):
        if previous in rejected or peak in rejected:
            continue
        rr_ms = (peak - previous) * 1000.0 / fs
        if not 300 <= rr_ms <= 2000:
            continue
        rows.append((round(peak * 1000.0 / fs), round(rr_ms), round(60000.0 / rr_ms, 1)))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as out:
        out.write("t_ms,rr_ms,bpm\n")
        for t_ms, rr_ms, bpm in rows:
            out.write(f"{t_ms},{rr_ms},{bpm}\n")
    bpms = [row[2] for row in rows]
    print(
        f"make_trace: {len(data)} readings at {fs:.2f} Hz ({len(data) / fs / 60:.1f} min), {len(peaks)} peaks, "
        f"{len(rejected)} rejected by heartpy, {len(rows)} intervals kept, bpm {min(bpms)}…{max(bpms)} "
        f"(heartpy's mean {measures['bpm']:.1f}) -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
