import HRCore
import HRProtocol
import Testing

/// One frame a client was given: its kind and payload.
struct Frame {
    var kind: OutboundFrameKind
    var bytes: [UInt8]

    /// The frame's messages: a text frame decoded as a JSON array, a binary frame as relayed samples.
    func messages(sourceLocation: SourceLocation = #_sourceLocation) -> [HubMessage] {
        do {
            switch kind {
            case .text: return try HubFrameDecoder.decodeJSON(bytes)
            case .binary: return try HubFrameDecoder.decodeBinary(bytes).map { .hr($0) }
            }
        } catch {
            Issue.record("undecodable \(kind) frame: \(error.message)", sourceLocation: sourceLocation)
            return []
        }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// A `Relay` with a manual clock and small helpers to open clients, send messages and read what they were sent.
///
/// The jitter buffer and the class tick are off unless a test turns them on, so samples are released on arrival
/// and every test is about the relay's own rules; housekeeping runs on every `tick` unless a test throttles it.
/// Effects the relay records accumulate until `takeEffects()` takes them.
final class RelayHarness {
    let relay: Relay
    /// The hub's clock, Unix ms. Only tests move it.
    var now: Int64 = 1_700_000_000_000
    let classID: String
    private var nextID: UInt64 = 1
    private var recorded: [RelayEffect] = []

    /// The record the relay was given: its `readRecord` effects are answered from it at once, unless a test holds
    /// them (`holdsRecordReads`) to answer them itself (`answerRecordReads`).
    private let record: RecordIndex?
    var holdsRecordReads = false
    private(set) var heldRecordReads: [(classID: String, participant: String)] = []

    init(classID: String = "spin", record: RecordIndex? = nil, configure: (inout RelayConfig) -> Void = { _ in }) {
        self.record = record
        var config = RelayConfig()
        config.jitterBuffer = false
        config.housekeepingMs = 0
        config.tickMs = 0
        configure(&config)
        relay = Relay(config: config, record: record)
        self.classID = classID
    }

    var config: RelayConfig { relay.config }
    var counters: RelayCounters { relay.counters }

    func advance(_ ms: Int64) { now += ms }

    // MARK: Connections

    /// Opens a connection and returns its id.
    @discardableResult
    func open(
        _ role: Role, _ participant: String? = nil, mode: DeliveryMode = .all, format: WireFormat = .json,
        classID: String? = nil, isVirtual: Bool = false, board: Int = ConnectRequest.defaultBoard
    ) -> ClientID {
        let id = ClientID(nextID)
        nextID += 1
        let request = ConnectRequest(
            classID: classID ?? self.classID, role: role, participant: participant, mode: mode, board: board)
        relay.open(id, request: request, format: format, now: now, isVirtual: isVirtual)
        collect()
        return id
    }

    func publisher(_ participant: String, format: WireFormat = .json) -> ClientID {
        open(.publisher, participant, format: format)
    }

    func viewer(mode: DeliveryMode = .all, format: WireFormat = .json) -> ClientID {
        open(.viewer, mode: mode, format: format)
    }

    /// Opens a viewer and throws away its welcome and snapshot.
    func quietViewer(mode: DeliveryMode = .all, format: WireFormat = .json) -> ClientID {
        let id = viewer(mode: mode, format: format)
        _ = messages(id)
        return id
    }

    func close(_ id: ClientID) {
        relay.closed(id, now: now)
        collect()
    }

    // MARK: Messages

    func send(_ id: ClientID, _ message: ClientMessage) {
        relay.receive(id, message, now: now)
        collect()
    }

    /// Sends a sample; `ts` defaults to now (a device in sync with the hub, no network delay).
    func hr(_ id: ClientID, seq: UInt32, bpm: UInt8 = 120, ts: Int64? = nil, rr: [UInt16] = []) {
        send(id, .hr(Sample(seq: seq, ts: ts ?? now, bpm: bpm, rr: rr)))
    }

    func hello(_ id: ClientID, name: String? = nil, hrmax: Int? = nil, hrrest: Int? = nil) {
        send(id, .hello(Profile(name: name, hrmax: hrmax, hrrest: hrrest)))
    }

    func tick() {
        relay.tick(now: now)
        collect()
    }

    // MARK: Output

    /// Every frame the client has pending, drained at the current time.
    func frames(_ id: ClientID) -> [Frame] {
        var frames: [Frame] = []
        while true {
            guard let frame = relay.nextFrame(id, now: now) else { break }
            frames.append(Frame(kind: frame.kind, bytes: frame.buffer.payload))
            if frames.count > 100_000 {
                Issue.record("nextFrame never returned nil")
                break
            }
        }
        return frames
    }

    /// Every message the client has pending, in order, decoded.
    func messages(_ id: ClientID, sourceLocation: SourceLocation = #_sourceLocation) -> [HubMessage] {
        frames(id).flatMap { $0.messages(sourceLocation: sourceLocation) }
    }

    /// The effects recorded since the last call.
    func takeEffects() -> [RelayEffect] {
        collect()
        defer { recorded.removeAll() }
        return recorded
    }

    /// Answers the record reads held so far, in the order they were asked for.
    func answerRecordReads() {
        let reads = heldRecordReads
        heldRecordReads.removeAll()
        for read in reads { answer(read.classID, read.participant) }
        collect()
    }

    private func answer(_ classID: String, _ participant: String) {
        let found = record?.recorded(classID: classID, participant: participant, limit: Int(SeqWindow.width))
        relay.recordRead(
            classID: classID, participant: participant, seqs: found?.seqs ?? [], profile: found?.profile, now: now)
    }

    private func collect() {
        var effects = relay.takeEffects()
        while !effects.isEmpty {
            var reads: [(String, String)] = []
            for effect in effects {
                if case .readRecord(let classID, let participant) = effect {
                    if holdsRecordReads {
                        heldRecordReads.append((classID, participant))
                    } else {
                        reads.append((classID, participant))
                    }
                } else {
                    recorded.append(effect)
                }
            }
            for (classID, participant) in reads { answer(classID, participant) }
            effects = relay.takeEffects()
        }
    }
}

// MARK: - Reading messages

extension HubMessage {
    var sample: RelayedSample? {
        if case .hr(let sample) = self { return sample }
        return nil
    }

    var gap: Gap? {
        if case .gap(let gap) = self { return gap }
        return nil
    }

    var error: ProtocolError? {
        if case .error(let error) = self { return error }
        return nil
    }

    var ack: UInt32? {
        if case .ack(let seq) = self { return seq }
        return nil
    }

    var welcome: Welcome? {
        if case .welcome(let welcome) = self { return welcome }
        return nil
    }

    var board: Board? {
        if case .board(let board) = self { return board }
        return nil
    }

    var snapshot: [SnapshotEntry]? {
        if case .snapshot(let entries) = self { return entries }
        return nil
    }

    /// Whether this is a `join` or a `leave`.
    var isPresence: Bool {
        switch self {
        case .join, .leave: true
        default: false
        }
    }
}

extension [HubMessage] {
    var samples: [RelayedSample] { compactMap(\.sample) }
    var gaps: [Gap] { compactMap(\.gap) }
    var errors: [ProtocolError] { compactMap(\.error) }
    var acks: [UInt32] { compactMap(\.ack) }
    var boards: [Board] { compactMap(\.board) }
    func seqs(of p: String) -> [UInt32] { samples.filter { $0.p == p }.map(\.sample.seq) }
}

// MARK: - Deterministic randomness

/// SplitMix64: a tiny seedable generator, so randomized tests replay exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A sample as a test builds one for `SendQueue`: participant, seq and the hub time it was captured.
func outbound(_ p: String, _ seq: UInt32, captureHubMs: Int64 = 0, bpm: UInt8 = 120, rr: [UInt16] = [])
    -> OutboundMessage
{
    let sample = Sample(seq: seq, ts: captureHubMs, bpm: bpm, rr: rr)
    return OutboundMessage(sample: RelayedSample(p: p, sample: sample, rts: captureHubMs), captureHubMs: captureHubMs)
}
