import HRCore
import HRProtocol

/// Inputs shared by the benchmarks: one rider's typical traffic, as PROTOCOL.md shows it.
enum Fixtures {
    /// Hub time of the first sample (Unix ms); a device whose clock is 50 ms behind the hub's.
    static let startMs: Int64 = 1_795_300_000_000
    static let deviceLagMs: Int64 = 50

    /// A client `hr` text frame, as a strap sends it once a second.
    static let clientJSON: [UInt8] = Array(#"{"t":"hr","seq":1,"ts":1795300000000,"bpm":142,"rr":[431]}"#.utf8)

    /// The same sample as a binary (`hrhub.v1.bin`) client frame.
    static let clientBinary: [UInt8] = ClientFrameEncoder.binary(sample(seq: 1))

    static func sample(seq: UInt32, ts: Int64 = startMs) -> Sample {
        Sample(seq: seq, ts: ts, bpm: 142, rr: [431])
    }

    /// A relayed sample as the hub sends it: with `rts`, `pct` and `zone` (rider with hrmax 187).
    static func relayed(_ p: String = "anna", seq: UInt32 = 1, ts: Int64 = startMs) -> RelayedSample {
        RelayedSample(p: p, sample: sample(seq: seq, ts: ts), rts: ts + deviceLagMs, pct: 76, zone: 3)
    }

    /// Room for whatever a benchmark appends, so the buffer never grows during the measurement.
    static func buffer() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 * 1024)
        return out
    }
}

extension Relay {
    /// Writes every frame the relay asked for (its `.write` effects), one WRITEABLE callback per frame as
    /// `Hub.serverNextFrame` and `Connection.write` do it: the frame, and another only while more is pending.
    /// Returns the payload bytes written.
    func writeRequestedFrames(now: Int64) -> Int {
        var written = 0
        for effect in takeEffects() {
            guard case .write(let id) = effect else { continue }
            while let frame = nextFrame(id, now: now) {
                written += frame.buffer.payloadCount
                guard hasPendingWrite(id) else { break }
            }
        }
        return written
    }
}
