import HRProtocol

/// Finds the relayed samples and gaps in hub frames without decoding whole messages: the probe's receive path.
///
/// `HubFrameDecoder` builds Swift values through `JSONDecoder`, several allocations per message; at tens of
/// thousands of samples a second that would be the probe's bottleneck and would show up as lag it then blames
/// on the hub. This scanner walks the bytes once, reads only the fields it needs into a `ScannedMessage` and
/// allocates nothing. The `board`s and `ack`s of a run are read here too (a board's `at` and its bytes, an ack's
/// `seq`): every screen gets a board a second, and decoding those with `JSONDecoder` (about 70 µs each, the boards of
/// 2,500 screens arriving together) held up the probe's sends for 200 ms once a second. Any other message type
/// (welcome, snapshot, pong, error, presence) only sets a flag, so the caller can hand that rare frame to
/// `HubFrameDecoder` for the control messages.
///
/// It relies on what every hub frame is (PROTOCOL.md): a JSON array of objects with a string `t`; keys without
/// escapes; integers for the numeric fields. Nested values (snapshot entries) are skipped.
///
/// The work happens on an `UnsafeRawBufferPointer` (what the transport hands over), in one non-generic
/// function per format, so a caller in another module gets the compiled loop rather than an unspecialized generic
/// one. The overloads for other byte collections (tests, `[UInt8]`) go through their contiguous storage.
public enum HubFrameScanner {
    /// What a scan found besides samples and gaps.
    public struct Summary: Equatable {
        /// The frame holds at least one message that is none of `hr`, `gap`, `board`, `ack`.
        public var hasOtherMessages = false
        /// The frame is not a well-formed hub frame (what was found before the fault was still reported).
        public var malformed = false

        public init(hasOtherMessages: Bool = false, malformed: Bool = false) {
            self.hasOtherMessages = hasOtherMessages
            self.malformed = malformed
        }
    }

    /// Scans a JSON text frame, calling `found` for each `hr`, `gap`, `board` and `ack` in order. `ScannedMessage.p` is a range of
    /// offsets into `bytes`.
    public static func scanJSON(_ bytes: UnsafeRawBufferPointer, _ found: (ScannedMessage) -> Void) -> Summary {
        var cursor = JSONCursor(bytes: bytes)
        var summary = Summary()
        cursor.skipSpace()
        guard cursor.take(UInt8(ascii: "[")) else { return Summary(malformed: true) }
        cursor.skipSpace()
        if cursor.take(UInt8(ascii: "]")) { return summary }
        var message = ScannedMessage()
        while true {
            cursor.skipSpace()
            switch cursor.readMessage(into: &message) {
            case .relayed: found(message)
            case .other: summary.hasOtherMessages = true
            case .malformed:
                summary.malformed = true
                return summary
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
    public static func scanBinary(_ bytes: UnsafeRawBufferPointer, _ found: (ScannedMessage) -> Void) -> Bool {
        var offset = 0
        let end = bytes.count
        var message = ScannedMessage()
        while offset < end {
            // u8 type · u8 flags · u32 seq · u64 ts · u8 bpm · u8 n · u64 rts · u8 L · L id · [u16 ee] · n × u16 rr
            guard end - offset >= 25, bytes[offset] == 0x02 else { return false }
            let flags = bytes[offset + 1]
            let rrCount = Int(bytes[offset + 15])
            let idLength = Int(bytes[offset + 24])
            let length = 25 + idLength + (flags & 0x04 != 0 ? 2 : 0) + 2 * rrCount
            guard end - offset >= length else { return false }
            // Checked above: the record's 25 fixed bytes are inside `bytes`. Unaligned little-endian loads.
            message.seq = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt32.self))
            message.ts = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 6, as: Int64.self))
            message.rts = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 16, as: Int64.self))
            message.p = (offset + 25)..<(offset + 25 + idLength)
            found(message)
            offset += length
        }
        return true
    }

    /// `scanJSON` over any contiguous byte collection; `p` ranges are indices of `bytes`.
    public static func scanJSON<Bytes: RandomAccessCollection>(
        _ bytes: Bytes, _ found: (ScannedMessage) -> Void
    ) -> Summary where Bytes.Element == UInt8, Bytes.Index == Int {
        withRawBytes(bytes) { raw, base in scanJSON(raw) { found($0.shifted(by: base)) } }
    }

    /// `scanBinary` over any contiguous byte collection; `p` ranges are indices of `bytes`.
    public static func scanBinary<Bytes: RandomAccessCollection>(
        _ bytes: Bytes, _ found: (ScannedMessage) -> Void
    ) -> Bool where Bytes.Element == UInt8, Bytes.Index == Int {
        withRawBytes(bytes) { raw, base in scanBinary(raw) { found($0.shifted(by: base)) } }
    }

    private static func withRawBytes<Bytes: RandomAccessCollection, R>(
        _ bytes: Bytes, _ body: (UnsafeRawBufferPointer, Int) -> R
    ) -> R where Bytes.Element == UInt8, Bytes.Index == Int {
        if let result = bytes.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0), bytes.startIndex) }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { body($0, bytes.startIndex) }
    }
}

extension ScannedMessage {
    fileprivate func shifted(by base: Int) -> ScannedMessage {
        var copy = self
        copy.p = (p.lowerBound + base)..<(p.upperBound + base)
        copy.span = (span.lowerBound + base)..<(span.upperBound + base)
        return copy
    }
}

/// A read position in a JSON hub frame; the pieces `HubFrameScanner` is made of.
///
/// Every read checks `offset < bytes.count` first; `UnsafeRawBufferPointer`'s subscript is then in bounds.
private struct JSONCursor {
    enum Outcome {
        /// An `hr`, a `gap`, a `board` or an `ack` (the message's `kind` says which).
        case relayed
        /// A well-formed message of another type.
        case other
        case malformed
    }

    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    mutating func skipSpace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard offset < bytes.count, bytes[offset] == byte else { return false }
        offset += 1
        return true
    }

    /// Reads one message object into `message` (reset first: a field the object lacks reads as its default).
    mutating func readMessage(into message: inout ScannedMessage) -> Outcome {
        let start = offset
        guard take(UInt8(ascii: "{")) else { return .malformed }
        message = ScannedMessage()
        var type = MessageType.other
        // Fields a board or an ack cannot do without (`HubFrameDecoder` refuses them without).
        var hasAt = false
        var hasSeq = false
        skipSpace()
        if take(UInt8(ascii: "}")) { return .other }
        while true {
            skipSpace()
            guard let key = readString() else { return .malformed }
            skipSpace()
            guard take(UInt8(ascii: ":")) else { return .malformed }
            skipSpace()
            switch keyCode(key) {
            case .t:
                guard let value = readString() else { return .malformed }
                type = messageType(value)
            case .p:
                guard let value = readString() else { return .malformed }
                message.p = value
            case .reason:
                guard let value = readString() else { return .malformed }
                message.reason = equals(value, "late") ? .late : equals(value, "conflated") ? .conflated : .backpressure
            case .seq:
                guard let value = readInteger() else { return .malformed }
                message.seq = UInt32(truncatingIfNeeded: value)
                hasSeq = true
            case .ts:
                guard let value = readInteger() else { return .malformed }
                message.ts = value
            case .rts:
                guard let value = readInteger() else { return .malformed }
                message.rts = value
            case .at:
                guard let value = readInteger() else { return .malformed }
                message.at = value
                hasAt = true
            case .fromSeq:
                guard let value = readInteger() else { return .malformed }
                message.fromSeq = UInt32(truncatingIfNeeded: value)
            case .toSeq:
                guard let value = readInteger() else { return .malformed }
                message.toSeq = UInt32(truncatingIfNeeded: value)
            case .count:
                guard let value = readInteger() else { return .malformed }
                message.count = Int(value)
            case .other:
                guard skipValue() else { return .malformed }
            }
            skipSpace()
            if take(UInt8(ascii: ",")) { continue }
            guard take(UInt8(ascii: "}")) else { return .malformed }
            break
        }
        message.span = start..<offset
        switch type {
        case .hr:
            message.kind = .hr
        case .gap:
            message.kind = .gap
        case .board:
            guard hasAt else { return .malformed }
            message.kind = .board
        case .ack:
            guard hasSeq else { return .malformed }
            message.kind = .ack
        case .other:
            return .other
        }
        return .relayed
    }

    /// The message type a `t` value names.
    func messageType(_ value: Range<Int>) -> MessageType {
        switch value.count {
        case 2: return equals(value, "hr") ? .hr : .other
        case 3: return equals(value, "gap") ? .gap : equals(value, "ack") ? .ack : .other
        case 5: return equals(value, "board") ? .board : .other
        default: return .other
        }
    }

    /// Which of the keys the scanner reads `key` is; compared by length first, then bytes.
    func keyCode(_ key: Range<Int>) -> ScanKey {
        switch key.count {
        case 1:
            switch bytes[key.lowerBound] {
            case UInt8(ascii: "t"): return .t
            case UInt8(ascii: "p"): return .p
            default: return .other
            }
        case 2: return equals(key, "ts") ? .ts : equals(key, "at") ? .at : .other
        case 3: return equals(key, "seq") ? .seq : equals(key, "rts") ? .rts : .other
        case 5: return equals(key, "count") ? .count : .other
        case 6: return equals(key, "reason") ? .reason : equals(key, "to_seq") ? .toSeq : .other
        case 8: return equals(key, "from_seq") ? .fromSeq : .other
        default: return .other
        }
    }

    /// Whether `bytes[range]` is `word` (an ASCII literal: a `StaticString` is a pointer to its bytes, no
    /// allocation and no lazy global).
    func equals(_ range: Range<Int>, _ word: StaticString) -> Bool {
        guard range.count == word.utf8CodeUnitCount else { return false }
        let letters = word.utf8Start
        var i = 0
        for at in range {
            if bytes[at] != letters[i] { return false }
            i += 1
        }
        return true
    }

    /// Reads a string; returns the range of its contents (escapes left as they are).
    mutating func readString() -> Range<Int>? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = offset
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                let range = start..<offset
                offset += 1
                return range
            }
            offset += byte == UInt8(ascii: "\\") ? 2 : 1
        }
        return nil
    }

    /// Reads an integer (a `.0` fraction is tolerated); nil for anything else.
    mutating func readInteger() -> Int64? {
        let negative = take(UInt8(ascii: "-"))
        var value: Int64 = 0
        let start = offset
        while offset < bytes.count {
            let digit = bytes[offset] &- 0x30
            guard digit < 10 else { break }
            value = value &* 10 &+ Int64(digit)
            offset += 1
        }
        guard offset > start else { return nil }
        if take(UInt8(ascii: ".")) {
            while offset < bytes.count, bytes[offset] == 0x30 { offset += 1 }
        }
        return negative ? -value : value
    }

    /// Skips any JSON value (strings, numbers, literals, nested objects and arrays).
    mutating func skipValue() -> Bool {
        guard offset < bytes.count else { return false }
        switch bytes[offset] {
        case UInt8(ascii: "\""):
            return readString() != nil
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while offset < bytes.count {
                let byte = bytes[offset]
                switch byte {
                case UInt8(ascii: "\""):
                    guard readString() != nil else { return false }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        offset += 1
                        return true
                    }
                default:
                    break
                }
                offset += 1
            }
            return false
        default:
            let start = offset
            while offset < bytes.count {
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

/// The message types the scanner tells apart.
private enum MessageType {
    case hr, gap, board, ack, other
}

/// The message keys the scanner reads.
private enum ScanKey {
    case t, p, seq, ts, rts, at, fromSeq, toSeq, count, reason, other
}
