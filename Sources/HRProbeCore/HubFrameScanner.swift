import HRProtocol

/// Finds the relayed samples and gaps in hub frames without decoding whole messages: the probe's receive path.
///
/// `HubFrameDecoder` builds Swift values through `JSONDecoder`, several allocations per message; at tens of
/// thousands of samples a second that would be the probe's bottleneck and would show up as lag it then blames
/// on the hub. This scanner walks the bytes once, reads only the fields it needs into a `ScannedMessage` and
/// allocates nothing. Any other message type (welcome, snapshot, pong, error, presence) only sets a flag, so the
/// caller can hand that rare frame to `HubFrameDecoder` for the control messages.
///
/// It relies on what every hub frame is (PROTOCOL.md): a JSON array of objects with a string `t`; keys without
/// escapes; integers for the numeric fields. Nested values (snapshot entries) are skipped.
public enum HubFrameScanner {
    /// What a scan found besides samples and gaps.
    public struct Summary: Equatable {
        /// The frame holds at least one message that is neither `hr` nor `gap`.
        public var hasOtherMessages = false
        /// The frame is not a well-formed hub frame (what was found before the fault was still reported).
        public var malformed = false
    }

    /// Scans a JSON text frame, calling `found` for each `hr` and `gap` in order.
    public static func scanJSON<Bytes: RandomAccessCollection>(
        _ bytes: Bytes, _ found: (ScannedMessage) -> Void
    ) -> Summary where Bytes.Element == UInt8, Bytes.Index == Int {
        var cursor = JSONCursor(bytes: bytes)
        var summary = Summary()
        cursor.skipSpace()
        guard cursor.take(UInt8(ascii: "[")) else { return Summary(malformed: true) }
        cursor.skipSpace()
        if cursor.take(UInt8(ascii: "]")) { return summary }
        while true {
            cursor.skipSpace()
            guard let object = cursor.readMessage() else {
                summary.malformed = true
                return summary
            }
            switch object {
            case .hr(let message), .gap(let message): found(message)
            case .other: summary.hasOtherMessages = true
            }
            cursor.skipSpace()
            if cursor.take(UInt8(ascii: ",")) { continue }
            if cursor.take(UInt8(ascii: "]")) { return summary }
            summary.malformed = true
            return summary
        }
    }

    /// Scans a binary (`hrhub.v1.bin`) frame of relayed samples, calling `found` for each. Returns false when a
    /// record is cut short or has another type (the records before it were reported).
    public static func scanBinary<Bytes: RandomAccessCollection>(
        _ bytes: Bytes, _ found: (ScannedMessage) -> Void
    ) -> Bool where Bytes.Element == UInt8, Bytes.Index == Int {
        var offset = bytes.startIndex
        let end = bytes.endIndex
        func le(_ at: Int, _ size: Int) -> UInt64 {
            var value: UInt64 = 0
            for i in 0..<size { value |= UInt64(bytes[at + i]) << UInt64(8 * i) }
            return value
        }
        while offset < end {
            // u8 type · u8 flags · u32 seq · u64 ts · u8 bpm · u8 n · u64 rts · u8 L · L id · [u16 ee] · n × u16 rr
            guard end - offset >= 25, bytes[offset] == 0x02 else { return false }
            let flags = bytes[offset + 1]
            let rrCount = Int(bytes[offset + 15])
            let idLength = Int(bytes[offset + 24])
            let length = 25 + idLength + (flags & 0x04 != 0 ? 2 : 0) + 2 * rrCount
            guard end - offset >= length else { return false }
            var message = ScannedMessage()
            message.seq = UInt32(truncatingIfNeeded: le(offset + 2, 4))
            message.ts = Int64(bitPattern: le(offset + 6, 8))
            message.rts = Int64(bitPattern: le(offset + 16, 8))
            message.p = (offset + 25)..<(offset + 25 + idLength)
            found(message)
            offset += length
        }
        return true
    }
}

/// A read position in a JSON hub frame; the pieces `HubFrameScanner` is made of.
private struct JSONCursor<Bytes: RandomAccessCollection> where Bytes.Element == UInt8, Bytes.Index == Int {
    enum Object {
        case hr(ScannedMessage)
        case gap(ScannedMessage)
        case other
    }

    let bytes: Bytes
    var offset: Int

    init(bytes: Bytes) {
        self.bytes = bytes
        self.offset = bytes.startIndex
    }

    var atEnd: Bool { offset >= bytes.endIndex }

    mutating func skipSpace() {
        while offset < bytes.endIndex {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard offset < bytes.endIndex, bytes[offset] == byte else { return false }
        offset += 1
        return true
    }

    /// Reads one message object; nil when it is not well formed.
    mutating func readMessage() -> Object? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var message = ScannedMessage()
        var type: UInt8 = 0  // 1 hr, 2 gap, 3 other
        skipSpace()
        if take(UInt8(ascii: "}")) { return .other }
        while true {
            skipSpace()
            guard let key = readString() else { return nil }
            skipSpace()
            guard take(UInt8(ascii: ":")) else { return nil }
            skipSpace()
            let code = keyCode(key)
            switch code {
            case .t:
                guard let value = readString() else { return nil }
                type = equals(value, ScanWords.hr) ? 1 : equals(value, ScanWords.gap) ? 2 : 3
            case .p:
                guard let value = readString() else { return nil }
                message.p = value
            case .reason:
                guard let value = readString() else { return nil }
                if equals(value, ScanWords.late) {
                    message.reason = .late
                } else if equals(value, ScanWords.conflated) {
                    message.reason = .conflated
                } else {
                    message.reason = .backpressure
                }
            case .other:
                guard skipValue() else { return nil }
            case .seq, .ts, .rts, .fromSeq, .toSeq, .count:
                guard let value = readInteger() else { return nil }
                message.set(code, value)
            }
            skipSpace()
            if take(UInt8(ascii: ",")) { continue }
            guard take(UInt8(ascii: "}")) else { return nil }
            break
        }
        switch type {
        case 1:
            message.kind = .hr
            return .hr(message)
        case 2:
            message.kind = .gap
            return .gap(message)
        default:
            return .other
        }
    }

    func keyCode(_ key: Range<Int>) -> ScanKey {
        let first = bytes[key.lowerBound]
        switch key.count {
        case 1: return first == UInt8(ascii: "t") ? .t : first == UInt8(ascii: "p") ? .p : .other
        case 2: return equals(key, ScanWords.ts) ? .ts : .other
        case 3: return equals(key, ScanWords.seq) ? .seq : equals(key, ScanWords.rts) ? .rts : .other
        case 5: return equals(key, ScanWords.count) ? .count : .other
        case 6: return equals(key, ScanWords.reason) ? .reason : equals(key, ScanWords.toSeq) ? .toSeq : .other
        case 8: return equals(key, ScanWords.fromSeq) ? .fromSeq : .other
        default: return .other
        }
    }

    func equals(_ range: Range<Int>, _ word: [UInt8]) -> Bool {
        guard range.count == word.count else { return false }
        var i = range.lowerBound
        for byte in word {
            if bytes[i] != byte { return false }
            i += 1
        }
        return true
    }

    /// Reads a string; returns the range of its contents (escapes left as they are).
    mutating func readString() -> Range<Int>? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = offset
        while offset < bytes.endIndex {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\\") {
                offset += 2
                continue
            }
            if byte == UInt8(ascii: "\"") {
                let range = start..<offset
                offset += 1
                return range
            }
            offset += 1
        }
        return nil
    }

    /// Reads an integer (a `.0` fraction is tolerated); nil for anything else.
    mutating func readInteger() -> Int64? {
        var negative = false
        if take(UInt8(ascii: "-")) { negative = true }
        var value: Int64 = 0
        var digits = 0
        while offset < bytes.endIndex {
            let byte = bytes[offset]
            guard byte >= 0x30 && byte <= 0x39 else { break }
            value = value &* 10 &+ Int64(byte - 0x30)
            digits += 1
            offset += 1
        }
        guard digits > 0 else { return nil }
        if take(UInt8(ascii: ".")) {
            while offset < bytes.endIndex, bytes[offset] == 0x30 { offset += 1 }
        }
        return negative ? -value : value
    }

    /// Skips any JSON value (strings, numbers, literals, nested objects and arrays).
    mutating func skipValue() -> Bool {
        guard offset < bytes.endIndex else { return false }
        switch bytes[offset] {
        case UInt8(ascii: "\""):
            return readString() != nil
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while offset < bytes.endIndex {
                let byte = bytes[offset]
                if byte == UInt8(ascii: "\"") {
                    guard readString() != nil else { return false }
                    continue
                }
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
                if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 {
                        offset += 1
                        return true
                    }
                }
                offset += 1
            }
            return false
        default:
            let start = offset
            while offset < bytes.endIndex {
                switch bytes[offset] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D:
                    return offset > start
                default:
                    offset += 1
                }
            }
            return offset > start
        }
    }
}

/// The keys and values the scanner compares against, as bytes.
private enum ScanWords {
    static let hr = Array("hr".utf8)
    static let gap = Array("gap".utf8)
    static let late = Array("late".utf8)
    static let conflated = Array("conflated".utf8)
    static let ts = Array("ts".utf8)
    static let seq = Array("seq".utf8)
    static let rts = Array("rts".utf8)
    static let count = Array("count".utf8)
    static let reason = Array("reason".utf8)
    static let toSeq = Array("to_seq".utf8)
    static let fromSeq = Array("from_seq".utf8)
}

/// The message keys the scanner reads.
private enum ScanKey {
    case t, p, seq, ts, rts, fromSeq, toSeq, count, reason, other
}

extension ScannedMessage {
    /// Stores a numeric field read by the scanner.
    fileprivate mutating func set(_ key: ScanKey, _ value: Int64) {
        switch key {
        case .seq: seq = UInt32(truncatingIfNeeded: value)
        case .ts: ts = value
        case .rts: rts = value
        case .fromSeq: fromSeq = UInt32(truncatingIfNeeded: value)
        case .toSeq: toSeq = UInt32(truncatingIfNeeded: value)
        case .count: count = Int(value)
        default: break
        }
    }
}
