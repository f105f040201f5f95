/// The fast path of `ClientFrameDecoder.decodeJSON` for the message devices send most: an `hr` object in the shape
/// devices write it (`{"t":"hr","seq":…,"ts":…,"bpm":…}`, optionally `rr`, `contact`, `ee`, in any order, with
/// JSON whitespace). It reads the bytes once, with no allocation but the `rr` array.
///
/// It answers only when it is sure: every field known and present at most once, every value a plain non-negative
/// integer (no fraction, exponent or leading zero), `true`/`false` or an array of such integers, nothing after the
/// object, and every value within the protocol's range. Anything else (another type, an unknown key, an escape, a
/// `null`, a value out of range, broken JSON) gives nil, and `JSONDecoder` then reads the frame and names what is
/// wrong. So a sample it returns is exactly the one the full decoder would return (`SampleScannerTests` checks
/// this against the full decoder on generated and mutated frames).
enum SampleScanner {
    /// The sample in `bytes`, or nil when the full decoder must decide.
    static func scan(_ bytes: UnsafeRawBufferPointer) -> Sample? {
        var cursor = Cursor(bytes: bytes)
        return cursor.sample()
    }
}

private enum Key: UInt8 {
    case t = 1, seq = 2, ts = 4, bpm = 8, rr = 16, contact = 32, ee = 64
}

/// Reads `bytes` front to back. Invariant: every `bytes[i]` is read only after checking `i < bytes.count` (the
/// subscript of an `UnsafeRawBufferPointer` is not checked in release builds), and `bytes` is the caller's buffer,
/// valid for the length of `SampleScanner.scan`, never kept.
private struct Cursor {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    mutating func sample() -> Sample? {
        skipSpace()
        guard eat(UInt8(ascii: "{")) else { return nil }
        var seen: UInt8 = 0
        var seq: UInt64?
        var ts: UInt64?
        var bpm: UInt64?
        var ee: UInt64?
        var contact: Bool?
        var rr: [UInt16] = []
        while true {
            skipSpace()
            guard let key = key(), seen & key.rawValue == 0 else { return nil }
            seen |= key.rawValue
            skipSpace()
            guard eat(UInt8(ascii: ":")) else { return nil }
            skipSpace()
            switch key {
            case .t:
                guard literal("\"hr\"") else { return nil }
            case .seq: seq = integer()
            case .ts: ts = integer()
            case .bpm: bpm = integer()
            case .ee: ee = integer()
            case .contact:
                if literal("true") {
                    contact = true
                } else if literal("false") {
                    contact = false
                } else {
                    return nil
                }
            case .rr:
                guard let values = rrValues() else { return nil }
                rr = values
            }
            if (key == .seq && seq == nil) || (key == .ts && ts == nil) || (key == .bpm && bpm == nil)
                || (key == .ee && ee == nil)
            {
                return nil
            }
            skipSpace()
            if eat(UInt8(ascii: ",")) { continue }
            guard eat(UInt8(ascii: "}")) else { return nil }
            break
        }
        skipSpace()
        guard index == bytes.count, seen & Key.t.rawValue != 0,
            let seq, let seqValue = UInt32(exactly: seq),
            let ts, ts <= UInt64(Int64.max),
            let bpm, let bpmValue = UInt8(exactly: bpm), bpmValue == 0 || Limits.bpm.contains(bpmValue)
        else { return nil }
        var eeValue: UInt16?
        if let ee {
            guard let value = UInt16(exactly: ee) else { return nil }
            eeValue = value
        }
        return Sample(seq: seqValue, ts: Int64(ts), bpm: bpmValue, rr: rr, contact: contact, ee: eeValue)
    }

    // MARK: Pieces

    /// A key this fast path knows, written without escapes.
    mutating func key() -> Key? {
        guard eat(UInt8(ascii: "\"")) else { return nil }
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
            guard bytes[index] >= UInt8(ascii: "a"), bytes[index] <= UInt8(ascii: "z") else { return nil }
            index += 1
        }
        guard index < bytes.count else { return nil }
        let name = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
        index += 1
        switch name.count {
        case 1: return name[0] == UInt8(ascii: "t") ? .t : nil
        case 2:
            if equals(name, "ts") { return .ts }
            if equals(name, "rr") { return .rr }
            if equals(name, "ee") { return .ee }
            return nil
        case 3:
            if equals(name, "seq") { return .seq }
            if equals(name, "bpm") { return .bpm }
            return nil
        case 7: return equals(name, "contact") ? .contact : nil
        default: return nil
        }
    }

    /// A JSON integer ≥ 0 of at most 18 digits, with no fraction or exponent; nil otherwise.
    mutating func integer() -> UInt64? {
        let start = index
        var value: UInt64 = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            value = value * 10 + UInt64(bytes[index] - UInt8(ascii: "0"))
            index += 1
            guard index - start <= 18 else { return nil }
        }
        let digits = index - start
        guard digits > 0, digits == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
        if index < bytes.count {
            let next = bytes[index]
            guard next != UInt8(ascii: "."), next != UInt8(ascii: "e"), next != UInt8(ascii: "E") else { return nil }
        }
        return value
    }

    /// `[]` or an array of at most 16 integers 1...65535.
    mutating func rrValues() -> [UInt16]? {
        guard eat(UInt8(ascii: "[")) else { return nil }
        var values: [UInt16] = []
        skipSpace()
        if eat(UInt8(ascii: "]")) { return values }
        while true {
            skipSpace()
            guard values.count < Limits.rrMaxCount, let value = integer(), let rr = UInt16(exactly: value),
                Limits.rr.contains(rr)
            else { return nil }
            values.append(rr)
            skipSpace()
            if eat(UInt8(ascii: ",")) { continue }
            return eat(UInt8(ascii: "]")) ? values : nil
        }
    }

    mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
            default: return
            }
        }
    }

    mutating func eat(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    mutating func literal(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        let matches = text.withUTF8Buffer { expected in
            for offset in 0..<count where bytes[index + offset] != expected[offset] { return false }
            return true
        }
        if matches { index += count }
        return matches
    }

    func equals(_ name: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        text.withUTF8Buffer { expected in name.elementsEqual(expected) }
    }
}
