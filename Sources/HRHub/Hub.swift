import Foundation
import HRAuth
import HRCore
import HRProtocol
import HRRecord
import LWSTransport
import Logging

/// Wires the pure relay to the libwebsockets server: decodes frames, feeds the relay, carries out its
/// effects, answers HTTP, runs the housekeeping timer, the demo class and the graceful drain.
///
/// Threading: everything runs on the server's service thread (delegate callbacks and posted jobs), so the
/// relay needs no locks. `@unchecked Sendable` only lets signal handlers capture it to `post` work.
final class Hub: LWSServerDelegate, @unchecked Sendable {
    let server: LWSServer
    let relay: Relay
    let settings: HubConfiguration
    /// Who may connect where (open when no secret is configured).
    let access: Access
    let logger: Logger
    let metrics = HubMetrics()
    /// Remote address of each open connection, and how many each address holds (the per-address limit).
    private var peers: [ConnectionID: String] = [:]
    private var connectionsPerAddress: [String: Int] = [:]
    private var demo: DemoClass?
    private var drainDeadline: Int64?
    /// When the timer is set to fire; `.max` when it is not set.
    private var timerAtMs: Int64 = .max
    /// The class record's store, joined to the relay (nil with `--record off`).
    let record: RecordBridge?
    /// Uploads waiting for their commit, by the relay's id (Hub+Record.swift).
    var pendingUploads: [UploadID: PendingUpload] = [:]
    var nextUploadID: UInt64 = 0
    /// Where `GET …/record` opens its read (Hub+Record.swift): off the service thread, one at a time.
    let recordReads = DispatchQueue(label: "hrhub.record-reads")
    /// Point reads for riders whose connections wait to be admitted (`readRecord`): apart from `recordReads`, so a
    /// long `GET …/record` never holds a rider at the door.
    let riderReads = DispatchQueue(label: "hrhub.rider-reads")
    /// When retention next runs.
    var nextRetentionMs: Int64 = 0
    /// The cluster (`--nats`), set before `start`; nil: a hub on its own (Hub+Cluster.swift).
    var cluster: ClusterLink?
    /// Standings reads off the service thread and the requests waiting for them (Hub+Standings.swift).
    var standingsReads = StandingsReads()

    init(server: LWSServer, settings: HubConfiguration, store: (any RecordStore)?, logger: Logger) {
        self.server = server
        self.settings = settings
        var relayConfig = settings.relay
        relayConfig.frameHeadroom = LWSServer.frameHeadroom  // frames are written from the relay's buffers in place
        relayConfig.maxClasses = settings.maxClasses
        relayConfig.maxParticipantsPerClass = settings.maxParticipantsPerClass
        relayConfig.maxErrors = settings.maxErrors
        if let store {
            let bridge = RecordBridge(store: store, logger: logger)
            self.record = bridge
            self.relay = Relay(config: relayConfig, record: bridge)
        } else {
            self.record = nil
            self.relay = Relay(config: relayConfig)
        }
        self.access = Access(secret: settings.jwtSecret)
        self.logger = logger
    }

    /// Starts the housekeeping timer and, when asked, the demo class. Service thread (before `run`).
    func start(demoRiders: Int?, demoFirst: Int = 0) {
        let now = HubClock.nowMs()
        // Runs on the store's thread: it only posts; the job runs on the service thread.
        record?.whenCompleted { [weak self] in
            guard let hub = self else { return }
            hub.server.post { hub.recordCompleted() }
        }
        if let riders = demoRiders {
            let demo = DemoClass(riders: riders, first: demoFirst, seed: 2026, startMs: now)
            demo.start(in: relay, now: now)
            self.demo = demo
        }
        startCluster(now: now)
        applyEffects(now: now)
    }

    /// SIGTERM / SIGINT: refuse new connections, flush and close every client with 1001, then stop.
    func beginDrain() {
        guard drainDeadline == nil else { return }
        let now = HubClock.nowMs()
        logger.notice("draining: closing \(server.connectionCount) connections with 1001")
        drainDeadline = now + Int64(settings.drainTimeoutMs)
        leaveCluster()
        relay.closeAll(now: now)
        applyEffects(now: now)
        finishDrainIfDone(now: now)
    }

    var isDraining: Bool { drainDeadline != nil }

    private func finishDrainIfDone(now: Int64) {
        guard let deadline = drainDeadline else { return }
        if server.connectionCount == 0 || now >= deadline {
            if server.connectionCount > 0 {
                logger.warning("drain timeout: \(server.connectionCount) connections still open")
            }
            server.stop()
        }
    }

    /// Carries out what the relay asked for, then makes sure the timer fires when the relay next has work
    /// (a held sample coming due, the class tick, or housekeeping). Once per loop pass (`serverLoopPass`), after
    /// every event of the pass (sockets, HTTP, the timer, jobs posted by the store, NATS and the standings
    /// reader), so the record gets one batch and each connection one write request per pass; besides that only
    /// where no pass follows (`start`, before the loop runs; `beginDrain`).
    func applyEffects(now: Int64) {
        if let record, let batch = relay.takeRecordBatch() { record.submit(batch) }
        startStandingsRebuilds()
        for effect in relay.takeEffects() {
            switch effect {
            case .write(let id):
                server.requestWrite(ConnectionID(id.rawValue))
            case .close(let id, let code, let flushFirst):
                server.close(ConnectionID(id.rawValue), code: code.rawValue, reason: code.reason, flushFirst: flushFirst)
            case .uploadCommitted(let id, let accepted, let duplicates, let highestSeq):
                answerUpload(id, accepted: accepted, duplicates: duplicates, highestSeq: highestSeq)
            case .uploadFailed(let id):
                answerUpload(id, failure: "record unavailable: the upload was not stored, send it again")
            case .readRecord(let classID, let participant):
                readRecord(classID: classID, participant: participant)
            }
        }
        scheduleClusterPass()
        rescheduleTimer(now: now)
    }

    private func rescheduleTimer(now: Int64) {
        let next = max(min(relay.nextWakeMs, cluster?.nextWakeMs ?? .max), now + 1)
        guard next < timerAtMs else { return }
        timerAtMs = next
        server.scheduleTick(inMicroseconds: (next - now) * 1000)
    }

    // MARK: - LWSServerDelegate

    func serverHandleHTTP(_ request: HTTPRequest) -> HTTPReply {
        Self.routes.reply(to: request, in: self)
    }

    func serverShouldUpgrade(_ request: HTTPRequestHead) -> UpgradeDecision {
        if isDraining { return .reject(.text(503, "hub shutting down")) }
        if !settings.allowedOrigins.isEmpty, let origin = request.origin, !settings.allowedOrigins.contains(origin) {
            return .reject(.text(403, "origin '\(origin)' is not allowed"))
        }
        let parsed: ConnectRequest
        do {
            parsed = try ConnectRequest.parse(path: request.path, query: request.query)
        } catch {
            return .reject(.text(400, error.reason))
        }
        if ConnectRequest.selectSubprotocol(offered: request.subprotocols) == nil {
            let offered = request.subprotocols.joined(separator: ", ")
            return .reject(
                .text(400, "no supported subprotocol in '\(offered)': expected hrhub.v1.json or hrhub.v1.bin"))
        }
        return .acceptWith(parsed)  // parsed once: serverConnectionOpened gets it back
    }

    func serverConnectionOpened(_ id: ConnectionID, request: HTTPRequestHead, subprotocol: String, accepted: Any?) {
        let now = HubClock.nowMs()
        let client = ClientID(id.rawValue)
        let format = WireFormat(rawValue: subprotocol) ?? .json
        let open = peers.count
        let fromAddress = connectionsPerAddress[request.peer, default: 0]
        peers[id] = request.peer
        connectionsPerAddress[request.peer, default: 0] += 1
        if open >= settings.maxConnections || fromAddress >= settings.maxConnectionsPerAddress {
            logger.notice("refused: too many connections", metadata: ["peer": "\(request.peer)", "open": "\(open)"])
            server.close(id, code: CloseCode.tooMany.rawValue, reason: "too many connections")
            return
        }
        guard
            let parsed = accepted as? ConnectRequest
                ?? (try? ConnectRequest.parse(path: request.path, query: request.query))
        else {
            // Normally refused with HTTP 400 before the upgrade; the relay closes what slips through with 4000.
            return relay.open(client, path: request.path, query: request.query, format: format, now: now)
        }
        switch access.check(parsed, bearer: Access.bearer(from: request.authorization), nowSeconds: now / 1000) {
        case .allow:
            relay.open(client, request: parsed, format: format, now: now)
        case .unauthorized(let why):
            logger.notice("refused: unauthorized", metadata: ["peer": "\(request.peer)", "why": "\(why)"])
            server.close(id, code: CloseCode.unauthorized.rawValue, reason: why)
        case .forbidden(let why):
            logger.notice("refused: forbidden", metadata: ["peer": "\(request.peer)", "why": "\(why)"])
            server.close(id, code: CloseCode.forbidden.rawValue, reason: why)
        }
    }

    func serverReceived(_ id: ConnectionID, message: UnsafeRawBufferPointer, kind: FrameKind) {
        let client = ClientID(id.rawValue)
        let now = HubClock.nowMs()
        do throws(ProtocolError) {
            switch kind {
            case .text: relay.receive(client, try ClientFrameDecoder.decodeJSON(message), now: now)
            case .binary: relay.receive(client, .hr(try ClientFrameDecoder.decodeBinary(message)), now: now)
            }
        } catch {
            relay.reject(client, error, now: now)
        }
    }

    /// The relay's frame as it is: shared tick frames are written from the same buffer for every viewer.
    func serverNextFrame(_ id: ConnectionID) -> OutgoingFrame? {
        let client = ClientID(id.rawValue)
        guard let next = relay.nextFrame(client, now: HubClock.nowMs()) else { return nil }
        return OutgoingFrame(
            buffer: next.buffer, kind: next.kind == .text ? .text : .binary, more: relay.hasPendingWrite(client))
    }

    /// What the events of a loop pass asked for is carried out once, after all of them: the record gets one batch,
    /// the transport one write request per connection, the timer one schedule.
    func serverLoopPass() {
        applyEffects(now: HubClock.nowMs())
    }

    func serverConnectionClosed(_ id: ConnectionID) {
        let now = HubClock.nowMs()
        if let address = peers.removeValue(forKey: id) {
            let left = connectionsPerAddress[address, default: 1] - 1
            connectionsPerAddress[address] = left > 0 ? left : nil
        }
        relay.closed(ClientID(id.rawValue), now: now)
        finishDrainIfDone(now: now)
    }

    func serverTick() {
        let now = HubClock.nowMs()
        timerAtMs = .max
        demo?.advance(in: relay, now: now)
        applyRetention(now: now)
        clusterHeartbeat(now: now)
        relay.tick(now: now)
        finishDrainIfDone(now: now)
    }
}

extension Hub {
    /// The token a plain HTTP request carries: `Authorization: Bearer …`, else `?token=…`.
    func bearer(_ request: HTTPRequestHead) -> String? {
        if let token = Access.bearer(from: request.authorization) { return token }
        for pair in (request.query ?? "").split(separator: "&") where pair.hasPrefix("token=") {
            return String(pair.dropFirst(6))
        }
        return nil
    }
}

/// The hub's clock: Unix milliseconds, read once per event and handed to the relay.
enum HubClock {
    static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
