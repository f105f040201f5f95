import ArgumentParser
import Foundation
import HRProtocol
import HRSimulation
import LWSTransport
import Logging

/// `hrprobe run URL`: load a hub with simulated classes and measure the end-to-end lag distribution, loss,
/// duplicates, order and jitter, against an SLO.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Load a hub with simulated classes and measure lag, loss, order and jitter against an SLO.",
        discussion: """
            URL is the hub, ws://HOST:PORT (a path is ignored). Each class gets --publishers straps, --viewers \
            screens and --participants rider apps; every publishing rider sends --rate samples per second on a \
            fixed schedule (open loop: a stalled hub or probe cannot hide lag). Lag is delivery time minus the \
            time the sample was due. See docs/HRPROBE.md.

            Exit status: 0 when the run passed its --slo (or had none); 1 when an objective was breached (each \
            breach is named); 2 when the run itself failed (bad flags, cannot connect).
            """
    )

    /// The hub.
    @Argument(help: "The hub, e.g. ws://127.0.0.1:8080/.")
    var url: String

    @Option(help: "Number of classes.")
    var classes = 1

    @Option(help: "Publishers (straps, watches, bikes) per class.")
    var publishers = 10

    @Option(help: "Viewers (class screens, coaches) per class.")
    var viewers = 1

    @Option(help: "Participants (rider apps that publish and view) per class.")
    var participants = 0

    @Option(help: "Samples per second per publishing rider, up to 10000 (due times to the µs; 400 sends 400/s).")
    var rate = 1.0

    @Option(help: "Length of the measured window, e.g. 30s, 2m.")
    var duration = "30s"

    @Option(help: "Warm-up before the measured window (sent and received, not counted).")
    var warmup = "5s"

    @Option(help: "Viewer delivery mode: all or latest.")
    var mode = "all"

    @Flag(help: "Use the binary subprotocol (hrhub.v1.bin) for samples.")
    var binary = false

    @Option(help: "random: publishers spread over the period; aligned: all on the same tick (microbursts).")
    var phase = "random"

    @Option(help: "Seed for the heart-rate traces and every scenario choice.")
    var seed: UInt64 = 1

    @Option(
        help: ArgumentHelp(
            "Replay this recorded beat-to-beat heart-rate trace instead of the rider model (CSV with t_ms,rr_ms).",
            discussion: "E.g. tests/data/ppg-trace.csv, a real PPG recording. Each rider starts at its own point "
                + "of the trace (derived from --seed), so a class is not in lockstep."))
    var trace: String?

    @Option(name: .customLong("slow-viewers"), help: "Share of viewers that read slowly (0…1 or N%).")
    var slowViewers = "0"

    @Option(
        name: .customLong("reconnect-storm"),
        help: "AT:FRACTION: at AT into the measured window that share of publishers drop and reconnect.")
    var reconnectStorm: String?

    @Option(help: "Ramp stages DURATION:LEVEL,… e.g. 10s:25%,20s:100% (publishers start as the level rises).")
    var ramp: String?

    @Option(help: "both, or publish / view in separate processes (lag via the hub's clock, with an error bound).")
    var role = "both"

    @Option(
        name: .customLong("run-id"),
        help: "Prefix of the class ids (default: random for --role both; required for publish/view).")
    var runID: String?

    @Option(
        name: .customLong("source-addresses"),
        help: ArgumentHelp(
            "Local addresses to spread connections over, comma-separated.",
            discussion: "Default: to a loopback hub, 127.0.0.1, .2, … when one address would run short of "
                + "ephemeral ports (7/8 of ip_local_port_range each); otherwise the system's choice."))
    var sourceAddresses: String?

    @Option(
        name: .customLong("device-model"),
        help: ArgumentHelp(
            "firmware: riders buffer every sample until acked or uploaded, and the run checks the class record.",
            discussion: "Needs a hub with its record on. See docs/HRPROBE.md, \"The device model\"."))
    var deviceModel: String?

    @Option(help: "Longest wait for the last deliveries after sending stops (default: budget + 700ms).")
    var drain: String?

    @Option(
        help: ArgumentHelp(
            "What URL is: hrhub, or a peer relay carrying the same samples: nats, ws-broadcast or mqtt.",
            discussion: "Peers (bench/) need no hub features: see PeerTarget.swift for each one's wire."))
    var target = "hrhub"

    @Option(
        name: .customLong("server-pid"),
        help: "The relay's process id: report its CPU time and memory over the measured window (Linux /proc).")
    var serverPID: Int32?

    @Option(help: "Ranks the viewing connections' `board` messages list, 0 to 100 (0: no boards; default: the hub's, 10).")
    var board: Int?

    @Option(
        help: ArgumentHelp(
            "Event-loop threads to spread the classes over, each with its own connections (default 1).",
            discussion: "Each thread runs a share of whole classes, so a class's riders and screens stay on one "
                + "loop; the shares start sending together and their results are added up. A busy loop sends late "
                + "(the probe's send lag): more threads keep each loop's bursts short. Not with --ramp, "
                + "--reconnect-storm, --device-model or --role publish/view."))
    var threads = 1

    @Option(name: .customLong("json"), help: "Write the full report as JSON to this file.")
    var jsonFile: String?

    @Option(name: .customLong("hgrm"), help: "Write the lag percentile distribution (HdrHistogram text) here.")
    var hgrmFile: String?

    @Option(name: .customLong("svg"), help: "Write the percentile-spectrum plot (SVG) here.")
    var svgFile: String?

    @Option(help: "Objectives, e.g. p99=250ms,p99.9=800ms,max=2s,loss=0.1%. Exit 1 when one is breached.")
    var slo: String?

    @Flag(help: "No live progress line, even on a terminal.")
    var quiet = false

    @OptionGroup var options: ProbeOptions

    func validate() throws {
        _ = try makePlan()
        if let slo { _ = try ServiceLevelObjective(parsing: slo) }
    }

    func run() throws {
        let plan = try makePlan()
        let objectives = try slo.map(ServiceLevelObjective.init(parsing:))
        let logger = options.makeLogger(label: "hrprobe.run")
        // Before the client context exists: lws sizes its tables from the limit in force at creation.
        let files = ProcessResources.raiseOpenFileLimit()
        if let shortfall = ProcessResources.descriptorShortfall(connections: plan.connectionCount, limit: files) {
            Self.printError("hrprobe: \(shortfall)")
            throw ExitCode(2)
        }
        let terminal = isatty(STDERR_FILENO) != 0 && !quiet
        let result = try Self.run(plan, threads: threads, logger: logger, progress: terminal)

        if let failure = result.failure, result.openAtStart == 0 || result.samplesReceived == 0 && plan.role.views {
            Self.printError("hrprobe: \(failure)")
            throw ExitCode(2)
        }
        let report = RunReport(plan: plan, result: result, objectives: objectives)
        print(SummaryTable.render(report), terminator: "")
        try write(report: report, result: result, plan: plan, objectives: objectives)
        if !report.slo.breaches.isEmpty { throw ExitCode(1) }
    }

    /// Runs `plan` on `threads` event loops (`RunPlan.shares`): the first share on the calling thread, the others on
    /// threads of their own; SIGINT and SIGTERM stop every share. Returns the shares' results added up, with the
    /// process's CPU over the whole run.
    static func run(_ plan: RunPlan, threads: Int, logger: Logger, progress: Bool) throws -> RunResult {
        let shares = plan.shares(threads)
        let start = SendingStart(sessions: shares.count)
        // The live line shows one session's counts: only when there is one.
        let sessions = shares.enumerated().map { index, share in
            LoadSession(
                plan: share, logger: logger, progress: progress && shares.count == 1 ? ProgressLine() : nil,
                session: index, sendingStart: start)
        }
        let signals = SignalRelay { for session in sessions { session.interrupt() } }
        defer { signals.cancel() }
        guard sessions.count > 1 else { return try sessions[0].run() }
        let before = ProcessResources.usage()
        for session in sessions { try session.start() }
        // Each session's result stays in the session (`LoadSession.result`), read here after its thread left the group.
        let done = DispatchGroup()
        for index in sessions.indices.dropFirst() {
            done.enter()
            let session = sessions[index]
            let thread = Thread {
                _ = session.serve()
                done.leave()
            }
            thread.name = "hrprobe-\(index)"
            thread.start()
        }
        var result = sessions[0].serve()
        done.wait()
        var connections = sessions[0].connections.count
        for index in sessions.indices.dropFirst() {
            result.merge(sessions[index].result, connectionOffset: connections)
            connections += sessions[index].connections.count
        }
        let after = ProcessResources.usage()
        result.cpu = ProcessResources.Usage(
            userUs: after.userUs - before.userUs, systemUs: after.systemUs - before.systemUs,
            maxRSSKiB: after.maxRSSKiB, waitUs: after.waitUs - before.waitUs)
        return result
    }

    private func write(report: RunReport, result: RunResult, plan: RunPlan, objectives: ServiceLevelObjective?) throws {
        func save(_ text: String, to path: String, what: String) throws {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            } catch {
                Self.printError("hrprobe: cannot write the \(what) to \(path): \(error.localizedDescription)")
                throw ExitCode(2)
            }
        }
        if let jsonFile { try save(report.json(), to: jsonFile, what: "JSON report") }
        if let hgrmFile { try save(HgrmWriter.render(result.lag), to: hgrmFile, what: "hgrm") }
        if let svgFile {
            let plot = SpectrumPlot(
                title: "hrprobe · \(plan.classIDs.count) classes × \(plan.publishers + plan.participants) riders · "
                    + "\(plan.viewingPerClass) viewing · \(DurationText.describe(microseconds: plan.durationUs))",
                series: [
                    .init(name: "end-to-end (corrected)", distribution: result.lag, style: .primary),
                    .init(name: "uncorrected", distribution: result.uncorrected, style: .dashed),
                    .init(name: "fan-out completion", distribution: result.fanOut, style: .secondary),
                    .init(name: "slow viewers", distribution: result.slowLag, style: .muted),
                ].filter { $0.distribution.count > 0 },
                objectives: objectives?.percentileLimits ?? [])
            try save(plot.render(), to: svgFile, what: "plot")
        }
    }

    /// Resolves the flags into a plan; every mistake is a `ValidationError` that says what to write instead.
    func makePlan() throws -> RunPlan {
        guard var hub = WebSocketURL(url) else {
            throw ValidationError("'\(url)' is not a ws:// or wss:// URL; write e.g. ws://127.0.0.1:8080/")
        }
        hub = hub.with(pathAndQuery: "/")
        guard classes >= 1 else { throw ValidationError("--classes must be at least 1") }
        guard publishers >= 0, viewers >= 0, participants >= 0 else {
            throw ValidationError("--publishers, --viewers and --participants cannot be negative")
        }
        guard publishers + participants >= 1 else {
            throw ValidationError("a class needs someone publishing: give --publishers or --participants")
        }
        guard rate > 0, rate <= RunPlan.maxRate else {
            throw ValidationError("--rate must be above 0 and at most \(Int(RunPlan.maxRate)) (samples per second)")
        }
        let durationUs = try DurationText.microseconds(duration, option: "--duration")
        guard durationUs >= 1_000_000 else { throw ValidationError("--duration must be at least 1s") }
        let warmupUs = try DurationText.microseconds(warmup, option: "--warmup")
        guard let deliveryMode = DeliveryMode(rawValue: mode) else {
            throw ValidationError("--mode must be all or latest, not '\(mode)'")
        }
        guard let phaseValue = RunPlan.Phase(rawValue: phase) else {
            throw ValidationError("--phase must be random or aligned, not '\(phase)'")
        }
        guard let roleValue = RunPlan.Role(rawValue: role) else {
            throw ValidationError("--role must be both, publish or view, not '\(role)'")
        }
        let slow = try Self.share(slowViewers, option: "--slow-viewers")
        if roleValue.views && viewers + participants == 0 && roleValue == .view {
            throw ValidationError("--role view needs --viewers")
        }
        if roleValue != .both && participants > 0 {
            throw ValidationError("--participants publish and view on one connection; use them with --role both")
        }
        if roleValue != .both && runID == nil {
            throw ValidationError("--role \(role) needs --run-id ID, the same in the publish and the view process")
        }
        let prefix = runID ?? "probe-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        guard Identifier.isValid("\(prefix)-\(classes - 1)") else {
            throw ValidationError("--run-id '\(prefix)' must be letters, digits, '-' or '_' (up to 55 characters)")
        }
        let storm = try reconnectStorm.map(StormPlan.init(parsing:))
        if let storm, storm.atUs >= durationUs {
            throw ValidationError(
                "--reconnect-storm at \(DurationText.describe(microseconds: storm.atUs)) is after "
                    + "the measured window (\(duration))")
        }
        let rampPlan = try ramp.map(RampPlan.init(parsing:))
        let drainUs = try drain.map { try DurationText.microseconds($0, option: "--drain") }
        guard let targetValue = PeerTarget(rawValue: target) else {
            throw ValidationError(
                "--target must be \(PeerTarget.allCases.map(\.rawValue).joined(separator: ", ")), not '\(target)'")
        }
        if targetValue != .hrhub {
            if binary { throw ValidationError("--binary is hrhub's subprotocol; a --target \(target) run sends JSON") }
            if deliveryMode != .all { throw ValidationError("--mode latest needs the hub; --target \(target) relays all") }
            if roleValue != .both { throw ValidationError("--target \(target) runs need --role both") }
            if slow > 0 { throw ValidationError("--slow-viewers needs the hub's gaps; not with --target \(target)") }
        }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if threads > 1 {
            let alone = [
                ramp.map { _ in "--ramp" }, reconnectStorm.map { _ in "--reconnect-storm" },
                deviceModel.map { _ in "--device-model" }, roleValue != .both ? "--role \(role)" : nil,
            ].compactMap { $0 }
            if let first = alone.first {
                throw ValidationError("\(first) runs on one thread: leave out --threads (or give --threads 1)")
            }
        }
        if let serverPID, kill(serverPID, 0) != 0 {
            throw ValidationError("--server-pid \(serverPID): no such process")
        }
        let classIDs = (0..<classes).map { "\(prefix)-\($0)" }
        let perClass = publishers + viewers + participants
        var addresses = (sourceAddresses ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        if addresses.isEmpty {
            addresses = RunPlan.automaticSourceAddresses(
                connections: perClass * classes, host: hub.host, ephemeralPorts: ProcessResources.ephemeralPortCount())
        }
        var plan = RunPlan(
            hub: hub, classIDs: classIDs, publishers: publishers, viewers: viewers, participants: participants,
            rate: rate, durationUs: durationUs, warmupUs: warmupUs, mode: deliveryMode,
            binary: binary, phase: phaseValue, seed: seed, slowViewerFraction: slow, storm: storm, ramp: rampPlan,
            role: roleValue, sourceAddresses: addresses, drainUs: drainUs, target: targetValue, serverPID: serverPID)
        plan.insecure = options.insecure
        if let board {
            guard (0...100).contains(board) else { throw ValidationError("--board must be 0 to 100, not \(board)") }
            plan.board = board
        }
        if let deviceModel {
            guard deviceModel == "firmware" else {
                throw ValidationError("--device-model must be firmware, not '\(deviceModel)'")
            }
            guard targetValue == .hrhub, roleValue == .both else {
                throw ValidationError("--device-model firmware needs the hub's record: --target hrhub, --role both")
            }
            plan.firmware = true
        }
        if let trace {
            guard let data = FileManager.default.contents(atPath: trace), let text = String(data: data, encoding: .utf8)
            else { throw ValidationError("--trace: cannot read '\(trace)'") }
            do {
                plan.trace = try HeartRateTrace(csv: text)
            } catch {
                throw ValidationError("--trace \(trace): \(error)")
            }
        }
        return plan
    }

    private static func share(_ text: String, option: String) throws -> Double {
        let isPercent = text.hasSuffix("%")
        guard let number = Double(isPercent ? String(text.dropLast()) : text), number >= 0 else {
            throw ValidationError("\(option): '\(text)' is not a share; write 0.1 or 10%")
        }
        let value = isPercent ? number / 100 : number
        guard value <= 1 else { throw ValidationError("\(option) cannot exceed 100%") }
        return value
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
