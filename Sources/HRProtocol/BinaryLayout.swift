// The `hrhub.v1.bin` sample layouts (PROTOCOL.md, "Binary subprotocol"), shared by the four binary codecs.
//
// Client to hub:  u8 0x01 · u8 flags · u32 seq · u64 ts · u8 bpm · u8 n · [u16 ee] · n × u16 rr
// Hub to client:  u8 0x02 · u8 flags · u32 seq · u64 ts · u8 bpm · u8 n · u64 rts · u8 L · L bytes id
//                 · [u16 ee] · n × u16 rr
// All little-endian. The flags mirror the Bluetooth Heart Rate Measurement characteristic (0x2A37).

/// Constants and flag logic of the binary sample layouts.
enum BinaryLayout {
    /// Type byte of a client-to-hub sample.
    static let clientSampleType: UInt8 = 0x01
    /// Type byte of a hub-to-client relayed sample.
    static let hubSampleType: UInt8 = 0x02
    /// Size of the client sample header: type, flags, seq, ts, bpm, n.
    static let clientHeaderSize = 16
    /// Size of the hub sample header up to and including the id length byte: type, flags, seq, ts, bpm, n, rts, L.
    static let hubHeaderSize = 25

    /// bit0: the device reports skin contact.
    static let contactSupported: UInt8 = 1 << 0
    /// bit1: skin contact detected (meaningful only with `contactSupported`).
    static let contact: UInt8 = 1 << 1
    /// bit2: a u16 `ee` follows the header.
    static let eePresent: UInt8 = 1 << 2
    /// bit3: RR values follow.
    static let rrPresent: UInt8 = 1 << 3

    /// The flags byte describing `sample`.
    static func flags(of sample: Sample) -> UInt8 {
        var flags: UInt8 = 0
        if let contact = sample.contact {
            flags |= contactSupported
            if contact { flags |= Self.contact }
        }
        if sample.ee != nil { flags |= eePresent }
        if !sample.rr.isEmpty { flags |= rrPresent }
        return flags
    }

    /// The `contact` value the flags describe: nil unless bit0 is set, then bit1.
    static func contact(flags: UInt8) -> Bool? {
        flags & contactSupported == 0 ? nil : flags & contact != 0
    }

    /// How many RR values fit the u8 count; longer lists keep their newest (last) 255 values.
    static func rrToEncode(_ rr: [UInt16]) -> ArraySlice<UInt16> {
        rr.suffix(Int(UInt8.max))
    }
}
