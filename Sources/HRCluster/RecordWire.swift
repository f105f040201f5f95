import HRProtocol

/// The class record in JetStream (docs/CLUSTER.md, "The record in JetStream"): the stream, its subjects, the
/// message ids it dedupes by, and the layout of its messages. Pure: no C, no I/O.
public enum RecordSubjects {
    /// The stream that holds every hub's record.
    public static let stream = "HRHUB_RECORD"
    /// The subjects the stream takes: samples and profiles.
    public static let streamSubjects = ["hrhub.v1.record.>", "hrhub.v1.profile.>"]

    /// Every accepted sample of `participant` in `classID` (one message per sample, `RecordMessage`).
    public static func samples(classID: String, participant: String) -> String {
        "hrhub.v1.record.\(classID).\(participant)"
    }

    /// Every participant's samples in `classID`.
    public static func classSamples(_ classID: String) -> String { "hrhub.v1.record.\(classID).*" }

    /// `participant`'s profiles in `classID` (`ProfileMessage`, the newest wins).
    public static func profile(classID: String, participant: String) -> String {
        "hrhub.v1.profile.\(classID).\(participant)"
    }

    /// Every participant's profiles in `classID`.
    public static func classProfiles(_ classID: String) -> String { "hrhub.v1.profile.\(classID).*" }

    /// Every recorded sample of every class.
    public static let allSamples = "hrhub.v1.record.>"

    /// `Nats-Msg-Id` of a sample: the record's key, so the stream stores a key once within its duplicate window.
    public static func messageID(classID: String, participant: String, seq: UInt32) -> String {
        "\(classID)/\(participant)/\(seq)"
    }

    /// The class and participant tokens of a sample or profile subject (`hrhub.v1.record.C.P`), or nil.
    public static func parse(_ subject: String) -> (classID: String, participant: String)? {
        let tokens = subject.split(separator: ".", omittingEmptySubsequences: false)
        guard tokens.count == 5, tokens[0] == "hrhub", tokens[1] == "v1",
            tokens[2] == "record" || tokens[2] == "profile"
        else { return nil }
        let classID = String(tokens[3])
        let participant = String(tokens[4])
        guard Identifier.isValid(classID), Identifier.isValid(participant) else { return nil }
        return (classID, participant)
    }
}

/// One recorded sample as a stream message; class and participant are in the subject.
///
/// Layout (little-endian): `u8 1 (version)`, `u8 3 (kind)`, `u32 seq`, `u32 high`, `i64 ts`, `i64 rts`, `u8 bpm`,
/// `u8 flags` (bit 0 contact known, bit 1 contact, bit 2 ee known, bit 3 zone known), `u16 ee`, `u8 zone`,
/// `u8 rr count`, `u16 rr…`. About 35 bytes.
///
/// `high` is the highest seq of the participant the publisher knew to be in the stream or being published with
/// this one (at least `seq`): the newest message of a subject (last-message-by-subject) then gives the participant's
/// highest seq even after a backfill of lower seqs.
public enum RecordMessage {
    static let kind: UInt8 = 3

    /// The payload of `recorded` (its class and participant go in the subject); `high` defaults to its seq.
    public static func encode(_ recorded: RecordedSample, high: UInt32? = nil) -> [UInt8] {
        let sample = recorded.sample
        var out = WireWriter()
        out.header(kind: kind)
        out.u32(sample.seq)
        out.u32(max(high ?? sample.seq, sample.seq))
        out.i64(sample.ts)
        out.i64(recorded.rts)
        out.u8(sample.bpm)
        var flags: UInt8 = 0
        if let contact = sample.contact { flags |= 1 | (contact ? 2 : 0) }
        if sample.ee != nil { flags |= 4 }
        if recorded.zone != nil { flags |= 8 }
        out.u8(flags)
        out.u16(sample.ee ?? 0)
        out.u8(recorded.zone ?? 0)
        let rr = sample.rr.prefix(Int(UInt8.max))
        out.u8(UInt8(rr.count))
        for interval in rr { out.u16(interval) }
        return out.bytes
    }

    /// Reads a payload of `participant` in `classID`; anything malformed throws.
    public static func decode(
        _ bytes: [UInt8], classID: String, participant: String
    ) throws(ClusterWireError) -> RecordedSample {
        try decodeWithHigh(bytes, classID: classID, participant: participant).sample
    }

    /// Reads a payload with its `high`.
    public static func decodeWithHigh(
        _ bytes: [UInt8], classID: String, participant: String
    ) throws(ClusterWireError) -> (sample: RecordedSample, high: UInt32) {
        var reader = WireReader(bytes)
        try reader.header(kind: kind)
        let seq = try reader.u32()
        let high = try reader.u32()
        let ts = try reader.i64()
        let rts = try reader.i64()
        let bpm = try reader.u8()
        let flags = try reader.u8()
        let ee = try reader.u16()
        let zone = try reader.u8()
        var rr: [UInt16] = []
        for _ in 0..<Int(try reader.u8()) { rr.append(try reader.u16()) }
        try reader.end()
        let sample = Sample(
            seq: seq, ts: ts, bpm: bpm, rr: rr, contact: flags & 1 != 0 ? flags & 2 != 0 : nil,
            ee: flags & 4 != 0 ? ee : nil)
        let recorded = RecordedSample(
            classID: classID, participant: participant, sample: sample, rts: rts, zone: flags & 8 != 0 ? zone : nil)
        return (recorded, max(high, seq))
    }
}

/// A participant's profile as a stream message: `u8 1`, `u8 4`, `u8 hrmax` (0: unknown), `u8 hrrest` (0: unknown),
/// `u8 name length + 1` (0: no name), name bytes.
public enum ProfileMessage {
    static let kind: UInt8 = 4

    /// The payload of `profile`.
    public static func encode(_ profile: Profile) -> [UInt8] {
        var out = WireWriter()
        out.header(kind: kind)
        out.profile(profile)
        return out.bytes
    }

    /// Reads a payload; anything malformed throws.
    public static func decode(_ bytes: [UInt8]) throws(ClusterWireError) -> Profile {
        var reader = WireReader(bytes)
        try reader.header(kind: kind)
        let profile = try reader.profile()
        try reader.end()
        return profile
    }
}
