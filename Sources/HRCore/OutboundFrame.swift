import HRProtocol

/// One frame for one connection, from `Relay.nextFrame`: `buffer`'s payload, written as one WebSocket frame of
/// `kind`. The buffer may be shared with other connections (a class tick's frame): write from it, never keep it.
public struct OutboundFrame {
    public let buffer: FrameBuffer
    public let kind: OutboundFrameKind

    public init(buffer: FrameBuffer, kind: OutboundFrameKind) {
        self.buffer = buffer
        self.kind = kind
    }
}
