/// Identifies one WebSocket connection for the life of a server or client context.
///
/// The transport stores the id in lws's per-connection opaque pointer (`lws_set_opaque_user_data`) as a plain
/// integer, so no object lifetime is tied to a C pointer. Ids start at 1 and are never reused within a context.
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    /// The raw value; never 0.
    public let rawValue: UInt64

    /// Wraps a raw id.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    public var description: String { "#\(rawValue)" }
}

/// The kind of a WebSocket data frame.
public enum FrameKind: Sendable {
    case text
    case binary
}
