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
/// finished and the result is complete. See the extensions for sending, receiving and scenarios.
final class LoadSession: LWSClientDelegate, @unchecked Sendable {
    /// Where the run is.
    enum Stage: String {
        case connecting, running, draining, closing, done
    }

    let plan: RunPlan
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

    init(plan: RunPlan, logger: Logger, progress: ProgressLine?) {
        self.plan = plan
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
        try client.start()
        client.delegate = self
        startedUs = ProbeClock.nowUs()
        startUsage = ProcessResources.usage()
        if let pid = plan.serverPID { result.window.serverBefore = ProcessResources.sample(pid: pid) }
        nextProgressUs = startedUs + 1_000_000
        nextPingUs = startedUs
        client.scheduleTick(inMicroseconds: 1)
        client.run()
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

    // MARK: - Plan

    /// Lays out classes, riders, connections (viewers first, so they listen before anyone publishes) and, for
    /// a view-only run, the streams.
    private func buildConnections() {
        let ridersPerClass = plan.ridersPerClass
        let viewing = plan.role.views ? plan.viewingPerClass : 0
        for (k, id) in plan.classIDs.enumerated() {
            classes.append(
                ClassState(
                    id: id, riderBase: k * ridersPerClass, riders: ridersPerClass,
                    streamBase: k * viewing * ridersPerClass))
            for r in 0..<ridersPerClass { riders.append(RiderState(classIndex: k, indexInClass: r)) }
            result.classes.append(RunResult.ClassResult(id: id))
        }
        var slowPicker = SplitMix64(seed: plan.seed, stream: 0x534C_4F57)  // "SLOW"
        var count = 0
        func address() -> String? {
            defer { count += 1 }
            return plan.sourceAddresses.isEmpty ? nil : plan.sourceAddresses[count % plan.sourceAddresses.count]
        }
        if plan.role.views {
            for k in classes.indices {
                for v in 0..<plan.viewers {
                    let slow = slowPicker.unit() < plan.slowViewerFraction
                    classes[k].viewerConnections.append(connections.count)
                    connections.append(
                        ProbeConnection(
                            kind: .viewer, classIndex: k, rider: nil, viewerSlot: v, slow: slow,
                            sourceAddress: address()))
                }
            }
        }
        if plan.role.publishes {
            for k in classes.indices {
                for p in 0..<plan.participants {
                    let rider = classes[k].riderBase + plan.publishers + p
                    let slot = plan.role.views ? plan.viewers + p : nil
                    if slot != nil { classes[k].viewerConnections.append(connections.count) }
                    riders[rider].connection = connections.count
                    connections.append(
                        ProbeConnection(
                            kind: .participant, classIndex: k, rider: rider, viewerSlot: slot, slow: false,
                            sourceAddress: address()))
                }
            }
            for k in classes.indices {
                for p in 0..<plan.publishers {
                    let rider = classes[k].riderBase + p
                    riders[rider].connection = connections.count
                    connections.append(
                        ProbeConnection(
                            kind: .publisher, classIndex: k, rider: rider, viewerSlot: nil, slow: false,
                            sourceAddress: address()))
                }
            }
        }
        if plan.role == .view {
            streams = Array(repeating: StreamAccount(), count: classes.count * viewing * ridersPerClass)
        }
        if plan.target != .hrhub {
            peerReaders = Array(repeating: PeerStreamReader(), count: connections.count)
            peerChannels = classes.map { Array(plan.target.channel(classID: $0.id).utf8) }
        }
    }

    /// Whether viewing connection `index` is owed the samples of rider `rider` (global index): always, except its
    /// own with a relay that does not echo to the sender.
    func owes(_ index: Int, rider: Int) -> Bool {
        plan.target.echoesToSender || connections[index].rider != rider
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
            connectBatch()
            let allTried = nextConnect >= connections.count
            let open = connections.count(where: \.isOpen)
            let welcomed = connections.count(where: \.welcomed)
            if allTried && welcomed == connections.count {
                beginSending(now: now)
            } else if now - startedUs >= plan.connectTimeoutUs {
                if open == 0 {
                    fail("no connection opened within \(plan.connectTimeoutUs / 1_000_000) s", now: now)
                } else {
                    logger.warning("sending starts with \(open) of \(connections.count) connections open")
                    beginSending(now: now)
                }
            }
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

    /// Opens the next batch of connections.
    private func connectBatch() {
        let room = max(0, min(Self.connectBatch, Self.maxHandshaking - handshaking))
        let end = min(connections.count, nextConnect + room)
        while nextConnect < end {
            open(nextConnect)
            nextConnect += 1
        }
    }

    func open(_ index: Int) {
        let connection = connections[index]
        let role: Role
        switch connection.kind {
        case .publisher: role = .publisher
        case .viewer: role = .viewer
        case .participant: role = .participant
        }
        let path = plan.path(
            classIndex: connection.classIndex, role: role,
            rider: connection.rider.map {
                riders[$0].indexInClass
            })
        let subprotocol = plan.binary ? WireFormat.binary : WireFormat.json
        connecting = index
        let id = client.connect(
            plan.hub.with(pathAndQuery: path), subprotocols: plan.target.subprotocols ?? [subprotocol.rawValue],
            sourceAddress: connection.sourceAddress, insecure: plan.insecure)
        // A failure reported inside `connect` already cleared `connecting`; otherwise map the id.
        if connecting == index {
            connections[index].id = id
            connectionByID[id.rawValue] = index
            connections[index].handshaking = true
            handshaking += 1
        }
        connecting = nil
    }

    /// Starts the schedules: the first sample of every rider is due on the next whole second at least 300 ms
    /// away (plus its phase and ramp offsets); the warm-up and the measured window follow.
    private func beginSending(now: Int64) {
        let startMs = (now / 1_000 + 300 + 999) / 1_000 * 1_000
        sendStartUs = startMs * 1_000
        measureStartUs = sendStartUs + plan.warmupUs
        measureEndUs = measureStartUs + plan.durationUs
        result.openAtStart = connections.count(where: \.isOpen)
        result.connectUs = now - startedUs
        stage = .running
        guard plan.role.publishes else { return }
        var seeds = SplitMix64(seed: plan.seed, stream: 0x5249_4445)  // "RIDE"
        var phases = SplitMix64(seed: plan.seed, stream: 0x5048_4153)  // "PHAS"
        let workout = Workout.short(durationMs: 240_000, repeats: true)
        let schedule = plan.schedule
        // The device's own cadence setting (it is given each due time) and its contact losses per unit of time,
        // not per sample: at 400 Hz a per-sample chance tuned for 1 Hz would drop contact every 2.5 s.
        let defaults = DeviceSimulator.Configuration()
        let configuration = DeviceSimulator.Configuration(
            sampleIntervalMs: max(1, Int64((schedule.periodUs / 1_000).rounded())),
            contactLossProbability: min(1, defaults.contactLossProbability * schedule.periodUs / 1e6))
        // Phases in whole ms when the period allows it, so a period of whole ms keeps every due time (and `ts`)
        // on a whole ms, as before; below 1 ms, in µs.
        let phaseGrainUs: Double = schedule.periodUs >= 1_000 ? 1_000 : 1
        // Ramp ranks interleave the classes, so classes fill evenly.
        let perClass = plan.ridersPerClass
        for r in riders.indices {
            let deviceSeed = seeds.next()
            let phaseUs =
                plan.phase == .aligned
                ? 0 : Int64((phases.unit() * schedule.periodUs / phaseGrainUs).rounded(.down) * phaseGrainUs)
            let rank = riders[r].indexInClass * classes.count + riders[r].classIndex
            var firstIndex: Int64 = 0
            if let ramp = plan.ramp {
                guard let startUs = ramp.startUs(rank: rank, of: riders.count) else { continue }
                // Ramped riders keep their phase within the period in which they start.
                firstIndex = schedule.lastIndex(atOrBefore: startUs)
            }
            riders[r].originUs = sendStartUs + phaseUs
            riders[r].firstIndex = firstIndex
            riders[r].nextIndex = firstIndex
            let firstUs = riders[r].dueUs(index: firstIndex, schedule)
            let firstMs = firstUs / 1_000
            let intoWorkoutMs = Int64(Double(seeds.next() % 240_000))
            var device = DeviceSimulator(
                participantID: ParticipantNumbering.id(riders[r].indexInClass), seed: deviceSeed, workout: workout,
                startMs: firstMs - intoWorkoutMs, configuration: configuration)
            if let trace = plan.trace {
                // Each rider at its own point of the recording, from its seed.
                let shiftMs = Int64(deviceSeed % UInt64(trace.durationMs))
                device.replay = TraceReplay(trace: trace, startMs: firstMs, shiftMs: shiftMs)
            }
            riders[r].device = device
            riders[r].firstSeq = device.nextSeq
            riders[r].sending = true
            queue.push(DueQueue.Event(dueUs: firstUs, kind: .sample, index: r))
        }
        if plan.role == .both {
            streams.reserveCapacity(classes.count * plan.viewingPerClass * perClass)
            for k in classes.indices {
                for connection in classes[k].viewerConnections {
                    let listening = connections[connection].welcomed
                    for r in 0..<perClass {
                        let rider = riders[classes[k].riderBase + r]
                        let owed = listening && rider.sending && owes(connection, rider: classes[k].riderBase + r)
                        streams.append(StreamAccount(expectFrom: owed ? rider.firstSeq : nil))
                    }
                }
            }
        }
    }

    func beginDraining(now: Int64) {
        guard stage == .running else { return }
        stage = .draining
        measureEndUs = min(measureEndUs, now)
        if result.window.start != nil {
            result.window.end = markWindow(now: now)
            result.window.openAtEnd = connections.count(where: \.isOpen)
        }
        for r in riders.indices { riders[r].sending = false }
        // Slow viewers read freely from now on, so what the hub still holds for them arrives or is named in a gap.
        for index in connections.indices where connections[index].readingPaused {
            connections[index].readingPaused = false
            if let id = connections[index].id { client.setReceiving(id, true) }
        }
        // A correct hub has delivered or named every sample within its budget once the viewer reads; slow viewers
        // get three seconds more (a reader that stopped with a full window may wait on TCP's persist timer).
        let budgetUs = Int64(result.budgetMs ?? 800) * 1_000
        let slowUs: Int64 = plan.slowViewerFraction > 0 ? 3_000_000 : 0
        drainUntilUs = now + (plan.drainUs ?? (budgetUs + 700_000 + slowUs))
    }

    func beginClosing(now: Int64) {
        guard stage != .closing && stage != .done else { return }
        stage = .closing
        closeUntilUs = now + 1_000_000
        for connection in connections {
            if let id = connection.id { client.close(id, code: 1000, reason: "probe done") }
        }
    }

    private func fail(_ reason: String, now: Int64) {
        if result.failure == nil { result.failure = reason }
        beginClosing(now: now)
    }

    /// Whether every open viewer has seen (or been told about) every rider's last written sample.
    private func isDrained() -> Bool {
        guard plan.role == .both else { return false }
        for k in classes.indices {
            for (slot, connection) in classes[k].viewerConnections.enumerated() where connections[connection].isOpen {
                for r in 0..<classes[k].riders where owes(connection, rider: classes[k].riderBase + r) {
                    guard let last = riders[classes[k].riderBase + r].lastWrittenSeq else { continue }
                    guard let newest = streams[classes[k].stream(slot: slot, rider: r)].newestSeq,
                        !RiderState.isAfter(last, newest)
                    else { return false }
                }
            }
        }
        return true
    }

    /// Ends the run: every stream is finished against the last seq its rider published, and the counts go into
    /// the result.
    private func finishRun() {
        guard stage != .done else { return }
        stage = .done
        for k in classes.indices {
            for (slot, connection) in classes[k].viewerConnections.enumerated() {
                let slow = connections[connection].slow
                for r in 0..<classes[k].riders {
                    let index = classes[k].stream(slot: slot, rider: r)
                    guard index < streams.count else { continue }
                    let rider = riders[classes[k].riderBase + r]
                    // The last seq the hub surely accepted: what was written on a connection still open, else
                    // the newest any viewer saw (samples written into a dropped socket may never have arrived).
                    let publisherOpen = rider.connection.map { connections[$0].isOpen } ?? false
                    let last = plan.role == .both && publisherOpen ? rider.lastWrittenSeq : rider.lastObservedSeq
                    streams[index].finish(lastSeq: last, measuredFrom: rider.measuredFrom)
                    let stream = streams[index]
                    if slow {
                        result.slowCounts.add(stream.counts)
                    } else {
                        result.counts.add(stream.counts)
                        result.classes[k].counts.add(stream.counts)
                    }
                    if !slow && stream.counts.delivered > 1 {
                        result.streamJitter.record(Int64(stream.jitter.valueUs))
                    }
                    if let seq = stream.firstUnexplained, result.unexplainedExamples.count < 20 {
                        result.unexplainedExamples.append(
                            RunResult.Unexplained(
                                classID: classes[k].id, viewer: slot, participant: ParticipantNumbering.id(r),
                                seq: seq))
                    }
                }
            }
        }
        client.stop()
    }

    // MARK: - Connection events

    func clientConnected(_ id: ConnectionID, subprotocol: String?) {
        guard let index = connectionByID[id.rawValue] else { return }
        connections[index].isOpen = true
        result.peakOpen = max(result.peakOpen, connections.count(where: \.isOpen))
        let connection = connections[index]
        if connection.kind.views && !connection.slow {
            classes[connection.classIndex].openNormalViewers += 1
        }
        switch plan.target {
        case .hrhub: break
        case .wsBroadcast:
            ready(index, lastSeq: nil)
        case .nats:
            let subject = connection.kind.views ? plan.target.channel(classID: classes[connection.classIndex].id) : nil
            enqueue(index, Self.control(PeerWire.natsHandshake(subscribeTo: subject), kind: .text))
        case .mqtt:
            enqueue(index, Self.control(PeerWire.mqttConnect(clientID: "hrprobe-\(index)-\(id.rawValue)"), kind: .binary))
        }
        if let rider = connection.rider, plan.target == .hrhub {
            let profile = riders[rider].device?.profile ?? Profile(name: ParticipantNumbering.id(rider))
            enqueue(
                index,
                OutboundFrame(
                    seq: nil, intendedUs: 0, bytes: ClientFrameEncoder.json(.hello(profile)), kind: .text, replay: false
                ))
        }
        if connection.slow {
            client.setReceiveBufferSize(id, bytes: Self.slowReceiveBufferBytes)
            queue.push(DueQueue.Event(dueUs: ProbeClock.nowUs() + Self.slowReadUs, kind: .slowToggle, index: index))
        }
    }

    func clientClosed(_ id: ConnectionID, code: UInt16?, reason: String) {
        guard let index = connectionByID.removeValue(forKey: id.rawValue) ?? connecting else { return }
        if connecting == index { connecting = nil }
        let was = connections[index]
        if was.handshaking {
            connections[index].handshaking = false
            handshaking -= 1
        }
        connections[index].id = nil
        connections[index].isOpen = false
        connections[index].welcomed = false
        connections[index].readingPaused = false
        connections[index].clearOutbound()
        if !peerReaders.isEmpty { peerReaders[index] = PeerStreamReader() }
        if was.isOpen && was.kind.views && !was.slow { classes[was.classIndex].openNormalViewers -= 1 }
        // While closing, streams stay as they are: `finishRun` judges them against the last published seqs.
        if was.isOpen && was.kind.views && stage != .closing && stage != .done { closeStreams(of: index) }
        if stage == .closing || stage == .done {
            if stage == .closing && client.connectionCount == 0 { finishRun() }
            return
        }
        if !was.isOpen {
            result.connectFailures += 1
            if result.firstConnectError == nil { result.firstConnectError = reason }
            logger.debug("connect failed", metadata: ["reason": "\(reason)"])
            if stage == .connecting && result.peakOpen == 0 {
                fail("cannot connect to \(plan.hub.description): \(reason)", now: ProbeClock.nowUs())
                return
            }
        } else if !was.dropping {
            result.unexpectedCloses[code.map(String.init) ?? "none", default: 0] += 1
            logger.info(
                "connection closed by the hub",
                metadata: [
                    "code": "\(code.map(String.init) ?? "none")",
                    "reason": "\(reason)",
                ])
        }
        connections[index].dropping = false
        let backoff = StormPlan.backoffUs(attempt: was.attempts, unit: rng.unit())
        connections[index].attempts += 1
        queue.push(DueQueue.Event(dueUs: ProbeClock.nowUs() + backoff, kind: .reconnect, index: index))
    }

    /// A viewing connection closed: its streams' open holes are `lostAtClose` and they start afresh.
    private func closeStreams(of index: Int) {
        guard let slot = connections[index].viewerSlot, !streams.isEmpty else { return }
        let k = connections[index].classIndex
        for r in 0..<classes[k].riders {
            streams[classes[k].stream(slot: slot, rider: r)].close(
                measuredFrom: riders[classes[k].riderBase + r].measuredFrom)
        }
    }

    /// A `welcome` on connection `index`: publishing connections send their hello's followers now, first the
    /// samples the hub has not acknowledged (`last_seq`), then those made while disconnected.
    func welcomed(_ index: Int, _ welcome: Welcome) {
        if result.budgetMs == nil { result.budgetMs = welcome.budgetMs }
        ready(index, lastSeq: welcome.lastSeq)
    }

    /// Connection `index` is ready (a hub's `welcome`; a peer's acknowledgement of the subscription): publishing
    /// connections send what the relay has not acknowledged (after `lastSeq`; everything kept when nil).
    func ready(_ index: Int, lastSeq: UInt32?) {
        guard !connections[index].welcomed else { return }
        connections[index].welcomed = true
        if connections[index].handshaking {
            connections[index].handshaking = false
            handshaking -= 1
        }
        if connections[index].attempts > 0 { result.reconnects += 1 }
        connections[index].attempts = 0
        guard let r = connections[index].rider else { return }
        let pending = riders[r].recent + riders[r].backlog
        riders[r].recent.removeAll()
        riders[r].backlog.removeAll()
        var resent = 0
        for var frame in pending {
            guard let seq = frame.seq else { continue }
            if let last = lastSeq, !RiderState.isAfter(seq, last) { continue }
            frame.replay = true
            enqueue(index, frame)
            resent += 1
        }
        if resent > 0 { logger.debug("resending", metadata: ["rider": "\(r)", "samples": "\(resent)"]) }
    }

    /// A control frame (no sample).
    static func control(_ bytes: [UInt8], kind: FrameKind) -> OutboundFrame {
        OutboundFrame(seq: nil, intendedUs: 0, bytes: bytes, kind: kind, replay: false)
    }

    func enqueue(_ index: Int, _ frame: OutboundFrame) {
        connections[index].outbox.append(frame)
        if let id = connections[index].id { client.requestWrite(id) }
    }
}
