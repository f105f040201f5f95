import Foundation
import HRProbeCore
import HRProtocol
import HRSimulation
import LWSTransport
import Logging

/// The connections: laid out from the plan, opened in batches, and what happens as each one opens, is
/// welcomed and closes.
extension LoadSession {
    // MARK: - Plan
    /// Lays out classes, riders, connections (viewers first, so they listen before anyone publishes) and, for
    /// a view-only run, the streams.
    func buildConnections() {
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
        boardStaleness = BoardStaleness(classes: classes.count, riders: riders.count)
        var slowPicker = SplitMix64(seed: plan.seed, stream: 0x534C_4F57)  // "SLOW"
        // The draws of the viewers before this session's first class (`RunPlan.shares`): the same screens are slow.
        for _ in 0..<(plan.firstClass * plan.viewers) { _ = slowPicker.unit() }
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
                    if slot != nil {
                        classes[k].viewerConnections.append(connections.count)
                        boardStaleness.viewsOwnSamples(rider: rider)
                    }
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

    /// Opens the next batch of connections.
    func connectBatch() {
        // The sessions of a `--threads` run share the bound (the hub's accept queue is one).
        let bound = max(1, Self.maxHandshaking / sendingStart.sessions)
        let room = max(0, min(Self.connectBatch, bound - handshaking))
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
        boardStaleness.closed(screen: index)
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
        let now = ProbeClock.nowUs()
        var reconnectUs = now + StormPlan.backoffUs(attempt: was.attempts, unit: rng.unit())
        if let r = was.rider, riders[r].firmware != nil { reconnectUs = firmwareLinkLost(rider: r, now: now) }
        connections[index].attempts += 1
        queue.push(DueQueue.Event(dueUs: reconnectUs, kind: .reconnect, index: index))
    }

    /// A viewing connection closed: its streams' open holes are `lostAtClose` and they start afresh.
    func closeStreams(of index: Int) {
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
        if riders[r].firmware != nil {
            firmwareWelcomed(index, rider: r, lastSeq: lastSeq, now: ProbeClock.nowUs())
            return
        }
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
