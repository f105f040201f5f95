/// Identifies one client connection inside the relay. The transport maps its own connection ids onto these.
public struct ClientID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    public var description: String { "c\(rawValue)" }
}

/// The kind of frame the relay produced for a client.
public enum OutboundFrameKind: Sendable, Equatable {
    /// A JSON array of hub messages.
    case text
    /// Binary relayed samples back to back (`hrhub.v1.bin`).
    case binary
}
