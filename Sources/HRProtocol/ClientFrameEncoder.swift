/// Encodes what a client sends (used by the probe, the demo publisher and tests).
///
/// The output is exactly what `ClientFrameDecoder` accepts back: field order `t` first, optional fields omitted
/// when absent, `rr` omitted when empty. No validation: out-of-range values are written as given, so tests can
/// build bad frames with it.
public enum ClientFrameEncoder {
    /// One client text frame: a JSON object.
    ///
    /// `hello`: `t, name?, hrmax?, hrrest?` · `hr`: `t, seq, ts, bpm, rr?, contact?, ee?` · `ping`: `t, id, ct?`.
    public static func json(_ message: ClientMessage) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96)
        switch message {
        case .hello(let profile):
            out.appendLiteral(#"{"t":"hello""#)
            out.appendProfileFields(profile)
        case .hr(let sample):
            out.appendLiteral(#"{"t":"hr","seq":"#)
            out.appendDecimal(UInt64(sample.seq))
            out.appendLiteral(#","ts":"#)
            out.appendDecimal(sample.ts)
            out.appendLiteral(#","bpm":"#)
            out.appendDecimal(UInt64(sample.bpm))
            out.appendSampleExtras(sample)
        case .ping(let id, let ct):
            out.appendLiteral(#"{"t":"ping","id":"#)
            out.appendPingID(id)
            if let ct {
                out.appendLiteral(#","ct":"#)
                out.appendDecimal(ct)
            }
        }
        out.append(0x7D)
        return out
    }

    /// One binary (`hrhub.v1.bin`) client frame: a sample.
    ///
    /// `u8 0x01 · u8 flags · u32 seq · u64 ts · u8 bpm · u8 n · [u16 ee] · n × u16 rr`, little-endian. Flags:
    /// bit0 when `contact` is known, bit1 when it is true, bit2 when `ee` is present, bit3 when `rr` is not empty.
    /// A negative `ts` is written as its two's-complement bit pattern (and rejected by the hub); more than 255 RR
    /// values keep the newest 255.
    public static func binary(_ sample: Sample) -> [UInt8] {
        let rr = BinaryLayout.rrToEncode(sample.rr)
        var out: [UInt8] = []
        out.reserveCapacity(BinaryLayout.clientHeaderSize + 2 + 2 * rr.count)
        out.append(BinaryLayout.clientSampleType)
        out.append(BinaryLayout.flags(of: sample))
        out.appendLittleEndian(sample.seq)
        out.appendLittleEndian(UInt64(bitPattern: sample.ts))
        out.append(sample.bpm)
        out.append(UInt8(rr.count))
        if let ee = sample.ee {
            out.appendLittleEndian(ee)
        }
        for value in rr {
            out.appendLittleEndian(value)
        }
        return out
    }
}
