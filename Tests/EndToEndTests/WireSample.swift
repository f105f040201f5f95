/// A sample as the tests write and read it on the wire, with its own JSON and binary codecs built from
/// PROTOCOL.md alone (the hub's codecs in HRProtocol are what these tests check, so they do not use them).
struct WireSample: Sendable, Equatable, CustomStringConvertible {
    var seq: UInt32
    var ts: Int64
    var bpm: UInt8
    var rr: [UInt16] = []
    var contact: Bool?
    var ee: UInt16?

    /// The client `hr` message as JSON text.
    var json: String {
        var text = #"{"t":"hr","seq":\#(seq),"ts":\#(ts),"bpm":\#(bpm)"#
        if !rr.isEmpty { text += #","rr":[\#(rr.map(String.init).joined(separator: ","))]"# }
        if let contact { text += #","contact":\#(contact)"# }
        if let ee { text += #","ee":\#(ee)"# }
        return text + "}"
    }

    /// The client binary sample frame: u8 0x01, u8 flags, u32 seq, u64 ts, u8 bpm, u8 n, [u16 ee], n × u16 rr,
    /// little-endian; flags bit0 contact supported, bit1 contact, bit2 ee present, bit3 rr present.
    var binary: [UInt8] {
        var flags: UInt8 = 0
        if let contact { flags |= 0x01 | (contact ? 0x02 : 0) }
        if ee != nil { flags |= 0x04 }
        if !rr.isEmpty { flags |= 0x08 }
        var out: [UInt8] = [0x01, flags]
        out.appendLittleEndian(seq)
        out.appendLittleEndian(UInt64(bitPattern: ts))
        out += [bpm, UInt8(rr.count)]
        if let ee { out.appendLittleEndian(ee) }
        for value in rr { out.appendLittleEndian(value) }
        return out
    }

    /// The sample fields of a relayed JSON `hr` message (nil when a field is missing or out of its type's range).
    init?(_ message: WireMessage) {
        guard message.t == "hr", let seq = message["seq"]?.int.flatMap(UInt32.init(exactly:)),
            let ts = message["ts"]?.int, let bpm = message["bpm"]?.int.flatMap(UInt8.init(exactly:))
        else { return nil }
        self.init(seq: seq, ts: ts, bpm: bpm)
        if let values = message["rr"] {
            guard let rr = values.array?.compactMap({ $0.int.flatMap(UInt16.init(exactly:)) }),
                rr.count == values.array?.count
            else { return nil }
            self.rr = rr
        }
        contact = message["contact"]?.bool
        ee = message["ee"]?.int.flatMap(UInt16.init(exactly:))
    }

    init(seq: UInt32, ts: Int64, bpm: UInt8, rr: [UInt16] = [], contact: Bool? = nil, ee: UInt16? = nil) {
        self.seq = seq
        self.ts = ts
        self.bpm = bpm
        self.rr = rr
        self.contact = contact
        self.ee = ee
    }

    var description: String { json }
}

/// One relayed sample of a binary (`hrhub.v1.bin`) hub frame.
struct BinaryRelayedSample: Sendable, Equatable {
    var p: String
    var sample: WireSample
    var rts: Int64

    /// The samples of one binary hub frame, back to back: u8 0x02, u8 flags, u32 seq, u64 ts, u8 bpm, u8 n,
    /// u64 rts, u8 L, L bytes participant id, [u16 ee], n × u16 rr.
    static func frame(_ bytes: [UInt8]) throws -> [BinaryRelayedSample] {
        var reader = ByteReader(bytes: bytes)
        var samples: [BinaryRelayedSample] = []
        while !reader.isAtEnd {
            guard try reader.u8() == 0x02 else { throw TestClientError.undecodable("relayed sample type is not 0x02") }
            let flags = try reader.u8()
            let seq = UInt32(try reader.little(4))
            let ts = Int64(bitPattern: try reader.little(8))
            let bpm = try reader.u8()
            let count = Int(try reader.u8())
            let rts = Int64(bitPattern: try reader.little(8))
            let idLength = Int(try reader.u8())
            let p = String(decoding: try reader.take(idLength), as: UTF8.self)
            let ee = flags & 0x04 != 0 ? UInt16(try reader.little(2)) : nil
            let rr = try (0..<count).map { _ in UInt16(try reader.little(2)) }
            let contact = flags & 0x01 != 0 ? flags & 0x02 != 0 : nil
            samples.append(
                BinaryRelayedSample(
                    p: p, sample: WireSample(seq: seq, ts: ts, bpm: bpm, rr: rr, contact: contact, ee: ee), rts: rts))
        }
        return samples
    }
}

/// Reads a byte array front to back; throws when it ends too soon.
private struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    var isAtEnd: Bool { offset == bytes.count }

    mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard bytes.count - offset >= count else {
            throw TestClientError.undecodable("binary frame ends inside a sample (\(bytes.count) bytes)")
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func u8() throws -> UInt8 { try take(1).first! }

    /// An unsigned little-endian integer of `count` bytes.
    mutating func little(_ count: Int) throws -> UInt64 {
        try take(count).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}

extension [UInt8] {
    fileprivate mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        for index in 0..<MemoryLayout<T>.size { append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }
}
