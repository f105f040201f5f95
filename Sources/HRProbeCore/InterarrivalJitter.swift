/// RFC 3550 (RTP) interarrival jitter of one stream, in microseconds.
///
/// For each sample, transit = arrival − intended send time; D is the change in transit from the previous
/// sample; the estimate moves 1/16 of the way towards |D| (RFC 3550 §6.4.1, A.8). A constant lag gives zero
/// jitter whatever its size; samples that bunch up or spread out raise it.
public struct InterarrivalJitter: Equatable {
    /// The current estimate, µs.
    public private(set) var valueUs: Double = 0
    private var lastTransitUs: Int64?

    /// No arrival yet.
    public init() {}

    /// Adds one arrival.
    public mutating func add(transitUs: Int64) {
        if let last = lastTransitUs {
            let d = Double(abs(transitUs - last))
            valueUs += (d - valueUs) / 16
        }
        lastTransitUs = transitUs
    }

    /// Forgets the previous transit (a new connection starts a new run of arrivals), keeping the estimate.
    public mutating func restart() {
        lastTransitUs = nil
    }
}
