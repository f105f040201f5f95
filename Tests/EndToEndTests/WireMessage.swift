/// One message of a hub frame, read as PROTOCOL.md describes it: a JSON object with a string `t`.
struct WireMessage: Sendable, Equatable, CustomStringConvertible {
    /// Every member of the object.
    let fields: [String: JSONValue]

    /// Checks the shape every hub message has (an object with a string `t`).
    init(_ value: JSONValue) throws {
        guard case .object(let fields) = value, fields["t"]?.string != nil else {
            throw TestClientError.undecodable("a hub message must be an object with a string t: \(value)")
        }
        self.fields = fields
    }

    /// The messages of one hub text frame: a non-empty JSON array of message objects.
    static func frame(_ bytes: [UInt8]) throws -> [WireMessage] {
        guard case .array(let values) = try JSONValue.parse(bytes), !values.isEmpty else {
            throw TestClientError.undecodable("a hub frame must be a non-empty JSON array")
        }
        return try values.map(WireMessage.init)
    }

    /// The type, `t`.
    var t: String { fields["t"]!.string! }

    subscript(_ key: String) -> JSONValue? { fields[key] }

    /// `p` (samples, presence, gaps).
    var p: String? { fields["p"]?.string }

    /// `seq` (samples, errors about a sample).
    var seq: Int64? { fields["seq"]?.int }

    /// Whether this is the relayed sample `seq` of `p`.
    func isSample(p: String, seq: Int64) -> Bool { t == "hr" && self.p == p && self.seq == seq }

    /// Whether this is a message of type `t` about participant `p`.
    func `is`(_ t: String, p: String) -> Bool { self.t == t && self.p == p }

    var description: String { JSONValue.object(fields).description }
}
