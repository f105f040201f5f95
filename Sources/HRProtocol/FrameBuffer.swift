/// One outgoing WebSocket frame: `headroom` reserved bytes, then the payload.
///
/// The relay fills it; the transport writes the payload and may overwrite the headroom with the frame's header
/// (libwebsockets writes its header in the `LWS_PRE` bytes before the payload). A class, so that a frame shared
/// by every viewer of a class is one buffer written from in place, never copied per viewer: whoever writes
/// through `bytes` must hold the only reference to its storage (nobody keeps a copy of the array itself).
public final class FrameBuffer {
    /// The headroom, then the payload.
    public var bytes: [UInt8]
    /// Reserved bytes before the payload.
    public let headroom: Int

    /// An empty frame with `headroom` zero bytes reserved (append the payload to `bytes`).
    public init(headroom: Int, capacity: Int = 0) {
        self.headroom = headroom
        bytes = []
        bytes.reserveCapacity(headroom + capacity)
        bytes.append(contentsOf: repeatElement(0, count: headroom))
    }

    /// Payload bytes.
    public var payloadCount: Int { bytes.count - headroom }

    /// A copy of the payload (tests and tools; the write path never copies).
    public var payload: [UInt8] { Array(bytes[headroom...]) }

    /// Empties the payload, keeping the headroom and the capacity.
    public func clearPayload() {
        bytes.removeSubrange(headroom...)
    }
}
