import Foundation

/// Decodes and validates frames a client sends to the hub.
///
/// Text frames go through Foundation's `JSONDecoder` with a hand-written, one-pass `init(from:)`: it reads `t`,
/// then only the fields of that type, checking each one's type and range as it goes, so every rejection names
/// the field and its allowed range. Decisions a device maker may want to know:
/// - Unknown fields are ignored; an optional field that is `null` counts as absent.
/// - Integer fields take any JSON number with an integral value (`80`, `80.0`, `8e1`); `80.5` is `bad_field`.
///   Booleans are never numbers, numbers never booleans, and strings are neither.
/// - `name` length is counted in Unicode scalars (at most 64, so at most 256 UTF-8 bytes).
/// - `ts` must be 0 or more (it is a u64 in the binary layout); a wrong device clock is fine, a negative one is not.
/// - `bad_field` errors for an `hr` carry its `seq` whenever `seq` itself was valid.
public enum ClientFrameDecoder {
    /// One decoder for every call. `JSONDecoder` is `Sendable` (its options are lock-protected) and `decode` keeps
    /// no state between calls, so sharing it across threads is safe and saves an allocation per frame.
    private static let decoder = JSONDecoder()

    /// Decodes one client text frame: a single JSON object with a `t` field.
    /// Throws `bad_json`, `bad_field` (naming the field and its allowed range) or `unknown_type`.
    public static func decodeJSON(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> ClientMessage {
        // Most frames are a device's `hr`: read directly; anything the scanner is not sure of goes to JSONDecoder.
        if let sample = SampleScanner.scan(bytes) { return .hr(sample) }
        return try decodeWithJSONDecoder(bytes)
    }

    /// Decodes one client text frame with `JSONDecoder`: every message type, and the error for every bad frame.
    static func decodeWithJSONDecoder(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> ClientMessage {
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            throw ProtocolError(.badJSON, "empty frame: expected a JSON object")
        }
        // No copy: the Data only lives for the duration of this synchronous call and nothing retains it (decoded
        // strings are copies), and it is never mutated, so wrapping the caller's read-only buffer is sound.
        let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.count, deallocator: .none)
        do {
            return try decoder.decode(ClientEnvelope.self, from: data).message
        } catch let error as ProtocolError {
            throw error
        } catch {
            throw ProtocolError(.badJSON, "not valid JSON: expected one JSON object")
        }
    }

    /// Decodes one client text frame held in an array. See `decodeJSON(_:)-(UnsafeRawBufferPointer)`.
    public static func decodeJSON(_ bytes: [UInt8]) throws(ProtocolError) -> ClientMessage {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(ProtocolError) in try decodeJSON(buffer) }
        }.get()
    }

    /// Decodes one binary (`hrhub.v1.bin`) client frame: a sample. Throws `bad_frame` or `bad_field`.
    ///
    /// Layout (little-endian): `u8 0x01 · u8 flags · u32 seq · u64 ts · u8 bpm · u8 n · [u16 ee] · n × u16 rr`.
    /// Flags: bit0 contact supported, bit1 contact, bit2 `ee` present, bit3 RR present; bits 4...7 are reserved
    /// and ignored. `contact` is decoded only when bit0 is set (then it is bit1); otherwise it is nil.
    ///
    /// `bad_frame` (the frame cannot be read): fewer than 16 bytes, a type other than 0x01, an RR count above 0
    /// with bit3 clear (bit3 with a count of 0 is fine: no RR values), or a length other than exactly
    /// 16 + 2 (if `ee`) + 2n bytes. `bad_field` (readable, but out of range; carries the seq): `ts` above
    /// `Int64.max`, `bpm` not 0 or 25...250, more than 16 RR values, an RR value of 0.
    public static func decodeBinary(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> Sample {
        guard bytes.count >= BinaryLayout.clientHeaderSize else {
            let minimum = BinaryLayout.clientHeaderSize
            throw ProtocolError(.badFrame, "binary sample too short: \(bytes.count) bytes, expected \(minimum) or more")
        }
        var reader = ByteReader(bytes: bytes)
        let type = reader.u8()
        guard type == BinaryLayout.clientSampleType else {
            throw ProtocolError(.badFrame, "unknown binary frame type 0x\(hex(type)): expected 0x01 (sample)")
        }
        let flags = reader.u8()
        let seq = reader.u32()
        let ts = reader.u64()
        let bpm = reader.u8()
        let rrCount = Int(reader.u8())
        let hasEE = flags & BinaryLayout.eePresent != 0
        guard rrCount == 0 || flags & BinaryLayout.rrPresent != 0 else {
            throw ProtocolError(.badFrame, "rr count is \(rrCount) but the rr-present flag (bit3) is clear")
        }
        let expected = BinaryLayout.clientHeaderSize + (hasEE ? 2 : 0) + 2 * rrCount
        guard bytes.count == expected else {
            throw ProtocolError(
                .badFrame,
                "binary sample is \(bytes.count) bytes, expected \(expected) "
                    + "for flags 0x\(hex(flags)) and rr count \(rrCount)")
        }
        guard ts <= UInt64(Int64.max) else {
            throw ProtocolError(.badField, "ts must be \(Rule.ts), got \(ts)", seq: seq)
        }
        guard bpm == 0 || Limits.bpm.contains(bpm) else {
            throw ProtocolError(.badField, "bpm must be \(Rule.bpm), got \(bpm)", seq: seq)
        }
        guard rrCount <= Limits.rrMaxCount else {
            throw ProtocolError(.badField, "rr must be \(Rule.rr), got \(rrCount) values", seq: seq)
        }
        let ee = hasEE ? reader.u16() : nil
        var rr: [UInt16] = []
        if rrCount > 0 {
            rr.reserveCapacity(rrCount)
            for index in 0..<rrCount {
                let value = reader.u16()
                guard value != 0 else {
                    throw ProtocolError(.badField, "rr[\(index)] must be \(Rule.rrValue), got 0", seq: seq)
                }
                rr.append(value)
            }
        }
        return Sample(
            seq: seq, ts: Int64(ts), bpm: bpm, rr: rr, contact: BinaryLayout.contact(flags: flags), ee: ee)
    }

    /// Decodes one binary client frame held in an array. See `decodeBinary(_:)-(UnsafeRawBufferPointer)`.
    public static func decodeBinary(_ bytes: [UInt8]) throws(ProtocolError) -> Sample {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(ProtocolError) in try decodeBinary(buffer) }
        }.get()
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}

/// The allowed ranges as they appear in error messages ("bpm must be 0 or 25..250, got 300").
enum Rule {
    static let name = "a string of at most \(Limits.nameMaxLength) characters"
    static let hrmax = "\(Limits.hrmax.lowerBound)..\(Limits.hrmax.upperBound)"
    static let hrrest = "\(Limits.hrrest.lowerBound)..\(Limits.hrrest.upperBound)"
    static let seq = "0..\(UInt32.max)"
    static let ts = "0..\(Int64.max) (Unix ms)"
    static let bpm = "0 or \(Limits.bpm.lowerBound)..\(Limits.bpm.upperBound)"
    static let rrValue = "\(Limits.rr.lowerBound)..\(Limits.rr.upperBound)"
    static let rr = "an array of at most \(Limits.rrMaxCount) values \(rrValue)"
    static let contact = "true or false"
    static let ee = "0..\(UInt16.max)"
    static let id = "an integer or a string"
    static let ct = "an integer (client time, Unix ms)"
}

/// Every field name a client frame may carry; any other key is ignored.
enum ClientKey: String, CodingKey {
    case t, name, hrmax, hrrest, seq, ts, bpm, rr, contact, ee, id, ct
}

/// The top-level value `JSONDecoder` decodes: reads `t`, then switches. Throws `ProtocolError` only.
private struct ClientEnvelope: Decodable {
    let message: ClientMessage

    init(from decoder: any Decoder) throws {
        let container: KeyedDecodingContainer<ClientKey>
        do {
            container = try decoder.container(keyedBy: ClientKey.self)
        } catch {
            throw ProtocolError(.badJSON, "a client frame must be a JSON object")
        }
        var fields = FieldReader(container: container)
        let type = try fields.type()
        switch type {
        case "hr": message = .hr(try fields.sample())
        case "hello": message = .hello(try fields.profile())
        case "ping": message = try fields.ping()
        default:
            throw ProtocolError(.unknownType, "unknown type '\(clipped(type))': expected hello, hr or ping")
        }
    }
}

/// Shortens client text that goes back into an error message.
private func clipped(_ text: String) -> String {
    let limit = 32
    guard text.unicodeScalars.count > limit else { return text }
    return String(String.UnicodeScalarView(text.unicodeScalars.prefix(limit))) + "…"
}

/// Reads and validates fields of one client object. Every failure is a `ProtocolError` that names the field.
struct FieldReader {
    let container: KeyedDecodingContainer<ClientKey>
    /// The `hr` being read, once its `seq` is known: attached to every later error.
    var seq: UInt32?

    init(container: KeyedDecodingContainer<ClientKey>) {
        self.container = container
    }

    // MARK: Messages

    func type() throws(ProtocolError) -> String {
        guard container.contains(.t) else {
            throw ProtocolError(.badJSON, "missing type field 't': expected hello, hr or ping")
        }
        do {
            return try container.decode(String.self, forKey: .t)
        } catch {
            throw ProtocolError(.badJSON, "type field 't' must be a string, got \(describe(.t))")
        }
    }

    mutating func sample() throws(ProtocolError) -> Sample {
        let seqValue = try integer(.seq, Rule.seq, required: true)!
        guard let seq = UInt32(exactly: seqValue) else { throw outOfRange(.seq, Rule.seq, seqValue) }
        self.seq = seq
        let ts = try integer(.ts, Rule.ts, required: true)!
        guard ts >= 0 else { throw outOfRange(.ts, Rule.ts, ts) }
        let bpmValue = try integer(.bpm, Rule.bpm, required: true)!
        guard let bpm = UInt8(exactly: bpmValue), bpm == 0 || Limits.bpm.contains(bpm) else {
            throw outOfRange(.bpm, Rule.bpm, bpmValue)
        }
        let rr = try rrValues()
        let contact = try bool(.contact, Rule.contact)
        var ee: UInt16?
        if let eeValue = try integer(.ee, Rule.ee, required: false) {
            guard let value = UInt16(exactly: eeValue) else { throw outOfRange(.ee, Rule.ee, eeValue) }
            ee = value
        }
        return Sample(seq: seq, ts: ts, bpm: bpm, rr: rr, contact: contact, ee: ee)
    }

    func profile() throws(ProtocolError) -> Profile {
        var profile = Profile()
        if let name = try string(.name, Rule.name) {
            let length = name.unicodeScalars.count
            guard length <= Limits.nameMaxLength else {
                throw failure("name must be \(Rule.name), got \(length) characters")
            }
            profile.name = name
        }
        if let hrmax = try integer(.hrmax, Rule.hrmax, required: false) {
            guard Limits.hrmax.contains(Int(clamping: hrmax)) else { throw outOfRange(.hrmax, Rule.hrmax, hrmax) }
            profile.hrmax = Int(hrmax)
        }
        if let hrrest = try integer(.hrrest, Rule.hrrest, required: false) {
            guard Limits.hrrest.contains(Int(clamping: hrrest)) else {
                throw outOfRange(.hrrest, Rule.hrrest, hrrest)
            }
            profile.hrrest = Int(hrrest)
        }
        return profile
    }

    func ping() throws(ProtocolError) -> ClientMessage {
        guard container.contains(.id) else { throw failure("missing id: must be \(Rule.id)") }
        let id: PingID
        if let number = try? container.decode(Int64.self, forKey: .id) {
            id = .number(number)
        } else if let string = try? container.decode(String.self, forKey: .id) {
            id = .string(string)
        } else {
            throw invalid(.id, Rule.id)
        }
        let ct = try integer(.ct, Rule.ct, required: false)
        return .ping(id: id, ct: ct)
    }

    // MARK: Fields

    /// An integer field. Absent or `null` gives nil when not required; a missing or `null` required field,
    /// a non-number, a fractional number or one outside Int64 throws.
    func integer(_ key: ClientKey, _ rule: String, required: Bool) throws(ProtocolError) -> Int64? {
        guard container.contains(key) else {
            if required { throw failure("missing \(key.rawValue): must be \(rule)") }
            return nil
        }
        if isNull(key) {
            if required { throw invalid(key, rule) }
            return nil
        }
        do {
            return try container.decode(Int64.self, forKey: key)
        } catch {
            throw invalid(key, rule)
        }
    }

    /// An optional boolean field.
    func bool(_ key: ClientKey, _ rule: String) throws(ProtocolError) -> Bool? {
        guard container.contains(key), !isNull(key) else { return nil }
        do {
            return try container.decode(Bool.self, forKey: key)
        } catch {
            throw invalid(key, rule)
        }
    }

    /// An optional string field.
    func string(_ key: ClientKey, _ rule: String) throws(ProtocolError) -> String? {
        guard container.contains(key), !isNull(key) else { return nil }
        do {
            return try container.decode(String.self, forKey: key)
        } catch {
            throw invalid(key, rule)
        }
    }

    /// The optional `rr` array: at most 16 integers 1...65535; absent, `null` or `[]` give no values.
    func rrValues() throws(ProtocolError) -> [UInt16] {
        guard container.contains(.rr), !isNull(.rr) else { return [] }
        var values: UnkeyedDecodingContainer
        do {
            values = try container.nestedUnkeyedContainer(forKey: .rr)
        } catch {
            throw invalid(.rr, Rule.rr)
        }
        if let count = values.count, count > Limits.rrMaxCount {
            throw failure("rr must be \(Rule.rr), got \(count) values")
        }
        var rr: [UInt16] = []
        rr.reserveCapacity(values.count ?? 0)
        while !values.isAtEnd {
            let index = values.currentIndex
            guard index < Limits.rrMaxCount else {
                throw failure("rr must be \(Rule.rr), got more than \(Limits.rrMaxCount) values")
            }
            let value: Int64
            do {
                value = try values.decode(Int64.self)
            } catch {
                throw failure("rr[\(index)] must be \(Rule.rrValue), got \(describeElement(of: .rr, at: index))")
            }
            guard let rrValue = UInt16(exactly: value), Limits.rr.contains(rrValue) else {
                throw failure("rr[\(index)] must be \(Rule.rrValue), got \(value)")
            }
            rr.append(rrValue)
        }
        return rr
    }

    // MARK: Errors

    func isNull(_ key: ClientKey) -> Bool {
        (try? container.decodeNil(forKey: key)) ?? false
    }

    func failure(_ message: String) -> ProtocolError {
        ProtocolError(.badField, message, seq: seq)
    }

    func invalid(_ key: ClientKey, _ rule: String) -> ProtocolError {
        failure("\(key.rawValue) must be \(rule), got \(describe(key))")
    }

    func outOfRange(_ key: ClientKey, _ rule: String, _ value: Int64) -> ProtocolError {
        failure("\(key.rawValue) must be \(rule), got \(value)")
    }

    /// A short description of what a rejected field holds (error path only: it may try several decodes).
    func describe(_ key: ClientKey) -> String {
        if isNull(key) { return "null" }
        if let value = try? container.decode(Bool.self, forKey: key) { return value ? "true" : "false" }
        if let value = try? container.decode(Int64.self, forKey: key) { return String(value) }
        if let value = try? container.decode(Double.self, forKey: key) { return "\(value)" }
        if (try? container.decode(String.self, forKey: key)) != nil { return "a string" }
        if (try? container.nestedUnkeyedContainer(forKey: key)) != nil { return "an array" }
        if (try? container.nestedContainer(keyedBy: ClientKey.self, forKey: key)) != nil { return "an object" }
        return "an unreadable value"
    }

    /// Like `describe(_:)`, for element `index` of the array under `key`.
    func describeElement(of key: ClientKey, at index: Int) -> String {
        func element() -> UnkeyedDecodingContainer? {
            guard var values = try? container.nestedUnkeyedContainer(forKey: key) else { return nil }
            for _ in 0..<index {
                guard (try? values.decode(AnyJSONValue.self)) != nil else { return nil }
            }
            return values
        }
        if var values = element(), (try? values.decodeNil()) == true { return "null" }
        if var values = element(), let value = try? values.decode(Bool.self) { return value ? "true" : "false" }
        if var values = element(), let value = try? values.decode(Double.self) { return "\(value)" }
        if var values = element(), (try? values.decode(String.self)) != nil { return "a string" }
        return "a non-number"
    }
}

/// Skips one JSON value of any kind (used to step over array elements on the error path).
private struct AnyJSONValue: Decodable {
    init(from decoder: any Decoder) throws {}
}
