// API contract for the codecs. Bodies are being written; signatures are fixed (other modules code against them).

/// Decodes and validates frames a client sends to the hub.
public enum ClientFrameDecoder {
    /// Decodes one client text frame: a single JSON object with a `t` field.
    /// Throws `bad_json`, `bad_field` (naming the field and its allowed range) or `unknown_type`.
    public static func decodeJSON(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> ClientMessage {
        throw ProtocolError(.badJSON, "not implemented")
    }

    /// Decodes one binary (`hrhub.v1.bin`) client frame: a sample. Throws `bad_frame` or `bad_field`.
    public static func decodeBinary(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> Sample {
        throw ProtocolError(.badFrame, "not implemented")
    }
}

/// Encodes what the hub sends. A hub text frame is a JSON array of message objects.
public enum HubFrameEncoder {
    /// Appends one message as a JSON object (no surrounding brackets, no comma) to `out`.
    public static func appendJSON(_ message: HubMessage, to out: inout [UInt8]) {}

    /// Appends one relayed sample in the binary hub-to-client layout to `out`.
    public static func appendBinary(_ sample: RelayedSample, to out: inout [UInt8]) {}

    /// A whole text frame: `[m1,m2,…]`.
    public static func frame(_ messages: [HubMessage]) -> [UInt8] { [] }
}
