import LWSTransport

/// One connection the probe keeps open to the hub, and what it plays.
struct ProbeConnection {
    /// What the connection is.
    enum Kind {
        /// A strap: publishes one rider's samples.
        case publisher
        /// A class screen: views the class.
        case viewer
        /// A rider's app: publishes its rider's samples and views the class.
        case participant

        var publishes: Bool { self != .viewer }
        var views: Bool { self != .publisher }
    }

    let kind: Kind
    let classIndex: Int
    /// The rider it publishes (global index), for publishing kinds.
    let rider: Int?
    /// Its column in the class's stream table, for viewing kinds.
    let viewerSlot: Int?
    /// Reads slowly (`--slow-viewers`).
    let slow: Bool
    /// Local address to bind, or nil.
    let sourceAddress: String?

    /// The current transport id (a new one after each reconnect).
    var id: ConnectionID?
    var isOpen = false
    /// `welcome` received on the current connection.
    var welcomed = false
    /// Connect called, neither welcomed nor closed yet (counted in `LoadSession.handshaking`).
    var handshaking = false
    /// Frames to write, oldest first, from `outboxHead`.
    var outbox: [OutboundFrame] = []
    var outboxHead = 0
    /// Failed or dropped connects in a row (for the backoff).
    var attempts = 0
    /// Dropped on purpose (`--reconnect-storm`): its close is expected.
    var dropping = false
    /// A slow viewer's reading is paused.
    var readingPaused = false

    init(kind: Kind, classIndex: Int, rider: Int?, viewerSlot: Int?, slow: Bool, sourceAddress: String?) {
        self.kind = kind
        self.classIndex = classIndex
        self.rider = rider
        self.viewerSlot = viewerSlot
        self.slow = slow
        self.sourceAddress = sourceAddress
    }

    /// Takes the next frame to write.
    mutating func takeOutbound() -> OutboundFrame? {
        guard outboxHead < outbox.count else { return nil }
        let frame = outbox[outboxHead]
        outboxHead += 1
        if outboxHead == outbox.count {
            outbox.removeAll(keepingCapacity: true)
            outboxHead = 0
        }
        return frame
    }

    /// Drops everything waiting (the connection is gone; samples are kept by the rider for a resend).
    mutating func clearOutbound() {
        outbox.removeAll(keepingCapacity: true)
        outboxHead = 0
    }
}
