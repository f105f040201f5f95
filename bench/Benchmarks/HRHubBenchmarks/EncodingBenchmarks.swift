import Benchmark
import HRProtocol

/// HubFrameEncoder on whole frames: a batch of relayed samples as one text frame (`[…]`) or one binary frame (the
/// records back to back), and a `board` message. One frame (or board) per inner iteration, into a reused buffer.
func registerEncodingBenchmarks() {
    for riders in [10, 50] {
        let samples = (0..<riders).map { Fixtures.relayed("r\($0)", seq: UInt32(1 + $0)) }

        // A text frame of `riders` samples (one per rider: a batched frame, or one class tick of a studio class).
        let messages = samples.map { HubMessage.hr($0) }
        encodingBenchmark("Codec.encodeFrame.\(riders)samples.JSON") { out in
            out.append(0x5B)
            for (index, message) in messages.enumerated() {
                if index > 0 { out.append(0x2C) }
                HubFrameEncoder.appendJSON(message, to: &out)
            }
            out.append(0x5D)
        }

        // The same samples as one binary frame (`hrhub.v1.bin`: the records back to back).
        encodingBenchmark("Codec.encodeFrame.\(riders)samples.binary") { out in
            for sample in samples { HubFrameEncoder.appendBinary(sample, to: &out) }
        }
    }

    // A participant's `board` in a class of 50: the top 10, then `me` and the two riders around it.
    let entries = (0..<50).map { rank in
        BoardEntry(p: "r\(rank)", rank: rank + 1, pointsTenths: Int64(5_000 - 37 * rank), bpm: 150, zone: 3)
    }
    let board = HubMessage.board(
        Board(
            at: Fixtures.startMs, n: 50, top: Array(entries.prefix(10)), me: entries[24],
            near: [entries[23], entries[25]]))
    encodingBenchmark("Codec.encodeBoard.top10.me") { out in HubFrameEncoder.appendJSON(board, to: &out) }
}
