import HRProbeCore

/// What every sample in one frame on a viewing connection shares: whose streams they go to, the arrival time, and
/// the run's settings the accounting reads. Worked out once per frame, so the per-sample path reads plain values.
struct ViewerFrame {
    /// The connection's viewing slot and class, and that class's riders and streams (see `ClassState`).
    let slot: Int
    let classIndex: Int
    let riderBase: Int
    let riders: Int
    let streamBase: Int
    /// A `--slow-viewers` connection (its lags are kept apart).
    let slow: Bool
    /// Normal viewers of the class open now: how many deliveries complete a sample's fan-out.
    let openNormalViewers: Int
    /// When the frame arrived (probe clock), and the same moment in the clock `ts` was stamped in.
    let now: Int64
    let arrivalUs: Int64
    let role: RunPlan.Role
    let schedule: SampleSchedule
    /// The relay stamps `rts`; the relay echoes a rider's samples to the rider's own connection.
    let stamped: Bool
    let echoes: Bool
    let measureStartUs: Int64
    let measureEndUs: Int64

    /// The stream a message of `p` belongs to: (stream, global rider), or nil for a rider that is not the probe's.
    func stream(for p: Range<Int>, in bytes: UnsafeRawBufferPointer, streamCount: Int) -> (stream: Int, rider: Int)? {
        guard let r = ParticipantNumbering.index(in: bytes, p), r < riders else { return nil }
        let stream = streamBase + slot * riders + r
        guard stream < streamCount else { return nil }
        return (stream, riderBase + r)
    }
}
