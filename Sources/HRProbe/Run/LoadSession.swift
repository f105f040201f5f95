import Foundation
import HRProbeCore
import HRProtocol
import HRSimulation
import LWSTransport
import Logging

/// One `hrprobe run`: every connection of the plan on one `LWSClient`, open-loop sample schedules, the
/// accounting of every (viewer, rider) stream, and the lag distributions.
///
/// Threading: everything happens on the client's service thread (the thread that calls `run()`); other
/// threads reach the session only through `interrupt()`, which posts to that thread. No locks; hence
/// `@unchecked Sendable`.
///
/// Stages: **connecting** (open connections in batches), **running** (warm-up, then the measured window;
/// samples are due on a fixed schedule whatever happens to the hub or the probe: open loop), **draining**
/// (sending stopped; wait for the last deliveries), **closing** (close every connection), then the streams are
/// finished and the result is complete. The extensions hold the rest: +Connections (layout, connecting, connection
/// events), +Stages (sending, draining, closing, finishing), +Traffic (samples out, frames in), +Scenarios.
final class LoadSession: LWSClientDelegate, @unchecked Sendable {
    /// Where the run is.
    enum Stage: String {
        case connecting, running, draining, closing, done
    }

    let plan: RunPlan
    /// This session's number in a `--threads` run (0 alone), and the start every session of the run shares.
    let session: Int
    let sendingStart: SendingStart
    let logger: Logger
    let client: LWSClient
    /// Writes the live progress line, or nil when stderr is not a terminal.
    let progress: ProgressLine?

    var connections: [ProbeConnection] = []
    var connectionByID: [UInt64: Int] = [:]
    var riders: [RiderState] = []
    var classes: [ClassState] = []
    var streams: [StreamAccount] = []
    /// Per connection, the byte stream of a peer relay (`--target` other than hrhub); empty for the hub.
    var peerReaders: [PeerStreamReader] = []
    /// Per class, the peer's subject or topic as bytes.
    var peerChannels: [[UInt8]] = []
    var queue = DueQueue()
    var result = RunResult()
    /// Board staleness: samples written, acked and shown on a screen (set up with the connections).
    var boardStaleness = BoardStaleness(classes: 0, riders: 0)
    /// Lags of the last second, for the progress line.
    var recentLag = LagDistribution(digits: .two)
    var stage = Stage.connecting
    var rng: SplitMix64

    var startedUs: Int64 = 0
    var sendStartUs: Int64 = 0
    var measureStartUs: Int64 = .max
    var measureEndUs: Int64 = .max
    var drainUntilUs: Int64 = .max
    var closeUntilUs: Int64 = .max
    var nextProgressUs: Int64 = 0
    var nextPingUs: Int64 = 0
    var nextConnect = 0
    /// The connection whose connect call is under way (lws may report its failure inside `connect`).
    var connecting: Int?
    /// Connections between their connect call and their welcome (or close); see `maxHandshaking`.
    var handshaking = 0
    var pingSentUs: [Int64: Int64] = [:]
    var nextPingID: Int64 = 1
    var stormDone = false
    /// This session finished connecting (or gave up) and told `sendingStart`.
    var arrived = false
    /// With `--device-model firmware`: the next check of every device's uploads.
    var nextUploadCheckUs: Int64 = 0
    var startUsage = ProcessResources.usage()
    /// Counters behind the progress line's rates.
    var sentSinceProgress = 0
    var receivedSinceProgress = 0

    /// Connections opened per tick while connecting, and the pause between batches.
    static let connectBatch = 256
    static let connectPauseUs: Int64 = 5_000
    /// Most connections in their handshake at once while connecting. A burst of 20,000 connects overflows the
    /// hub's accept queue (somaxconn, 4096): the kernel drops those handshakes and TCP retries them after 1, 3,
    /// 7… s, so 3,000 of 19,900 were still not open after the 15 s connect timeout. With at most 1,024 under way
    /// the queue never fills and connecting goes as fast as the hub accepts.
    static let maxHandshaking = 1_024
    /// Slow viewers: receive buffer cap, and how long they stop and then read.
    static let slowReceiveBufferBytes = 4_096
    static let slowPauseUs: Int64 = 2_000_000
    static let slowReadUs: Int64 = 200_000

    /// - Parameters:
    ///   - plan: what this session runs (with `--threads`, its share of the classes: `RunPlan.shares`).
    ///   - session: its number among the run's sessions, which all arrive at `sendingStart`.
    init(
        plan: RunPlan, logger: Logger, progress: ProgressLine?, session: Int = 0,
        sendingStart: SendingStart = SendingStart(sessions: 1)
    ) {
        self.plan = plan
        self.session = session
        self.sendingStart = sendingStart
        self.logger = logger
        self.progress = progress
        self.client = LWSClient(logger: logger)
        // A publisher at hundreds of samples/s must not wait for a loop iteration over every viewer per sample.
        client.maxFramesPerWritable = 64
        self.rng = SplitMix64(seed: plan.seed, stream: 0x5255_4E00)  // "RUN"
        buildConnections()
    }

    /// Connects, runs the plan and returns what it measured. Blocks the calling thread, which becomes the
    /// service thread.
    func run() throws -> RunResult {
        try start()
        return serve()
    }

    /// Creates the client context (before `serve`; sessions of one run start one after another on one thread, so
    /// libwebsockets' and OpenSSL's global set-up never runs on two threads at once).
    func start() throws {
        try client.start()
        client.delegate = self
    }

    /// Runs the plan on the calling thread, which becomes the service thread, and returns what it measured.
    func serve() -> RunResult {
        startedUs = ProbeClock.nowUs()
        startUsage = ProcessResources.usage()
        if let pid = plan.serverPID { result.window.serverBefore = ProcessResources.sample(pid: pid) }
        nextProgressUs = startedUs + 1_000_000
        nextPingUs = startedUs
        client.scheduleTick(inMicroseconds: 1)
        client.run()
        checkRecord()
        let usage = ProcessResources.usage()
        result.cpu = ProcessResources.Usage(
            userUs: usage.userUs - startUsage.userUs, systemUs: usage.systemUs - startUsage.systemUs,
            maxRSSKiB: usage.maxRSSKiB, waitUs: usage.waitUs - startUsage.waitUs)
        result.wallUs = ProbeClock.nowUs() - startedUs
        progress?.finish()
        return result
    }

    /// Stops the run early (SIGINT): sending stops now and the run drains and reports as usual. Any thread.
    func interrupt() {
        client.post { [self] in
            result.interrupted = true
            let now = ProbeClock.nowUs()
            switch stage {
            case .connecting:
                result.failure = "interrupted while connecting"
                beginClosing(now: now)
            case .running:
                beginDraining(now: now)
            case .draining, .closing, .done:
                beginClosing(now: now)
            }
            client.scheduleTick(inMicroseconds: 1)
        }
    }

    /// Records the start or the end of the measured window (deliveries, the probe's and the relay's CPU).
    func markWindow(now: Int64) -> RunResult.Window.Mark {
        RunResult.Window.Mark(
            us: now, received: result.samplesReceived, probe: ProcessResources.usage(),
            server: plan.serverPID.flatMap { ProcessResources.sample(pid: $0) })
    }

    // MARK: - Ticks

    func clientTick() {
        let now = ProbeClock.nowUs()
        switch stage {
        case .connecting:
            if !arrived {
                connectBatch()
                let allTried = nextConnect >= connections.count
                let open = connections.count(where: \.isOpen)
                let welcomed = connections.count(where: \.welcomed)
                if allTried && welcomed == connections.count {
                    arrive(now: now)
                } else if now - startedUs >= plan.connectTimeoutUs {
                    if open == 0 {
                        fail("no connection opened within \(plan.connectTimeoutUs / 1_000_000) s", now: now)
                    } else {
                        logger.warning("sending starts with \(open) of \(connections.count) connections open")
                        arrive(now: now)
                    }
                }
            }
            // Every session of the run connected: the schedules start together.
            if arrived, stage == .connecting, let startUs = sendingStart.startUs { beginSending(now: now, startUs: startUs) }
        case .running:
            if result.window.start == nil && now >= measureStartUs { result.window.start = markWindow(now: now) }
        case .draining:
            if isDrained() {
                beginClosing(now: now)
            } else if now >= drainUntilUs {
                result.drainTimedOut = plan.role == .both
                beginClosing(now: now)
            }
        case .closing:
            if now >= closeUntilUs || client.connectionCount == 0 { finishRun() }
        case .done:
            return
        }
        while let event = queue.popDue(nowUs: now + 50) {
            handle(event, now: now)
        }
        // After the events: a tick that comes late must still send the samples due before the window's end.
        if stage == .running && now >= measureEndUs { beginDraining(now: now) }
        if stage == .running { runScenarios(now: now) }
        if stage == .running || stage == .draining { checkDevices(now: now) }
        if now >= nextPingUs {
            ping(now: now)
            nextPingUs = now + 1_000_000
        }
        if now >= nextProgressUs {
            reportProgress(now: now)
            nextProgressUs += 1_000_000
            if nextProgressUs <= now { nextProgressUs = now + 1_000_000 }
        }
        guard stage != .done else { return }
        var next = min(now + 100_000, nextPingUs, nextProgressUs)
        if let event = queue.first { next = min(next, event.dueUs) }
        switch stage {
        case .connecting: next = min(next, now + Self.connectPauseUs)
        case .running:
            next = min(next, measureEndUs)
            if result.window.start == nil { next = min(next, measureStartUs) }
        case .draining: next = min(next, drainUntilUs)
        case .closing: next = min(next, closeUntilUs)
        case .done: break
        }
        client.scheduleTick(inMicroseconds: max(1, next - ProbeClock.nowUs()))
    }

    /// Tells `sendingStart` this session is ready (or gave up); the start is read on the next ticks.
    func arrive(now: Int64) {
        arrived = true
        sendingStart.arrive(session: session, nowUs: now)
    }

    private func handle(_ event: DueQueue.Event, now: Int64) {
        switch event.kind {
        case .sample:
            sendSample(rider: event.index, now: now)
        case .reconnect:
            if stage == .connecting || stage == .running || stage == .draining,
                connections[event.index].id == nil
            {
                open(event.index)
            }
        case .slowToggle:
            toggleSlowReading(event.index, now: now)
        }
    }
}
