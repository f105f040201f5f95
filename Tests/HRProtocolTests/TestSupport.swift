import HRProtocol
import Testing

/// A client frame the decoder must reject, with what the rejection must say.
struct Rejection: Sendable, CustomTestStringConvertible {
    /// The frame, as JSON text.
    let frame: String
    /// The expected error code.
    let code: ErrorCode
    /// Words the message must contain (the field's name, its allowed range, …).
    let mentions: [String]
    /// The seq the error must carry (nil: must carry none).
    let seq: UInt32?

    var testDescription: String { frame }

    static func badJSON(_ frame: String, _ mentions: String...) -> Rejection {
        Rejection(frame: frame, code: .badJSON, mentions: mentions, seq: nil)
    }

    static func unknownType(_ frame: String, _ mentions: String...) -> Rejection {
        Rejection(frame: frame, code: .unknownType, mentions: mentions, seq: nil)
    }

    static func badField(_ frame: String, _ mentions: String..., seq: UInt32? = nil) -> Rejection {
        Rejection(frame: frame, code: .badField, mentions: mentions, seq: seq)
    }
}

/// The seq `hr(…)` uses unless told otherwise.
let defaultSeq: UInt32 = 7

/// An `hr` frame; each required field can be replaced (raw JSON) or left out (nil), and `extra` appended.
func hr(seq: String? = "7", ts: String? = "1700000000000", bpm: String? = "120", _ extra: String...) -> String {
    var parts = [#""t":"hr""#]
    if let seq { parts.append(#""seq":\#(seq)"#) }
    if let ts { parts.append(#""ts":\#(ts)"#) }
    if let bpm { parts.append(#""bpm":\#(bpm)"#) }
    parts.append(contentsOf: extra)
    return "{" + parts.joined(separator: ",") + "}"
}

/// Decodes a client JSON frame from text.
func decodeClient(_ text: String) throws(ProtocolError) -> ClientMessage {
    try ClientFrameDecoder.decodeJSON(Array(text.utf8))
}

/// The error a client JSON frame is rejected with, or nil when it is accepted.
func clientRejection(_ text: String) -> ProtocolError? {
    do {
        _ = try decodeClient(text)
        return nil
    } catch {
        return error
    }
}

/// The error a client binary frame is rejected with, or nil when it is accepted.
func binaryRejection(_ bytes: [UInt8]) -> ProtocolError? {
    do {
        _ = try ClientFrameDecoder.decodeBinary(bytes)
        return nil
    } catch {
        return error
    }
}

/// A UTF-8 view of encoder output, for readable comparisons.
func text(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self)
}

/// Little-endian bytes of an integer.
func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}
