// Internal byte writers shared by the encoders: ASCII literals, decimal integers, escaped JSON strings and
// little-endian integers, appended straight into a `[UInt8]` without building intermediate Strings.

extension Array where Element == UInt8 {
    /// Appends a literal (field names and punctuation are written as one `StaticString` each).
    @inline(__always)
    mutating func appendLiteral(_ literal: StaticString) {
        literal.withUTF8Buffer { append(contentsOf: $0) }
    }

    /// Appends `value` in decimal.
    @inline(__always)
    mutating func appendDecimal(_ value: UInt64) {
        if value < 10 {
            append(0x30 &+ UInt8(truncatingIfNeeded: value))
            return
        }
        // Invariant: 20 bytes hold UInt64.max's 20 digits, so `index` stays within 0..<20; the scratch buffer
        // lives only inside this closure and is copied out before it ends.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var index = 20
            var rest = value
            repeat {
                index -= 1
                digits[index] = 0x30 &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            } while rest != 0
            append(contentsOf: UnsafeBufferPointer(rebasing: digits[index...]))
        }
    }

    /// Appends `value` in decimal, with a leading `-` when negative.
    @inline(__always)
    mutating func appendDecimal(_ value: Int64) {
        if value < 0 {
            append(0x2D)
        }
        appendDecimal(value.magnitude)
    }

    /// Appends `value` in decimal.
    @inline(__always)
    mutating func appendDecimal(_ value: Int) {
        appendDecimal(Int64(value))
    }

    /// Appends a number of tenths as a decimal with exactly one digit after the point: 123 → `12.3`, 0 → `0.0`,
    /// -5 → `-0.5`. Exact: no binary floating point on the way.
    mutating func appendTenths(_ tenths: Int64) {
        if tenths < 0 {
            append(0x2D)
        }
        appendDecimal(tenths.magnitude / 10)
        append(0x2E)
        append(0x30 &+ UInt8(truncatingIfNeeded: tenths.magnitude % 10))
    }

    /// Appends `string` as a quoted JSON string. `"` and `\` are backslash-escaped, control characters
    /// (U+0000...U+001F) become `\u00XX` (lowercase hex), everything else, UTF-8 included, is copied as is.
    mutating func appendJSONString(_ string: String) {
        append(0x22)
        var string = string
        // The UTF-8 view is valid only inside `withUTF8`; `appendEscapedJSON` copies what it reads and keeps
        // no pointer.
        string.withUTF8 { appendEscapedJSON($0) }
        append(0x22)
    }

    /// Appends the escaped body of a JSON string (no quotes), copying runs that need no escaping in one go.
    private mutating func appendEscapedJSON(_ bytes: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte >= 0x20 && byte != 0x22 && byte != 0x5C {
                index += 1
                continue
            }
            if runStart < index {
                append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            }
            if byte == 0x22 || byte == 0x5C {
                append(0x5C)
                append(byte)
            } else {
                let hex: StaticString = "0123456789abcdef"
                appendLiteral("\\u00")
                append(hex.utf8Start[Int(byte >> 4)])
                append(hex.utf8Start[Int(byte & 0x0F)])
            }
            index += 1
            runStart = index
        }
        if runStart < bytes.count {
            append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
    }

    /// Appends `true` or `false`.
    @inline(__always)
    mutating func appendJSONBool(_ value: Bool) {
        if value { appendLiteral("true") } else { appendLiteral("false") }
    }

    /// Appends `values` as a JSON array of integers.
    mutating func appendJSONArray(_ values: [UInt16]) {
        append(0x5B)
        for (index, value) in values.enumerated() {
            if index > 0 { append(0x2C) }
            appendDecimal(UInt64(value))
        }
        append(0x5D)
    }

    /// Appends a ping id: a JSON integer or a JSON string.
    /// `,"name":…,"hrmax":…,"hrrest":…`, each only when known: a profile's fields in `hello`, `join` and
    /// `snapshot` entries alike.
    mutating func appendProfileFields(_ profile: Profile) {
        if let name = profile.name {
            appendLiteral(#","name":"#)
            appendJSONString(name)
        }
        if let hrmax = profile.hrmax {
            appendLiteral(#","hrmax":"#)
            appendDecimal(hrmax)
        }
        if let hrrest = profile.hrrest {
            appendLiteral(#","hrrest":"#)
            appendDecimal(hrrest)
        }
    }

    /// The optional fields every `hr` object ends its device part with: `,"rr":[…]` (when not empty),
    /// `,"contact":…` and `,"ee":…` (when present). Shared by the client and the hub encoders.
    mutating func appendSampleExtras(_ sample: Sample) {
        if !sample.rr.isEmpty {
            appendLiteral(#","rr":"#)
            appendJSONArray(sample.rr)
        }
        if let contact = sample.contact {
            appendLiteral(#","contact":"#)
            appendJSONBool(contact)
        }
        if let ee = sample.ee {
            appendLiteral(#","ee":"#)
            appendDecimal(UInt64(ee))
        }
    }

    mutating func appendPingID(_ id: PingID) {
        switch id {
        case .number(let number): appendDecimal(number)
        case .string(let string): appendJSONString(string)
        }
    }

    /// Appends `value` little-endian.
    @inline(__always)
    public mutating func appendLittleEndian(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value))
        append(UInt8(truncatingIfNeeded: value >> 8))
    }

    /// Appends `value` little-endian.
    @inline(__always)
    public mutating func appendLittleEndian(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) {
            append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    /// Appends `value` little-endian.
    @inline(__always)
    public mutating func appendLittleEndian(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) {
            append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }
}

/// Reads little-endian integers from a raw buffer, front to back. Callers check `remaining` before reading (and
/// turn a short frame into `bad_frame`); a read past the end anyway is a programming error and traps.
struct ByteReader {
    /// The bytes being read.
    let bytes: UnsafeRawBufferPointer
    /// Offset of the next unread byte.
    var offset = 0

    /// How many bytes are left.
    var remaining: Int { bytes.count - offset }

    /// Reads one byte.
    @inline(__always)
    mutating func u8() -> UInt8 {
        precondition(remaining >= 1)
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Reads a little-endian u16.
    @inline(__always)
    mutating func u16() -> UInt16 {
        precondition(remaining >= 2)
        defer { offset += 2 }
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Reads a little-endian u32.
    @inline(__always)
    mutating func u32() -> UInt32 {
        precondition(remaining >= 4)
        defer { offset += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Reads a little-endian u64.
    @inline(__always)
    mutating func u64() -> UInt64 {
        precondition(remaining >= 8)
        defer { offset += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Reads `count` bytes.
    mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        precondition(remaining >= count)
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }
}
