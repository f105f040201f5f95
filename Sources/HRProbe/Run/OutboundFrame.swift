import LWSTransport

/// A frame waiting to be written on one of the probe's connections.
struct OutboundFrame {
    /// The sample's seq, or nil for a control frame (hello, ping).
    var seq: UInt32?
    /// When the sample was due, µs (open loop: the schedule, not when it was written).
    var intendedUs: Int64
    var bytes: [UInt8]
    var kind: FrameKind
    /// Sent again after a reconnect, or held while the connection was down: not counted in the probe's send lag.
    var replay: Bool
}
