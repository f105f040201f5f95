import HRProbeCore
import HRProtocol
import LWSTransport

/// Sending samples on schedule and accounting for what comes back.
extension LoadSession {
    // MARK: - Sending (open loop)

    /// Takes rider `r`'s sample that is due now and queues it; schedules the next one. The sample's `ts` is its
    /// intended send time, whatever delays the probe, so lag measured from it includes every stall.
    func sendSample(rider r: Int, now: Int64) {
        guard stage == .running, riders[r].sending, riders[r].device != nil else { return }
        let schedule = plan.schedule
        let intendedUs = riders[r].dueUs(index: riders[r].nextIndex, schedule)
        guard intendedUs < measureEndUs else {
            riders[r].sending = false
            return
        }
        // `ts` is the due time in whole ms (rounded down); a viewer in this process recovers the exact µs from
        // the seq (`RiderState.dueUs(seq:)`).
        let dueMs = intendedUs.quotient(1_000)
        var sample = riders[r].device!.sample(at: dueMs)
        if plan.role == .publish, let offsetUs = result.clock.offsetUs {
            // Stamped in the hub's clock for a viewer elsewhere, rounded to the nearest ms (±0.5 ms, in the bound).
            sample.ts = (intendedUs + offsetUs + 500).quotient(1_000)
        }
        if riders[r].measuredFrom == nil && intendedUs >= measureStartUs { riders[r].measuredFrom = sample.seq }
        let bytes: [UInt8]
        var kind: FrameKind = plan.binary ? .binary : .text
        switch plan.target {
        case .hrhub:
            bytes = plan.binary ? ClientFrameEncoder.binary(sample) : ClientFrameEncoder.json(.hr(sample))
        case .wsBroadcast:
            bytes = peerPayload(sample, rider: r, dueMs: dueMs)
        case .nats:
            bytes = PeerWire.natsPublish(
                subject: peerChannels[riders[r].classIndex], payload: peerPayload(sample, rider: r, dueMs: dueMs))
        case .mqtt:
            bytes = PeerWire.mqttPublish(
                topic: peerChannels[riders[r].classIndex], payload: peerPayload(sample, rider: r, dueMs: dueMs))
            kind = .binary
        }
        var frame = OutboundFrame(seq: sample.seq, intendedUs: intendedUs, bytes: bytes, kind: kind, replay: false)
        if riders[r].firmware != nil {
            riders[r].captured += 1
            if riders[r].isMeasured(sample.seq) { riders[r].capturedInWindow += 1 }
            // The device buffers it either way; it goes out now only on a live link.
            if riders[r].firmware!.capture(sample, nowUs: intendedUs), let c = riders[r].connection,
                connections[c].welcomed
            {
                enqueue(c, frame)
            }
        } else if let c = riders[r].connection, connections[c].welcomed {
            enqueue(c, frame)
        } else {
            frame.replay = true
            riders[r].backlog.append(frame)
        }
        riders[r].nextIndex += 1
        let nextUs = riders[r].dueUs(index: riders[r].nextIndex, schedule)
        queue.push(DueQueue.Event(dueUs: nextUs, kind: .sample, index: r))
    }

    /// What a peer relays for a sample: the frame a hub viewer would receive for it (`[{"t":"hr","p":…}]`), with
    /// the due time as `rts` (a peer stamps nothing) and `pct`/`zone` from the rider's profile.
    private func peerPayload(_ sample: Sample, rider r: Int, dueMs: Int64) -> [UInt8] {
        let pct = Zones.pct(bpm: sample.bpm, hrmax: riders[r].device?.profile.hrmax)
        let relayed = RelayedSample(
            p: ParticipantNumbering.id(riders[r].indexInClass), sample: sample, rts: dueMs, pct: pct,
            zone: pct.map { Zones.zone(pct: $0) })
        return HubFrameEncoder.frame([.hr(relayed)])
    }

    func clientNextFrame(_ id: ConnectionID, into frame: inout [UInt8]) -> FrameKind? {
        guard let index = connectionByID[id.rawValue], let next = connections[index].takeOutbound() else {
            return nil
        }
        frame.append(contentsOf: next.bytes)
        if let seq = next.seq, let r = connections[index].rider {
            let now = ProbeClock.nowUs()
            riders[r].noteWritten(seq: seq, us: now)
            if plan.target == .hrhub { boardStaleness.wrote(rider: r, seq: seq, us: now) }
            if riders[r].isMeasured(seq) {
                if next.replay {
                    result.samplesResent += 1
                } else {
                    result.samplesSent += 1
                    result.send.record(now - next.intendedUs)
                }
            }
            sentSinceProgress += 1
            if riders[r].firmware != nil {
                riders[r].firmware!.wrote(seq: seq, nowUs: now)
            } else {
                riders[r].recent.append(next)
                if riders[r].recent.count > RiderState.resendDepth { riders[r].recent.removeFirst() }
            }
        }
        return next.kind
    }

    /// Sends a `ping` on the first welcomed connection; its `pong` feeds the clock estimate.
    func ping(now: Int64) {
        guard stage != .closing && stage != .done, plan.target == .hrhub,
            let index = connections.firstIndex(where: { $0.welcomed && !$0.slow })
        else { return }
        let id = nextPingID
        nextPingID += 1
        pingSentUs[id] = now
        if pingSentUs.count > 64, let oldest = pingSentUs.keys.min() { pingSentUs[oldest] = nil }
        let bytes = ClientFrameEncoder.json(.ping(id: .number(id), ct: now / 1_000))
        enqueue(index, OutboundFrame(seq: nil, intendedUs: now, bytes: bytes, kind: .text, replay: false))
    }

    // MARK: - Receiving

    func clientReceived(_ id: ConnectionID, message: UnsafeRawBufferPointer, kind: FrameKind) {
        guard let index = connectionByID[id.rawValue] else { return }
        let now = ProbeClock.nowUs()
        if plan.firmware { firmwareHeard(index, now: now) }
        guard plan.target == .hrhub else {
            peerReceived(index, message, now: now)
            return
        }
        switch kind {
        case .binary:
            if scanSamples(message, binary: true, on: index, now: now).malformed { result.malformedFrames += 1 }
        case .text:
            var noted: [ScannedMessage] = []
            let summary = scanSamples(message, binary: false, on: index, now: now, noted: &noted)
            // Boards and acks in frame order, after the frame's samples (they touch neither streams nor lags).
            for m in noted { boardOrAck(m, in: message, on: index, now: now) }
            if summary.malformed {
                result.malformedFrames += 1
            } else if summary.hasOtherMessages {
                handleControl(index, message, now: now)
            }
        }
    }

    /// A `board` or an `ack` the scanner found on connection `index`.
    private func boardOrAck(_ m: ScannedMessage, in bytes: UnsafeRawBufferPointer, on index: Int, now: Int64) {
        switch m.kind {
        case .board:
            boardReceived(atMs: m.at, bytes: m.span.count, on: index, now: now)
        case .ack:
            if let r = connections[index].rider {
                firmwareAcked(rider: r, seq: m.seq, now: now)
                boardStaleness.acked(rider: r, classIndex: connections[index].classIndex, seq: m.seq, us: now)
            }
        case .hr, .gap:
            break
        }
    }

    /// The samples and gaps of one frame (a hub's, or a sample frame a peer relayed) on viewing connection `index`.
    ///
    /// The hot path: at saturation this runs for every delivery. What every sample of the frame shares is worked out
    /// once (`ViewerFrame`), and the state the samples update is borrowed for the whole frame (`inout`), so each
    /// sample pays no dynamic exclusivity check on the session's properties (a class's stored `var`s are checked at
    /// run time on every access, ~20 per sample before).
    ///
    /// `board`s and `ack`s found in a JSON frame are appended to `noted` for the caller (they need the session, which
    /// is borrowed while the frame is accounted). On a connection that does not view (a strap), samples and gaps are
    /// not expected and are skipped; its acks are noted all the same.
    private func scanSamples(
        _ message: UnsafeRawBufferPointer, binary: Bool, on index: Int, now: Int64
    ) -> HubFrameScanner.Summary {
        var noted: [ScannedMessage] = []
        return scanSamples(message, binary: binary, on: index, now: now, noted: &noted)
    }

    private func scanSamples(
        _ message: UnsafeRawBufferPointer, binary: Bool, on index: Int, now: Int64, noted: inout [ScannedMessage]
    ) -> HubFrameScanner.Summary {
        let frame = viewerFrame(on: index, now: now)
        let before = result.samplesReceived
        let summary = Self.account(
            message, binary: binary, frame, connections: connections, result: &result, streams: &streams,
            riders: &riders, recentLag: &recentLag, noted: &noted)
        receivedSinceProgress += result.samplesReceived - before
        return summary
    }

    /// The facts every sample of a frame on viewing connection `index` shares; nil for a connection that does not view.
    private func viewerFrame(on index: Int, now: Int64) -> ViewerFrame? {
        // Field by field: a copy of the whole `ProbeConnection` would retain its outbox and strings, per frame.
        guard let slot = connections[index].viewerSlot else { return nil }
        let k = connections[index].classIndex
        return ViewerFrame(
            slot: slot, classIndex: k, riderBase: classes[k].riderBase, riders: classes[k].riders,
            streamBase: classes[k].streamBase, slow: connections[index].slow,
            openNormalViewers: classes[k].openNormalViewers,
            now: now,
            // Across machines the delivery time is moved into the hub's clock, where the publisher stamped `ts`.
            arrivalUs: plan.role == .view ? now + (result.clock.offsetUs ?? 0) : now,
            role: plan.role, schedule: plan.schedule, stamped: plan.target.stampsReceiveTime,
            echoes: plan.target.echoesToSender, measureStartUs: measureStartUs, measureEndUs: measureEndUs)
    }

    /// Scans one frame and accounts each sample and gap against `frame`'s streams (see `scanSamples`).
    private static func account(
        _ message: UnsafeRawBufferPointer, binary: Bool, _ frame: ViewerFrame?, connections: [ProbeConnection],
        result: inout RunResult, streams: inout [StreamAccount], riders: inout [RiderState],
        recentLag: inout LagDistribution, noted: inout [ScannedMessage]
    ) -> HubFrameScanner.Summary {
        if binary {
            let ok = HubFrameScanner.scanBinary(message) { m in
                guard let frame else { return }
                relayed(
                    m, frame, in: message, connections: connections, result: &result, streams: &streams,
                    riders: &riders, recentLag: &recentLag)
            }
            return HubFrameScanner.Summary(malformed: !ok)
        }
        return HubFrameScanner.scanJSON(message) { m in
            switch m.kind {
            case .hr:
                guard let frame else { return }
                relayed(
                    m, frame, in: message, connections: connections, result: &result, streams: &streams,
                    riders: &riders, recentLag: &recentLag)
            case .gap:
                guard let frame else { return }
                gap(m, frame, in: message, result: &result, streams: &streams, riders: &riders)
            case .board, .ack:
                noted.append(m)
            }
        }
    }

    /// A WebSocket message from a peer relay: its protocol messages, each a payload (samples), an
    /// acknowledgement (the connection is ready), a ping, or an error.
    private func peerReceived(_ index: Int, _ message: UnsafeRawBufferPointer, now: Int64) {
        let target = plan.target
        var reader = peerReaders[index]
        peerReaders[index] = PeerStreamReader()
        let ok = reader.feed(message, target: target) { event in
            switch event {
            case .payload(let payload):
                guard connections[index].viewerSlot != nil else { return }
                if scanSamples(payload, binary: false, on: index, now: now).malformed { result.malformedFrames += 1 }
            case .ping:
                enqueue(index, Self.control(PeerWire.natsPong, kind: .text))
            case .acknowledged(let what):
                switch what {
                case .pong:
                    ready(index, lastSeq: nil)
                case .connack:
                    if connections[index].kind.views {
                        let topic = target.channel(classID: classes[connections[index].classIndex].id)
                        enqueue(index, Self.control(PeerWire.mqttSubscribe(topic: topic), kind: .binary))
                    } else {
                        ready(index, lastSeq: nil)
                    }
                case .suback:
                    ready(index, lastSeq: nil)
                }
            case .error(let text):
                result.hubErrors[text, default: 0] += 1
                logger.debug("peer error", metadata: ["error": "\(text)"])
            }
        }
        if !ok { result.malformedFrames += 1 }
        // Put the reader back unless the connection was replaced meanwhile (a close resets it).
        if connections[index].id != nil { peerReaders[index] = reader }
    }

    /// One relayed sample: accounting, then the lag distributions.
    private static func relayed(
        _ m: ScannedMessage, _ frame: ViewerFrame, in bytes: UnsafeRawBufferPointer, connections: [ProbeConnection],
        result: inout RunResult, streams: inout [StreamAccount], riders: inout [RiderState],
        recentLag: inout LagDistribution
    ) {
        guard let (s, r) = frame.stream(for: m.p, in: bytes, streamCount: streams.count) else {
            result.foreignSamples += 1
            return
        }
        result.samplesReceived += 1
        // The due time to the µs when this process made the sample (`ts` has whole ms); a publisher elsewhere
        // stamped `ts` in the hub's clock, which is all a view-only run knows.
        let intendedUs = frame.role == .both ? riders[r].dueUs(seq: m.seq, frame.schedule) ?? m.ts * 1_000 : m.ts * 1_000
        let arrivalUs = frame.arrivalUs
        let lagUs = arrivalUs - intendedUs
        if frame.role == .view && riders[r].measuredFrom == nil && intendedUs >= frame.measureStartUs
            && intendedUs < frame.measureEndUs
        {
            riders[r].measuredFrom = m.seq
        }
        if riders[r].lastObservedSeq.map({ RiderState.isAfter(m.seq, $0) }) ?? true {
            riders[r].lastObservedSeq = m.seq
        }
        let measuredFrom = riders[r].measuredFrom
        let outcome = streams[s].deliver(seq: m.seq, transitUs: lagUs, measuredFrom: measuredFrom)
        guard outcome != .duplicate && outcome != .outsideWindow, riders[r].isMeasured(m.seq) else { return }
        if frame.slow {
            result.slowLag.record(lagUs)
            return
        }
        result.lag.record(lagUs)
        recentLag.record(lagUs)
        result.classes[frame.classIndex].lag.record(lagUs)
        if frame.stamped { result.egress.record(arrivalUs - (m.rts * 1_000 + 500)) }
        guard frame.role == .both else { return }
        let now = frame.now
        if let writtenUs = riders[r].writtenAt(seq: m.seq) {
            result.uncorrected.record(now - writtenUs)
            if frame.stamped { result.ingress.record(m.rts * 1_000 + 500 - writtenUs) }
        }
        // A relay that does not echo owes the rider's own app nothing.
        var viewers = frame.openNormalViewers
        if !frame.echoes, let c = riders[r].connection, connections[c].kind.views, connections[c].isOpen {
            viewers -= 1
        }
        if let fanOut = riders[r].fanOutDelivered(seq: m.seq, intendedUs: intendedUs, us: now, viewers: viewers) {
            result.fanOut.record(fanOut)
        }
    }

    /// One gap: accounting, and the fan-out of the named samples never completes.
    private static func gap(
        _ m: ScannedMessage, _ frame: ViewerFrame, in bytes: UnsafeRawBufferPointer, result: inout RunResult,
        streams: inout [StreamAccount], riders: inout [RiderState]
    ) {
        guard let (s, r) = frame.stream(for: m.p, in: bytes, streamCount: streams.count) else {
            result.foreignSamples += 1
            return
        }
        streams[s].gap(
            fromSeq: m.fromSeq, toSeq: m.toSeq, count: m.count, reason: m.reason,
            measuredFrom: riders[r].measuredFrom)
        if riders[r].lastObservedSeq.map({ RiderState.isAfter(m.toSeq, $0) }) ?? true {
            riders[r].lastObservedSeq = m.toSeq
        }
        guard !frame.slow else { return }
        var seq = m.fromSeq
        var n = 0
        while n < RiderState.ringSize {
            riders[r].fanOutMissed(seq: seq)
            if seq == m.toSeq { break }
            seq &+= 1
            n += 1
        }
    }

    /// The rare frames with control messages, decoded in full: welcome, pong, error. Their `ack`s and `board`s were
    /// handled with the frame's scan (`boardOrAck`) and are skipped here.
    private func handleControl(_ index: Int, _ bytes: UnsafeRawBufferPointer, now: Int64) {
        let messages: [HubMessage]
        do {
            messages = try HubFrameDecoder.decodeJSON(bytes)
        } catch {
            result.malformedFrames += 1
            logger.warning("undecodable frame from the hub", metadata: ["error": "\(error.message)"])
            return
        }
        for message in messages {
            switch message {
            case .welcome(let welcome):
                welcomed(index, welcome)
            case .pong(.number(let id), _, let ht):
                if let sentUs = pingSentUs.removeValue(forKey: id) {
                    result.clock.add(sentUs: sentUs, hubMs: ht, receivedUs: now)
                }
            case .error(let error):
                result.hubErrors[error.code.rawValue, default: 0] += 1
                logger.debug("hub error", metadata: ["code": "\(error.code.rawValue)", "msg": "\(error.message)"])
            default:
                break
            }
        }
    }
}

extension LoadSession {
    /// A `board` built at `atMs` (the hub's clock), `bytes` long as the hub encoded it, on viewing connection `index`:
    /// the staleness of the samples it shows for the first time there (written in the measured window; on a
    /// participant's connection, its own samples too, exactly), and, arriving in the window, its bytes.
    func boardReceived(atMs: Int64, bytes: Int, on index: Int, now: Int64) {
        guard connections[index].viewerSlot != nil else { return }
        // `at` into the probe's clock (the same clock on one machine; the ping estimate across machines).
        let atUs = atMs * 1_000 - (result.clock.offsetUs ?? 0)
        let (start, end) = (measureStartUs, measureEndUs)
        boardStaleness.board(
            screen: index, classIndex: connections[index].classIndex, atUs: atUs, arrivedUs: now
        ) { writtenUs, stalenessUs in
            if writtenUs >= start && writtenUs < end { result.boardStaleness.record(stalenessUs) }
        }
        if let r = connections[index].rider {
            boardStaleness.ownBoard(rider: r, arrivedUs: now) { writtenUs, stalenessUs in
                if writtenUs >= start && writtenUs < end { result.ownBoardStaleness.record(stalenessUs) }
            }
        }
        guard now >= start && now < end else { return }
        result.boardsReceived += 1
        result.boardBytes += bytes
        result.boardScreens.insert(index)
    }
}

extension Int64 {
    /// Floor division (rounds towards minus infinity).
    fileprivate func quotient(_ divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
