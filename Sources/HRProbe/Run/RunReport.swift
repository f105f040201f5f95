import Foundation
import HRProbeCore

/// The report of one run, as written by `--json` and summarised by `SummaryTable`. Lags in milliseconds.
struct RunReport: Codable {
    /// The run's settings.
    struct Config: Codable {
        var hub: String
        var role: String
        var classes: Int
        var publishersPerClass: Int
        var viewersPerClass: Int
        var participantsPerClass: Int
        var rateHz: Double
        /// The period between a rider's samples, ms (to the µs: 2.5 at 400 Hz, 333.333 at 3 Hz) and µs (to the
        /// ns). Due times follow k × period exactly, not a rounded interval added up.
        var intervalMs: Double
        var intervalUs: Double
        var durationS: Double
        var warmupS: Double
        var mode: String
        var binary: Bool
        var phase: String
        var seed: UInt64
        var slowViewers: Double
        var reconnectStorm: String?
        var ramp: String?
        var classIds: [String]
    }

    /// Percentiles of one lag distribution, ms. In JSON as the SLOs and tables spell them: `p99.9`, `p99.99`.
    struct Percentiles: Codable {
        var count: UInt64
        var p50: Double
        var p90: Double
        var p99: Double
        var p99_9: Double
        var p99_99: Double
        var max: Double
        var mean: Double
        /// Values below zero (clock error across machines), clamped to 0.
        var negative: Int

        init(_ d: LagDistribution) {
            func ms(_ us: Int64) -> Double { Double(us) / 1_000 }
            count = d.count
            p50 = ms(d.valueUs(at: 50))
            p90 = ms(d.valueUs(at: 90))
            p99 = ms(d.valueUs(at: 99))
            p99_9 = ms(d.valueUs(at: 99.9))
            p99_99 = ms(d.valueUs(at: 99.99))
            max = ms(d.maxUs)
            mean = (d.meanUs / 1_000 * 1_000).rounded() / 1_000
            negative = d.negative
        }

        enum CodingKeys: String, CodingKey {
            case count, p50, p90, p99, max, mean, negative
            case p99_9 = "p99.9"
            case p99_99 = "p99.99"
        }
    }

    /// All the lag distributions.
    struct Lags: Codable {
        var endToEnd: Percentiles
        var uncorrected: Percentiles
        var probeSend: Percentiles
        var fanOut: Percentiles
        var publisherToHub: Percentiles
        var hubToViewer: Percentiles
        var slowViewers: Percentiles
        /// Per-stream RFC 3550 interarrival jitter (one value per stream).
        var streamJitter: Percentiles
        /// `--device-model firmware`: a sample's write → the `ack` covering it.
        var ack: Percentiles
    }

    /// `--device-model firmware`: every rider's samples from capture to the record and to each viewer.
    struct Record: Codable {
        /// Over all riders: captured (whole run), in the record once, missing from it, recorded twice.
        var captured: Int
        var recorded: Int
        var missing: Int
        var recordDuplicates: Int
        /// Over all (viewer, rider) pairs, measured window: delivered live, named in gaps, neither, twice.
        var delivered: Int
        var gapped: Int
        var unaccounted: Int
        var twice: Int
        /// Left in the devices' buffers at the end (neither acked nor uploaded).
        var stillBuffered: Int
        /// Upload requests answered 200, and failed ones by why.
        var uploads: Int
        var uploadFailures: [String: Int]
        /// Silent links the devices dropped and reconnected.
        var deadLinks: Int
        /// Why the record could not be read, if it could not.
        var failure: String?
        /// Every mismatch, one line each (empty: the record is complete exactly once and every viewer is
        /// accounted for).
        var problems: [String]
        var riders: [RiderLedger]

        init(_ ledgers: [RiderLedger], result r: RunResult) {
            captured = ledgers.reduce(0) { $0 + $1.captured }
            recorded = ledgers.reduce(0) { $0 + $1.recorded }
            missing = ledgers.reduce(0) { $0 + $1.missing }
            recordDuplicates = ledgers.reduce(0) { $0 + $1.recordDuplicates }
            let shares = ledgers.flatMap(\.viewers)
            delivered = shares.reduce(0) { $0 + $1.delivered }
            gapped = shares.reduce(0) { $0 + $1.gapped }
            unaccounted = shares.reduce(0) { $0 + $1.unaccounted }
            twice = shares.reduce(0) { $0 + $1.twice }
            stillBuffered = ledgers.reduce(0) { $0 + $1.stillBuffered }
            uploads = r.uploads
            uploadFailures = r.uploadFailures
            deadLinks = r.deadLinks
            failure = r.recordFailure
            problems = (r.recordFailure.map { [$0] } ?? []) + ledgers.flatMap(\.problems)
            riders = ledgers
        }
    }

    /// The live leaderboard as the screens saw it (`board` messages).
    struct Boards: Codable {
        /// A sample's write → the first board on a screen that counts it (built after its ack arrived), ms.
        var stalenessMs: Percentiles
        /// A participant's own sample's write → the first board on its own connection after its ack (exact), ms.
        var ownStalenessMs: Percentiles
        /// Boards that arrived in the measured window, on how many screens, and their bytes (each message's JSON).
        var received: Int
        var screens: Int
        var bytes: Int
        /// Bytes per screen per second of the window.
        var bytesPerScreenPerS: Double
    }

    /// Delivery accounting.
    struct Delivery: Codable {
        var samplesSent: Int
        var samplesResent: Int
        var samplesReceived: Int
        var streams: StreamCounts
        var slowViewerStreams: StreamCounts
        var expected: Int
        var lost: Int
        var lossFraction: Double
        var unexplained: Int
        var foreignSamples: Int
        var malformedFrames: Int
        var unexplainedExamples: [UnexplainedExample]
    }

    /// A sample lost without a gap.
    struct UnexplainedExample: Codable {
        var classID: String
        var viewer: Int
        var participant: String
        var seq: UInt32
    }

    /// Connections.
    struct Connections: Codable {
        var planned: Int
        /// The local addresses connections were spread over, round robin (empty: the system's choice, one address).
        var sourceAddresses: [String]
        var openAtStart: Int
        /// How long connecting took (until every connection was welcomed, or the connect timeout), s.
        var connectS: Double
        var peakOpen: Int
        var connectFailures: Int
        var firstConnectError: String?
        var reconnects: Int
        var unexpectedCloses: [String: Int]
        var hubErrors: [String: Int]
    }

    /// The hub's clock against the probe's.
    struct Clock: Codable {
        var offsetMs: Double?
        var errorBoundMs: Double?
        var bestRttMs: Double?
        var pongs: Int
    }

    /// The probe's own resources.
    struct Probe: Codable {
        var wallS: Double
        var cpuUserS: Double
        var cpuSystemS: Double
        /// CPU time over wall time, % of one core.
        var cpuPercent: Double
        /// Time its threads were ready but waited for a CPU (other processes had them), over wall time, %.
        var cpuWaitPercent: Double
        var maxRssMib: Double

        /// CPU used plus CPU waited for, % of one core: near 100 the probe cannot keep its schedule, whether it
        /// is busy itself or starved by other processes.
        var demandPercent: Double { cpuPercent + cpuWaitPercent }
    }

    /// One class.
    struct ClassLine: Codable {
        var id: String
        var delivered: Int
        var lost: Int
        var unexplained: Int
        var p50: Double
        var p99: Double
        var max: Double
    }

    /// The measured window as the machine saw it (deliveries by arrival time, CPU between its start and end).
    struct Window: Codable {
        var seconds: Double
        /// Relayed samples that arrived at any viewer during the window, and per second.
        var delivered: Int
        var deliveredPerS: Double
        /// The probe's CPU over the window, % of one core, and the time it waited for a CPU, %.
        var probeCpuPercent: Double
        var probeCpuWaitPercent: Double
        /// The relay's process, with `--server-pid`.
        var server: Server?
    }

    /// The relay's process over the measured window (`/proc/PID/stat`, 10 ms ticks; `/proc/PID/status` VmRSS).
    struct Server: Codable {
        var pid: Int32
        var cpuS: Double
        /// % of one core.
        var cpuPercent: Double
        /// Time its threads waited for a CPU over the window, % (Linux schedstat; 0 when unknown).
        var cpuWaitPercent: Double
        /// Server CPU per delivered sample, µs.
        var cpuUsPerDelivery: Double?
        /// Resident memory before the probe's first connection and at the end of the window, MiB.
        var rssBeforeMib: Double?
        var rssEndMib: Double
        /// Connections open at the end of the window, and (end − before) / connections, KiB.
        var connectionsAtEnd: Int
        var rssPerConnectionKib: Double?
    }

    /// The gate.
    struct Gate: Codable {
        var objectives: [String]
        var breaches: [String]
        var passed: Bool
    }

    var config: Config
    var budgetMs: Int?
    var interrupted: Bool
    var drainTimedOut: Bool
    var failure: String?
    var lagMs: Lags
    /// Nil when no screen got a board (the record off, `board=0`, or a peer relay).
    var boards: Boards?
    var delivery: Delivery
    var connections: Connections
    var clock: Clock
    var probe: Probe
    var perClass: [ClassLine]
    var window: Window?
    var record: Record?
    var slo: Gate

    init(plan: RunPlan, result r: RunResult, objectives: ServiceLevelObjective?) {
        config = Config(
            hub: plan.hub.description, role: plan.role.rawValue, classes: plan.classIDs.count,
            publishersPerClass: plan.publishers, viewersPerClass: plan.viewers,
            participantsPerClass: plan.participants, rateHz: plan.rate,
            intervalMs: (plan.schedule.periodUs).rounded() / 1_000,
            intervalUs: (plan.schedule.periodUs * 1_000).rounded() / 1_000,
            durationS: Double(plan.durationUs) / 1e6, warmupS: Double(plan.warmupUs) / 1e6,
            mode: plan.mode.rawValue, binary: plan.binary, phase: plan.phase.rawValue, seed: plan.seed,
            slowViewers: plan.slowViewerFraction,
            reconnectStorm: plan.storm.map {
                "\(DurationText.describe(microseconds: $0.atUs)):\(ServiceLevelObjective.percent($0.fraction))"
            },
            ramp: plan.ramp.map { ramp in
                ramp.stages.map {
                    "\(DurationText.describe(microseconds: $0.durationUs)):\(ServiceLevelObjective.percent($0.level))"
                }.joined(separator: ",")
            },
            classIds: plan.classIDs)
        budgetMs = r.budgetMs
        interrupted = r.interrupted
        drainTimedOut = r.drainTimedOut
        failure = r.failure
        lagMs = Lags(
            endToEnd: Percentiles(r.lag), uncorrected: Percentiles(r.uncorrected), probeSend: Percentiles(r.send),
            fanOut: Percentiles(r.fanOut), publisherToHub: Percentiles(r.ingress),
            hubToViewer: Percentiles(r.egress), slowViewers: Percentiles(r.slowLag),
            streamJitter: Percentiles(r.streamJitter), ack: Percentiles(r.ack))
        if r.boardsReceived > 0 || r.boardStaleness.count > 0 {
            let screens = r.boardScreens.count
            let seconds = Double(plan.durationUs) / 1e6
            boards = Boards(
                stalenessMs: Percentiles(r.boardStaleness), ownStalenessMs: Percentiles(r.ownBoardStaleness),
                received: r.boardsReceived, screens: screens,
                bytes: r.boardBytes,
                bytesPerScreenPerS: screens > 0 && seconds > 0
                    ? (Double(r.boardBytes) / Double(screens) / seconds).rounded() : 0)
        }
        var all = r.counts
        all.add(r.slowCounts)
        delivery = Delivery(
            samplesSent: r.samplesSent, samplesResent: r.samplesResent, samplesReceived: r.samplesReceived,
            streams: r.counts, slowViewerStreams: r.slowCounts, expected: all.expected, lost: all.lost,
            lossFraction: r.lossFraction, unexplained: r.unexplained, foreignSamples: r.foreignSamples,
            malformedFrames: r.malformedFrames,
            unexplainedExamples: r.unexplainedExamples.map {
                UnexplainedExample(classID: $0.classID, viewer: $0.viewer, participant: $0.participant, seq: $0.seq)
            })
        connections = Connections(
            planned: plan.connectionCount, sourceAddresses: plan.sourceAddresses, openAtStart: r.openAtStart,
            connectS: (Double(r.connectUs) / 1e4).rounded() / 100, peakOpen: r.peakOpen,
            connectFailures: r.connectFailures, firstConnectError: r.firstConnectError, reconnects: r.reconnects,
            unexpectedCloses: r.unexpectedCloses, hubErrors: r.hubErrors)
        clock = Clock(
            offsetMs: r.clock.offsetUs.map { Double($0) / 1_000 },
            errorBoundMs: r.clock.errorBoundUs.map { Double($0) / 1_000 },
            bestRttMs: r.clock.best.map { Double($0.rttUs) / 1_000 }, pongs: r.clock.count)
        let cpuUs = r.cpu.userUs + r.cpu.systemUs
        probe = Probe(
            wallS: Double(r.wallUs) / 1e6, cpuUserS: Double(r.cpu.userUs) / 1e6,
            cpuSystemS: Double(r.cpu.systemUs) / 1e6,
            cpuPercent: r.wallUs > 0 ? (Double(cpuUs) / Double(r.wallUs) * 1_000).rounded() / 10 : 0,
            cpuWaitPercent: r.wallUs > 0 ? (Double(r.cpu.waitUs) / Double(r.wallUs) * 1_000).rounded() / 10 : 0,
            maxRssMib: (Double(r.cpu.maxRSSKiB) / 1_024 * 10).rounded() / 10)
        perClass = r.classes.map { c in
            ClassLine(
                id: c.id, delivered: c.counts.delivered, lost: c.counts.lost, unexplained: c.counts.unexplained,
                p50: Double(c.lag.valueUs(at: 50)) / 1_000, p99: Double(c.lag.valueUs(at: 99)) / 1_000,
                max: Double(c.lag.maxUs) / 1_000)
        }
        if let start = r.window.start, let end = r.window.end, end.us > start.us {
            let seconds = Double(end.us - start.us) / 1e6
            let delivered = end.received - start.received
            let probeUs = end.probe.userUs + end.probe.systemUs - start.probe.userUs - start.probe.systemUs
            var server: Server?
            if let pid = plan.serverPID, let a = start.server, let b = end.server {
                let cpuUs = b.cpuUs - a.cpuUs
                let before = r.window.serverBefore
                func round(_ v: Double, _ places: Double) -> Double { (v * places).rounded() / places }
                server = Server(
                    pid: pid, cpuS: Double(cpuUs) / 1e6, cpuPercent: round(Double(cpuUs) / (seconds * 1e4), 10),
                    cpuWaitPercent: round(Double(b.waitUs - a.waitUs) / (seconds * 1e4), 10),
                    cpuUsPerDelivery: delivered > 0 ? round(Double(cpuUs) / Double(delivered), 1_000) : nil,
                    rssBeforeMib: before.map { round(Double($0.rssKiB) / 1_024, 10) },
                    rssEndMib: round(Double(b.rssKiB) / 1_024, 10), connectionsAtEnd: r.window.openAtEnd,
                    rssPerConnectionKib: before.flatMap { before in
                        r.window.openAtEnd > 0
                            ? round(Double(b.rssKiB - before.rssKiB) / Double(r.window.openAtEnd), 100) : nil
                    })
            }
            window = Window(
                seconds: seconds, delivered: delivered, deliveredPerS: (Double(delivered) / seconds).rounded(),
                probeCpuPercent: (Double(probeUs) / (seconds * 1e4) * 10).rounded() / 10,
                probeCpuWaitPercent: (Double(end.probe.waitUs - start.probe.waitUs) / (seconds * 1e4) * 10).rounded()
                    / 10, server: server)
        }
        let breaches =
            objectives?.evaluate(
                ServiceLevelObjective.Measured(
                    percentileUs: { r.lag.valueUs(at: $0) }, maxUs: r.lag.maxUs, lossFraction: r.lossFraction,
                    unexplained: r.unexplained)) ?? []
        record = r.ledgers.map { Record($0, result: r) }
        // The record's promise is an objective of every firmware run: nothing unexplained, nothing twice.
        var named = breaches.map(\.description)
        if let record, !record.problems.isEmpty {
            let first = record.problems.prefix(3).joined(separator: "; ")
            named.append("record: \(record.problems.count) problems (\(first))")
        }
        slo = Gate(objectives: objectives?.objectives.map(\.text) ?? [], breaches: named, passed: named.isEmpty)
    }

    /// Pretty, key-sorted JSON with snake_case keys.
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }
}
