import Foundation

/// Decodes what the hub sends (used by the probe and tests): the exact inverse of `HubFrameEncoder`.
///
/// Strict on purpose, since its users are tools that check the hub: a message with an unknown `t`, a missing
/// required field or a value of the wrong type fails the whole frame. Unknown fields are ignored, as everywhere.
public enum HubFrameDecoder {
    /// Shared: `JSONDecoder` is `Sendable` and keeps no state between calls.
    private static let decoder = JSONDecoder()

    /// Decodes one hub text frame: a JSON array of one or more message objects.
    /// Throws `ProtocolError` with code `bad_json` and a description of what did not match.
    public static func decodeJSON(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> [HubMessage] {
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            throw ProtocolError(.badJSON, "empty frame: expected a JSON array")
        }
        // No copy: the Data does not outlive this synchronous call and is never mutated.
        let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.count, deallocator: .none)
        do {
            return try decoder.decode([HubEnvelope].self, from: data).map(\.message)
        } catch let error as ProtocolError {
            throw error
        } catch let DecodingError.typeMismatch(_, context) where context.codingPath.isEmpty {
            throw ProtocolError(.badJSON, "a hub frame must be a JSON array")
        } catch {
            throw ProtocolError(.badJSON, describe(error))
        }
    }

    /// Decodes one hub text frame held in an array. See `decodeJSON(_:)-(UnsafeRawBufferPointer)`.
    public static func decodeJSON(_ bytes: [UInt8]) throws(ProtocolError) -> [HubMessage] {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(ProtocolError) in try decodeJSON(buffer) }
        }.get()
    }

    /// Decodes one hub binary frame: one or more relayed samples back to back, each `u8 0x02 · u8 flags · u32 seq ·
    /// u64 ts · u8 bpm · u8 n · u64 rts · u8 L · L bytes id · [u16 ee] · n × u16 rr`.
    /// `pct` and `zone` are not in this layout and come back nil. Throws `ProtocolError` with code `bad_frame`
    /// when the frame is empty, a record has another type, is cut short or its id is not UTF-8, or an RR count
    /// above 0 comes without the rr-present flag.
    public static func decodeBinary(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> [RelayedSample] {
        guard !bytes.isEmpty else { throw ProtocolError(.badFrame, "empty binary frame") }
        var reader = ByteReader(bytes: bytes)
        var samples: [RelayedSample] = []
        while reader.remaining > 0 {
            let start = reader.offset
            guard reader.remaining >= BinaryLayout.hubHeaderSize else {
                throw ProtocolError(.badFrame, "relayed sample at byte \(start) is cut short")
            }
            let type = reader.u8()
            guard type == BinaryLayout.hubSampleType else {
                throw ProtocolError(.badFrame, "relayed sample at byte \(start) has type \(type), expected 2")
            }
            let flags = reader.u8()
            let seq = reader.u32()
            let ts = Int64(bitPattern: reader.u64())
            let bpm = reader.u8()
            let rrCount = Int(reader.u8())
            let rts = Int64(bitPattern: reader.u64())
            let idLength = Int(reader.u8())
            let hasEE = flags & BinaryLayout.eePresent != 0
            guard rrCount == 0 || flags & BinaryLayout.rrPresent != 0 else {
                throw ProtocolError(.badFrame, "relayed sample at byte \(start) has rr values without the rr flag")
            }
            guard reader.remaining >= idLength + (hasEE ? 2 : 0) + 2 * rrCount else {
                throw ProtocolError(.badFrame, "relayed sample at byte \(start) is cut short")
            }
            guard let p = String(validating: reader.take(idLength), as: UTF8.self) else {
                throw ProtocolError(.badFrame, "relayed sample at byte \(start) has an id that is not UTF-8")
            }
            let ee = hasEE ? reader.u16() : nil
            var rr: [UInt16] = []
            rr.reserveCapacity(rrCount)
            for _ in 0..<rrCount {
                rr.append(reader.u16())
            }
            let sample = Sample(
                seq: seq, ts: ts, bpm: bpm, rr: rr, contact: BinaryLayout.contact(flags: flags), ee: ee)
            samples.append(RelayedSample(p: p, sample: sample, rts: rts))
        }
        return samples
    }

    /// Decodes one hub binary frame held in an array. See `decodeBinary(_:)-(UnsafeRawBufferPointer)`.
    public static func decodeBinary(_ bytes: [UInt8]) throws(ProtocolError) -> [RelayedSample] {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(ProtocolError) in try decodeBinary(buffer) }
        }.get()
    }

    /// One line from a `DecodingError`: what went wrong and where (`[2].last.bpm`).
    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field \(path(context.codingPath)).\(key.stringValue)"
        case .typeMismatch(let type, let context):
            return "wrong type at \(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "null at \(path(context.codingPath)): expected \(type)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty
                ? "not valid JSON" : "bad value at \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// Every field name a hub message may carry.
private enum HubKey: String, CodingKey {
    case t, p, name, hrmax, hrrest, last, participants, reason, since, code, msg, id, ct, ht
    case classID = "class"
    case role, participant, mode
    case budgetMs = "budget_ms"
    case lastSeq = "last_seq"
    case seq, ts, rts, bpm, rr, contact, ee, pct, zone
    case fromSeq = "from_seq"
    case toSeq = "to_seq"
    case count
    case at, n, top, me, near, rank, points
}

/// One hub message object; reads `t`, then the fields of that type.
private struct HubEnvelope: Decodable {
    let message: HubMessage

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: HubKey.self)
        let type = try c.decode(String.self, forKey: .t)
        switch type {
        case "welcome":
            message = .welcome(
                Welcome(
                    classID: try c.decode(String.self, forKey: .classID),
                    role: try c.decodeEnum(Role.self, forKey: .role),
                    participant: try c.decodeIfPresent(String.self, forKey: .participant),
                    mode: try c.decodeEnumIfPresent(DeliveryMode.self, forKey: .mode),
                    budgetMs: try c.decode(Int.self, forKey: .budgetMs),
                    ht: try c.decode(Int64.self, forKey: .ht),
                    lastSeq: try c.decodeIfPresent(UInt32.self, forKey: .lastSeq)))
        case "snapshot":
            message = .snapshot(try c.decode([SnapshotEntryBox].self, forKey: .participants).map(\.entry))
        case "join":
            message = .join(p: try c.decode(String.self, forKey: .p), profile: try c.profile())
        case "leave":
            message = .leave(
                p: try c.decode(String.self, forKey: .p), reason: try c.decodeEnum(LeaveReason.self, forKey: .reason))
        case "hr":
            message = .hr(try c.relayedSample())
        case "stale":
            message = .stale(p: try c.decode(String.self, forKey: .p), since: try c.decode(Int64.self, forKey: .since))
        case "live":
            message = .live(p: try c.decode(String.self, forKey: .p), since: try c.decode(Int64.self, forKey: .since))
        case "gap":
            message = .gap(
                Gap(
                    p: try c.decode(String.self, forKey: .p),
                    fromSeq: try c.decode(UInt32.self, forKey: .fromSeq),
                    toSeq: try c.decode(UInt32.self, forKey: .toSeq),
                    count: try c.decode(Int.self, forKey: .count),
                    reason: try c.decodeEnum(GapReason.self, forKey: .reason)))
        case "error":
            message = .error(
                ProtocolError(
                    try c.decodeEnum(ErrorCode.self, forKey: .code),
                    try c.decode(String.self, forKey: .msg),
                    seq: try c.decodeIfPresent(UInt32.self, forKey: .seq),
                    coalesced: try c.decodeIfPresent(Int.self, forKey: .count).map {
                        CoalescedRun(
                            count: $0, fromSeq: try c.decode(UInt32.self, forKey: .fromSeq),
                            toSeq: try c.decode(UInt32.self, forKey: .toSeq))
                    }))
        case "pong":
            let id: PingID
            if let number = try? c.decode(Int64.self, forKey: .id) {
                id = .number(number)
            } else {
                id = .string(try c.decode(String.self, forKey: .id))
            }
            message = .pong(
                id: id, ct: try c.decodeIfPresent(Int64.self, forKey: .ct), ht: try c.decode(Int64.self, forKey: .ht))
        case "ack":
            message = .ack(seq: try c.decode(UInt32.self, forKey: .seq))
        case "board":
            message = .board(
                Board(
                    at: try c.decode(Int64.self, forKey: .at),
                    n: try c.decode(Int.self, forKey: .n),
                    top: try c.decode([BoardEntryBox].self, forKey: .top).map(\.entry),
                    me: try c.decodeIfPresent(BoardEntryBox.self, forKey: .me)?.entry,
                    near: try c.decodeIfPresent([BoardEntryBox].self, forKey: .near)?.map(\.entry) ?? []))
        default:
            throw ProtocolError(.badJSON, "unknown hub message type '\(type)'")
        }
    }
}

/// One `participants` element of a `snapshot`.
private struct SnapshotEntryBox: Decodable {
    let entry: SnapshotEntry

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: HubKey.self)
        var last: RelayedSample?
        if c.contains(.last), try !c.decodeNil(forKey: .last) {
            let nested = try c.nestedContainer(keyedBy: HubKey.self, forKey: .last)
            guard try nested.decode(String.self, forKey: .t) == "hr" else {
                throw ProtocolError(.badJSON, "snapshot entry's last must be an hr object")
            }
            last = try nested.relayedSample()
        }
        entry = SnapshotEntry(p: try c.decode(String.self, forKey: .p), profile: try c.profile(), last: last)
    }
}

/// One leaderboard entry of a `board` (`points` back to tenths: the encoder writes exactly one decimal).
private struct BoardEntryBox: Decodable {
    let entry: BoardEntry

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: HubKey.self)
        let points = try c.decode(Double.self, forKey: .points)
        guard abs(points) < 1e15 else {
            throw ProtocolError(.badJSON, "board entry points \(points) out of range")
        }
        entry = BoardEntry(
            p: try c.decode(String.self, forKey: .p),
            rank: try c.decode(Int.self, forKey: .rank),
            pointsTenths: Int64((points * 10).rounded()),
            bpm: try c.decodeIfPresent(UInt8.self, forKey: .bpm),
            zone: try c.decodeIfPresent(Int.self, forKey: .zone))
    }
}

extension KeyedDecodingContainer where Key == HubKey {
    fileprivate func profile() throws -> Profile {
        Profile(
            name: try decodeIfPresent(String.self, forKey: .name),
            hrmax: try decodeIfPresent(Int.self, forKey: .hrmax),
            hrrest: try decodeIfPresent(Int.self, forKey: .hrrest))
    }

    fileprivate func relayedSample() throws -> RelayedSample {
        let sample = Sample(
            seq: try decode(UInt32.self, forKey: .seq),
            ts: try decode(Int64.self, forKey: .ts),
            bpm: try decode(UInt8.self, forKey: .bpm),
            rr: try decodeIfPresent([UInt16].self, forKey: .rr) ?? [],
            contact: try decodeIfPresent(Bool.self, forKey: .contact),
            ee: try decodeIfPresent(UInt16.self, forKey: .ee))
        return RelayedSample(
            p: try decode(String.self, forKey: .p),
            sample: sample,
            rts: try decode(Int64.self, forKey: .rts),
            pct: try decodeIfPresent(Int.self, forKey: .pct),
            zone: try decodeIfPresent(Int.self, forKey: .zone))
    }

    fileprivate func decodeEnum<E: RawRepresentable>(_ type: E.Type, forKey key: Key) throws -> E
    where E.RawValue == String {
        let raw = try decode(String.self, forKey: key)
        guard let value = E(rawValue: raw) else {
            throw ProtocolError(.badJSON, "unknown \(key.stringValue) '\(raw)'")
        }
        return value
    }

    fileprivate func decodeEnumIfPresent<E: RawRepresentable>(_ type: E.Type, forKey key: Key) throws -> E?
    where E.RawValue == String {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try decodeEnum(type, forKey: key)
    }
}
