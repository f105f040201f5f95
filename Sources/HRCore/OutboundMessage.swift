import HRProtocol

/// One hub message, encoded once and shared by every client it goes to.
///
/// A relayed sample is encoded to JSON when it is released and to binary the first time a binary client
/// needs it; after that each subscriber's queue holds only a reference. Single-threaded (the relay's thread).
public final class OutboundMessage {
    /// The message's JSON object (no brackets), ready to be placed in a frame; followed by `tail`.
    public let json: [UInt8]
    /// What follows `json` in the frame: empty, except for a `board`, whose `json` is the part shared by every
    /// viewer with the same `board` value (one buffer, not copied) and whose tail closes it (`}` or `me`/`near`).
    public let tail: [UInt8]
    /// The relayed sample, for samples; nil for control messages.
    public let sample: RelayedSample?
    /// The sample's capture time on the hub's clock (`ts` + the device's learnt offset), for the budget.
    public let captureHubMs: Int64
    /// The sample's hub receive time (`rts`), 0 for control messages. Stored beside `sample` so the per-delivery
    /// bookkeeping reads one integer instead of copying the sample (its id and RR array) for every viewer.
    public let rts: Int64

    private var binaryCache: [UInt8]?

    /// A control message (welcome, gap, pong, …).
    public init(control message: HubMessage) {
        var bytes: [UInt8] = []
        HubFrameEncoder.appendJSON(message, to: &bytes)
        json = bytes
        tail = []
        sample = nil
        isSample = false
        captureHubMs = 0
        rts = 0
    }

    /// A control message already encoded in two parts, `shared` (held by reference, not copied) and `tail`.
    public init(shared: [UInt8], tail: [UInt8]) {
        json = shared
        self.tail = tail
        sample = nil
        isSample = false
        captureHubMs = 0
        rts = 0
    }

    /// A relayed sample.
    public init(sample: RelayedSample, captureHubMs: Int64) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        HubFrameEncoder.appendJSON(.hr(sample), to: &bytes)
        json = bytes
        tail = []
        self.sample = sample
        isSample = true
        self.captureHubMs = captureHubMs
        rts = sample.rts
    }

    /// The binary encoding of a sample (computed once, on first use).
    public var binary: [UInt8] {
        if let binaryCache { return binaryCache }
        var bytes: [UInt8] = []
        if let sample { HubFrameEncoder.appendBinary(sample, to: &bytes) }
        binaryCache = bytes
        return bytes
    }

    /// Whether this is a relayed sample (droppable) rather than a control message (never dropped).
    /// Stored: `sample != nil` compiles to an Equatable comparison that copies the sample (retaining its id and RR
    /// array), and the send queue asks several times per message.
    public let isSample: Bool
}
