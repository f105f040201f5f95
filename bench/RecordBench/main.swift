// record-bench: the class record's commit path (SQLiteRecordStore on this machine's disk), issue 14's targets:
//   - commit throughput: samples/s committed when appends of 1, 10 or 100 samples come as fast as they can,
//     sync normal and full (≥ 50,000 samples/s);
//   - latency: append → completion at a paced 5,000 samples/s, one append per sample, measured from each sample's
//     due time (so a late pacer counts against the store, not for it), p50/p99 (p99 ≤ 50 ms).
// Prints a markdown section; `--markdown FILE` also writes it there (bench/report.py adds bench/results/record.md
// to RESULTS.md).
//
// Usage: swift run -c release --package-path bench record-bench [--samples N] [--seconds S] [--dir D]
//        [--markdown FILE] [--paced-only]
import Foundation
import HRProtocol
import HRRecord
import Synchronization

struct Options {
    var samples = 300_000
    var seconds = 10
    var directory = NSTemporaryDirectory()
    var markdown: String?
    var pacedOnly = false

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        while let flag = rest.popFirst() {
            if flag == "--paced-only" {
                pacedOnly = true
                continue
            }
            guard let value = rest.popFirst() else { Self.usage() }
            switch flag {
            case "--samples": samples = Self.number(value)
            case "--seconds": seconds = Self.number(value)
            case "--dir": directory = value
            case "--markdown": markdown = value
            default: Self.usage()
            }
        }
    }

    static func number(_ text: String) -> Int {
        guard let value = Int(text), value > 0 else { usage() }
        return value
    }

    static func usage() -> Never {
        FileHandle.standardError.write(Data(
            "usage: record-bench [--samples N] [--seconds S] [--dir D] [--markdown FILE] [--paced-only]\n".utf8))
        exit(2)
    }
}

/// 500 riders of one class, each with its own seqs, taking turns (keys spread over the table as in a class).
struct Riders {
    static let count = 500
    private var seqs = [UInt32](repeating: 0, count: count)
    private var next = 0

    mutating func samples(_ count: Int, rts: Int64) -> [RecordedSample] {
        let rider = next
        next = (next + 1) % Self.count
        return (0..<count).map { _ in
            seqs[rider] += 1
            let seq = seqs[rider]
            return RecordedSample(
                classID: "bench", participant: "rider-\(rider)",
                sample: Sample(seq: seq, ts: rts, bpm: 140, rr: [420, 431], contact: true), rts: rts, zone: 3)
        }
    }
}

func freshDirectory(_ options: Options) -> String {
    let path = (options.directory as NSString).appendingPathComponent("record-bench-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func name(_ sync: SyncMode) -> String { sync == .full ? "full" : "normal" }

struct ThroughputRow {
    var sync: SyncMode
    var perAppend: Int
    var samples: Int
    var perSecond: Double
    var commits: Int
}

/// Every append prepared first; the clock runs from the first append to the last completion.
func throughput(sync: SyncMode, perAppend: Int, options: Options) throws -> ThroughputRow {
    let directory = freshDirectory(options)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = try SQLiteRecordStore(dataDirectory: directory, sync: sync)
    var riders = Riders()
    let appends = (0..<(options.samples / perAppend)).map { _ in riders.samples(perAppend, rts: 1) }
    let done = DispatchSemaphore(value: 0)
    let start = ContinuousClock.now
    for (index, samples) in appends.enumerated() {
        let last = index == appends.count - 1
        store.append(samples) { _ in if last { done.signal() } }
    }
    done.wait()
    let elapsed = ContinuousClock.now - start
    let counters = store.counters
    store.close(timeoutMs: 1_000)
    let total = appends.count * perAppend
    precondition(counters.committedSamples == total, "committed \(counters.committedSamples) of \(total)")
    return ThroughputRow(
        sync: sync, perAppend: perAppend, samples: total, perSecond: Double(total) / seconds(elapsed),
        commits: counters.commitBatches)
}

struct LatencyRow {
    var sync: SyncMode
    var samples: Int
    var p50: Double
    var p99: Double
    var p999: Double
    var max: Double
    var commits: Int
}

/// 5,000 samples/s for `options.seconds`: every millisecond the 5 samples now due, one append each.
func pacedLatency(sync: SyncMode, options: Options) throws -> LatencyRow {
    let directory = freshDirectory(options)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = try SQLiteRecordStore(dataDirectory: directory, sync: sync)
    let rate = 5_000
    let total = rate * options.seconds
    let latencies = Mutex<[Duration]>([])
    latencies.withLock { $0.reserveCapacity(total) }
    var riders = Riders()
    let done = DispatchSemaphore(value: 0)
    let start = ContinuousClock.now
    for index in 0..<total {
        let due = start + .microseconds(index * 1_000_000 / rate)
        if due > .now { Thread.sleep(forTimeInterval: seconds(due - .now)) }
        let last = index == total - 1
        store.append(riders.samples(1, rts: 1)) { _ in
            let latency = ContinuousClock.now - due
            latencies.withLock { $0.append(latency) }
            if last { done.signal() }
        }
    }
    done.wait()
    let commits = store.counters.commitBatches
    store.close(timeoutMs: 1_000)
    let sorted = latencies.withLock { $0 }.sorted()
    func quantile(_ q: Double) -> Double {
        milliseconds(sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)])
    }
    return LatencyRow(
        sync: sync, samples: sorted.count, p50: quantile(0.5), p99: quantile(0.99), p999: quantile(0.999),
        max: milliseconds(sorted.last ?? .zero), commits: commits)
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func milliseconds(_ duration: Duration) -> Double { seconds(duration) * 1_000 }

func shell(_ command: String) -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let pipe = Pipe()
    process.standardOutput = pipe
    guard (try? process.run()) != nil else { return "" }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

func grouped(_ value: Double) -> String {
    let number = Int(value.rounded())
    let formatter = NumberFormatter()
    formatter.numberStyle = .decimal
    formatter.groupingSeparator = ","
    return formatter.string(from: NSNumber(value: number)) ?? "\(number)"
}

func fixed(_ value: Double) -> String { String(format: "%.2f", value) }

let options = Options(CommandLine.arguments)
let uptimeBefore = shell("uptime")
let began = ContinuousClock.now
var throughputRows: [ThroughputRow] = []
var latencyRows: [LatencyRow] = []
do {
    for sync in [SyncMode.normal, .full] {
        for perAppend in options.pacedOnly ? [] : [1, 10, 100] {
            throughputRows.append(try throughput(sync: sync, perAppend: perAppend, options: options))
            FileHandle.standardError.write(Data("throughput \(name(sync)) ×\(perAppend) done\n".utf8))
        }
        latencyRows.append(try pacedLatency(sync: sync, options: options))
        FileHandle.standardError.write(Data("paced \(name(sync)) done\n".utf8))
    }
} catch {
    FileHandle.standardError.write(Data("record-bench: \(error)\n".utf8))
    exit(1)
}

var lines: [String] = []
lines.append("## Record: the class record's commit path (issue 14)")
lines.append("")
lines.append("Written by `bench/RecordBench` (`record-bench`): SQLiteRecordStore in WAL mode on this machine's disk")
lines.append("(\(shell("df --output=fstype \(options.directory) | tail -1")) on "
    + "\(shell("df --output=source \(options.directory) | tail -1"))), one class of \(Riders.count) riders,")
lines.append("rr of 2 values per sample. Throughput: all appends made at once, clock from the first append to the")
lines.append("last completion. Latency: \(grouped(5_000)) samples/s for \(options.seconds) s, one append per sample,")
lines.append("from each sample's due time to its completion (the ack could go out then).")
lines.append("")
lines.append("- reproduce: `swift run -c release --package-path bench record-bench --markdown bench/results/record.md`"
    + " (took \(Int(seconds(ContinuousClock.now - began).rounded())) s)")
lines.append("- `uptime` before: `\(uptimeBefore)`")
lines.append("- commit \(shell("git rev-parse --short HEAD")); SQLite \(shell("pkg-config --modversion sqlite3"))")
lines.append("")
lines.append("| sync | samples per append | samples | committed/s | commits | samples per commit |")
lines.append("|---|---:|---:|---:|---:|---:|")
for row in throughputRows {
    lines.append("| \(name(row.sync)) | \(row.perAppend) | \(grouped(Double(row.samples))) | "
        + "\(grouped(row.perSecond)) | \(grouped(Double(row.commits))) | "
        + "\(grouped(Double(row.samples) / Double(max(1, row.commits)))) |")
}
lines.append("")
lines.append("| sync | paced rate | samples | p50 ms | p99 ms | p99.9 ms | max ms | commits |")
lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
for row in latencyRows {
    lines.append("| \(name(row.sync)) | 5,000/s | \(grouped(Double(row.samples))) | \(fixed(row.p50)) | "
        + "\(fixed(row.p99)) | \(fixed(row.p999)) | \(fixed(row.max)) | \(grouped(Double(row.commits))) |")
}
let slowest = throughputRows.map(\.perSecond).min() ?? 0
let worstP99 = latencyRows.map(\.p99).max() ?? .infinity
lines.append("")
lines.append("Targets: ≥ 50,000 samples/s committed: slowest row \(grouped(slowest))/s, "
    + (slowest >= 50_000 ? "**met**" : "**missed**") + "; p99 ≤ 50 ms at 5,000 samples/s: worst "
    + "\(fixed(worstP99)) ms, " + (worstP99 <= 50 ? "**met**" : "**missed**") + ".")
let text = lines.joined(separator: "\n") + "\n"
print(text, terminator: "")
if let path = options.markdown {
    try? text.write(toFile: path, atomically: true, encoding: .utf8)
}
