import HRCore
import HRProtocol

/// The NATS subjects hubs use (docs/CLUSTER.md). Class and hub ids are `Identifier`s (`[A-Za-z0-9_-]`), so they
/// are always one valid subject token.
public enum ClusterSubjects {
    /// Every sample a hub accepted for `classID`, batched (`SampleBatch`).
    public static func samples(classID: String) -> String { "hrhub.v1.class.\(classID).samples" }
    /// A hub's heartbeat and presence (`Announcement`).
    public static func hub(_ hubID: String) -> String { "hrhub.v1.hub.\(hubID)" }
    /// Every hub's heartbeat; every hub subscribes to it.
    public static let allHubs = "hrhub.v1.hub.*"
}

/// One NATS message of samples: what one hub accepted for one class in one pass of its loop, encoded once.
///
/// Layout (little-endian; `str` = u8 length + UTF-8): `u8 1 (version)`, `u8 1 (kind)`, `str origin hub`,
/// `str class`, `u16 count`, then per sample: `str participant`, `u32 seq`, `i64 ts`, `i64 arrival`, `u8 bpm`,
/// `u8 flags` (bit 0 contact known, bit 1 contact, bit 2 ee known), `u16 ee`, `u8 rr count`, `u16 rr…`.
public struct SampleBatch: Sendable, Equatable {
    /// The hub that accepted the samples.
    public var origin: String
    /// The class they belong to.
    public var classID: String
    /// In the order the origin accepted them.
    public var samples: [AcceptedSample]

    /// A batch.
    public init(origin: String, classID: String, samples: [AcceptedSample]) {
        self.origin = origin
        self.classID = classID
        self.samples = samples
    }

    static let kind: UInt8 = 1
    /// Samples per message at most (the count is a u16).
    public static let maxSamples = Int(UInt16.max)

    /// The message's bytes. At most `maxSamples` samples (the caller splits larger batches).
    public func encoded() -> [UInt8] {
        precondition(samples.count <= Self.maxSamples, "a batch holds at most \(Self.maxSamples) samples")
        var out = WireWriter()
        out.header(kind: Self.kind)
        out.string(origin)
        out.string(classID)
        out.u16(UInt16(samples.count))
        for entry in samples {
            out.string(entry.participant)
            out.u32(entry.sample.seq)
            out.i64(entry.sample.ts)
            out.i64(entry.arrivalMs)
            out.u8(entry.sample.bpm)
            var flags: UInt8 = 0
            if let contact = entry.sample.contact { flags |= 1 | (contact ? 2 : 0) }
            if entry.sample.ee != nil { flags |= 4 }
            out.u8(flags)
            out.u16(entry.sample.ee ?? 0)
            let rr = entry.sample.rr.prefix(Int(UInt8.max))
            out.u8(UInt8(rr.count))
            for interval in rr { out.u16(interval) }
        }
        return out.bytes
    }

    /// Reads a message; anything malformed (truncated, bad ids, trailing bytes) throws and yields nothing.
    public static func decode(_ bytes: [UInt8]) throws(ClusterWireError) -> SampleBatch {
        var reader = WireReader(bytes)
        try reader.header(kind: kind)
        let origin = try reader.identifier()
        let classID = try reader.identifier()
        let count = Int(try reader.u16())
        var samples: [AcceptedSample] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            let participant = try reader.identifier()
            let seq = try reader.u32()
            let ts = try reader.i64()
            let arrival = try reader.i64()
            let bpm = try reader.u8()
            let flags = try reader.u8()
            let ee = try reader.u16()
            var rr: [UInt16] = []
            for _ in 0..<Int(try reader.u8()) { rr.append(try reader.u16()) }
            let sample = Sample(
                seq: seq, ts: ts, bpm: bpm, rr: rr, contact: flags & 1 != 0 ? flags & 2 != 0 : nil,
                ee: flags & 4 != 0 ? ee : nil)
            samples.append(AcceptedSample(participant, sample, arrivalMs: arrival))
        }
        try reader.end()
        return SampleBatch(origin: origin, classID: classID, samples: samples)
    }
}

/// A hub's heartbeat: who it is and which riders are present on it, per class. Sent every second and whenever
/// its presence changed; a hub not heard from for `ClusterTiming.hubTimeoutMs` is taken for dead.
///
/// Layout: `u8 1`, `u8 2`, `str hub`, `u8 flags` (bit 0: the hub is leaving), `u16 classes`, then per class:
/// `str class`, `u32 viewers`, `u16 riders`, then per rider: `str id`, `i64 since` (connection opened, the hub's clock),
/// `u8 hrmax` (0: unknown), `u8 hrrest` (0: unknown), `u8 name length + 1` (0: no name), name bytes.
public struct Announcement: Sendable, Equatable {
    /// The announcing hub.
    public var hub: String
    /// The hub is shutting down: its riders leave now (no timeout to wait for).
    public var leaving: Bool
    /// Present riders per class (classes without present riders are left out).
    public var classes: [String: [PresentRider]]
    /// Connections viewing each class on the hub (classes without viewers are left out).
    public var viewers: [String: Int]

    /// An announcement.
    public init(hub: String, leaving: Bool = false, classes: [String: [PresentRider]], viewers: [String: Int] = [:]) {
        self.hub = hub
        self.leaving = leaving
        self.classes = classes
        self.viewers = viewers
    }

    static let kind: UInt8 = 2

    /// The message's bytes (classes sorted by id, so equal presence encodes equally).
    public func encoded() -> [UInt8] {
        var out = WireWriter()
        out.header(kind: Self.kind)
        out.string(hub)
        out.u8(leaving ? 1 : 0)
        let ids = Set(classes.keys).union(viewers.keys).sorted().prefix(Int(UInt16.max))
        out.u16(UInt16(ids.count))
        for classID in ids {
            out.string(classID)
            out.u32(UInt32(clamping: viewers[classID] ?? 0))
            let some = (classes[classID] ?? []).prefix(Int(UInt16.max))
            out.u16(UInt16(some.count))
            for rider in some {
                out.string(rider.id)
                out.i64(rider.sinceMs)
                out.profile(rider.profile)
            }
        }
        return out.bytes
    }

    /// Reads a message; anything malformed throws and yields nothing.
    public static func decode(_ bytes: [UInt8]) throws(ClusterWireError) -> Announcement {
        var reader = WireReader(bytes)
        try reader.header(kind: kind)
        let hub = try reader.identifier()
        let leaving = try reader.u8() & 1 != 0
        var classes: [String: [PresentRider]] = [:]
        var viewers: [String: Int] = [:]
        for _ in 0..<Int(try reader.u16()) {
            let classID = try reader.identifier()
            let watching = Int(try reader.u32())
            if watching > 0 { viewers[classID] = watching }
            var riders: [PresentRider] = []
            for _ in 0..<Int(try reader.u16()) {
                let id = try reader.identifier()
                let since = try reader.i64()
                riders.append(PresentRider(id: id, profile: try reader.profile(), sinceMs: since))
            }
            if !riders.isEmpty { classes[classID] = riders }
        }
        try reader.end()
        return Announcement(hub: hub, leaving: leaving, classes: classes, viewers: viewers)
    }
}

/// Why a cluster message was not read.
public struct ClusterWireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was wrong, for logs and metrics.
    public let reason: String

    init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}

/// Appends little-endian fields.
struct WireWriter {
    var bytes: [UInt8] = []

    mutating func header(kind: UInt8) {
        u8(1)
        u8(kind)
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    /// A profile: hrmax and hrrest (0: none), then the name's UTF-8 length + 1 (0: no name) and its bytes (at most
    /// 254). The presence announcements and the record's profile messages share it.
    mutating func profile(_ profile: Profile) {
        u8(UInt8(clamping: profile.hrmax ?? 0))
        u8(UInt8(clamping: profile.hrrest ?? 0))
        if let name = profile.name {
            let utf8 = Array(name.utf8.prefix(254))
            u8(UInt8(utf8.count + 1))
            bytes.append(contentsOf: utf8)
        } else {
            u8(0)
        }
    }
    mutating func u16(_ value: UInt16) { bytes.appendLittleEndian(value) }
    mutating func u32(_ value: UInt32) { bytes.appendLittleEndian(value) }
    mutating func i64(_ value: Int64) { bytes.appendLittleEndian(UInt64(bitPattern: value)) }

    /// An id: u8 length and its bytes (ids are at most 64 bytes).
    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8.prefix(Int(UInt8.max)))
        u8(UInt8(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

/// Reads little-endian fields, throwing on anything short or malformed.
struct WireReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func header(kind: UInt8) throws(ClusterWireError) {
        let version = try u8()
        guard version == 1 else { throw ClusterWireError("unknown version \(version)") }
        let found = try u8()
        guard found == kind else { throw ClusterWireError("expected message kind \(kind), found \(found)") }
    }

    mutating func end() throws(ClusterWireError) {
        guard offset == bytes.count else { throw ClusterWireError("\(bytes.count - offset) bytes after the message") }
    }

    private mutating func take(_ count: Int) throws(ClusterWireError) -> ArraySlice<UInt8> {
        guard bytes.count - offset >= count else { throw ClusterWireError("message truncated at byte \(offset)") }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(ClusterWireError) -> T {
        var value: T = 0
        for (shift, byte) in try take(MemoryLayout<T>.size).enumerated() { value |= T(truncatingIfNeeded: byte) << (8 * shift) }
        return value
    }

    mutating func u8() throws(ClusterWireError) -> UInt8 { try integer(UInt8.self) }

    /// A profile as `WireWriter.profile` writes it.
    mutating func profile() throws(ClusterWireError) -> Profile {
        let hrmax = try u8()
        let hrrest = try u8()
        let nameLength = Int(try u8())
        var profile = Profile(hrmax: hrmax == 0 ? nil : Int(hrmax), hrrest: hrrest == 0 ? nil : Int(hrrest))
        if nameLength > 0 { profile.name = try utf8(count: nameLength - 1) }
        return profile
    }
    mutating func u16() throws(ClusterWireError) -> UInt16 { try integer(UInt16.self) }
    mutating func u32() throws(ClusterWireError) -> UInt32 { try integer(UInt32.self) }
    mutating func i64() throws(ClusterWireError) -> Int64 { try integer(Int64.self) }

    mutating func utf8(count: Int) throws(ClusterWireError) -> String {
        guard let text = String(validating: try take(count), as: UTF8.self) else {
            throw ClusterWireError("text at byte \(offset - count) is not UTF-8")
        }
        return text
    }

    /// An id (u8 length, then the bytes): must be an `Identifier`.
    mutating func identifier() throws(ClusterWireError) -> String {
        let id = try utf8(count: Int(try u8()))
        guard Identifier.isValid(id) else { throw ClusterWireError("'\(id)' is not an id (\(Identifier.rule))") }
        return id
    }
}
