import HRProtocol
import Testing

@Suite("ClientFrameDecoder.decodeBinary")
struct ClientFrameDecoderBinaryTests {
    /// A client sample frame built field by field, so tests can break exactly one thing.
    static func frame(
        type: UInt8 = 0x01, flags: UInt8 = 0, seq: UInt32 = 7, ts: UInt64 = 1_700_000_000_000, bpm: UInt8 = 120,
        rrCount: UInt8? = nil, ee: UInt16? = nil, rr: [UInt16] = []
    ) -> [UInt8] {
        var bytes = [type, flags] + le(seq) + le(ts) + [bpm, rrCount ?? UInt8(rr.count)]
        if let ee { bytes += le(ee) }
        for value in rr { bytes += le(value) }
        return bytes
    }

    static let roundTrips: [Sample] = [
        Sample(seq: 0, ts: 0, bpm: 0),
        Sample(seq: 1, ts: 1_700_000_000_000, bpm: 25),
        Sample(seq: UInt32.max, ts: Int64.max, bpm: 250),
        Sample(seq: 42, ts: 1_700_000_000_123, bpm: 142, rr: [431, 440], contact: true, ee: 12),
        Sample(seq: 43, ts: 5, bpm: 60, rr: Array(repeating: 65535, count: 16), contact: false),
        Sample(seq: 44, ts: 5, bpm: 60, rr: [1], ee: 0),
        Sample(seq: 45, ts: 5, bpm: 60, ee: 65535),
        Sample(seq: 46, ts: 5, bpm: 60, contact: false),
    ]

    @Test("encoder output decodes back to the same sample", arguments: roundTrips)
    func roundTrip(_ sample: Sample) throws {
        let bytes = ClientFrameEncoder.binary(sample)
        #expect(try ClientFrameDecoder.decodeBinary(bytes) == sample)
        #expect(try bytes.withUnsafeBytes { try ClientFrameDecoder.decodeBinary($0) } == sample)
    }

    @Test func encoderOutputIsExact() {
        let sample = Sample(
            seq: 0x0403_0201, ts: 0x0C0B_0A09_0807_0605, bpm: 142, rr: [0x0201, 0x0403], contact: true,
            ee: 0x0605)
        #expect(
            ClientFrameEncoder.binary(sample) == [
                0x01, 0b1111, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 142, 2,
                0x05, 0x06, 0x01, 0x02, 0x03, 0x04,
            ])
        #expect(
            ClientFrameEncoder.binary(Sample(seq: 1, ts: 2, bpm: 0)) == [
                1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ])
    }

    @Test func contactIsReadOnlyWhenSupported() throws {
        #expect(try ClientFrameDecoder.decodeBinary(Self.frame(flags: 0b00)).contact == nil)
        #expect(try ClientFrameDecoder.decodeBinary(Self.frame(flags: 0b10)).contact == nil)
        #expect(try ClientFrameDecoder.decodeBinary(Self.frame(flags: 0b01)).contact == false)
        #expect(try ClientFrameDecoder.decodeBinary(Self.frame(flags: 0b11)).contact == true)
    }

    @Test func reservedFlagBitsAreIgnored() throws {
        let sample = try ClientFrameDecoder.decodeBinary(Self.frame(flags: 0xF0))
        #expect(sample == Sample(seq: 7, ts: 1_700_000_000_000, bpm: 120))
    }

    @Test func rrFlagWithZeroCountMeansNoValues() throws {
        #expect(try ClientFrameDecoder.decodeBinary(Self.frame(flags: 0b1000)).rr == [])
    }

    /// A binary frame that must be rejected.
    struct BinaryRejection: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let code: ErrorCode
        let mentions: [String]
        let seq: UInt32?
        var testDescription: String { name }
    }

    static let rejections: [BinaryRejection] = [
        .init(name: "empty", bytes: [], code: .badFrame, mentions: ["too short", "0 bytes"], seq: nil),
        .init(name: "one byte", bytes: [0x01], code: .badFrame, mentions: ["too short"], seq: nil),
        .init(
            name: "15 bytes", bytes: Array(frame().dropLast()), code: .badFrame, mentions: ["too short", "15 bytes"],
            seq: nil),
        .init(name: "type 0x00", bytes: frame(type: 0x00), code: .badFrame, mentions: ["type 0x00"], seq: nil),
        .init(name: "type 0x02 (hub's)", bytes: frame(type: 0x02), code: .badFrame, mentions: ["type 0x02"], seq: nil),
        .init(name: "type 0x7b ('{')", bytes: frame(type: 0x7B), code: .badFrame, mentions: ["0x7b"], seq: nil),
        .init(
            name: "one byte too many", bytes: frame() + [0], code: .badFrame, mentions: ["17 bytes", "expected 16"],
            seq: nil),
        .init(
            name: "ee flag without ee", bytes: frame(flags: 0b100), code: .badFrame, mentions: ["expected 18"],
            seq: nil),
        .init(
            name: "ee without ee flag", bytes: frame(ee: 12), code: .badFrame, mentions: ["18 bytes", "expected 16"],
            seq: nil),
        .init(
            name: "rr count without rr flag", bytes: frame(rr: [431]), code: .badFrame,
            mentions: ["rr count is 1", "bit3"], seq: nil),
        .init(
            name: "rr count above the values", bytes: frame(flags: 0b1000, rrCount: 2, rr: [431]), code: .badFrame,
            mentions: ["18 bytes", "expected 20"], seq: nil),
        .init(
            name: "rr count below the values", bytes: frame(flags: 0b1000, rrCount: 1, rr: [431, 440]),
            code: .badFrame, mentions: ["20 bytes", "expected 18"], seq: nil),
        .init(
            name: "half an rr value", bytes: frame(flags: 0b1000, rr: [431]).dropLast(), code: .badFrame,
            mentions: ["17 bytes", "expected 18"], seq: nil),
        .init(
            name: "ts above Int64.max", bytes: frame(ts: UInt64(Int64.max) + 1), code: .badField,
            mentions: ["ts must be 0..9223372036854775807", "got 9223372036854775808"], seq: 7),
        .init(
            name: "bpm 1", bytes: frame(bpm: 1), code: .badField, mentions: ["bpm must be 0 or 25..250, got 1"],
            seq: 7),
        .init(
            name: "bpm 24", bytes: frame(bpm: 24), code: .badField, mentions: ["bpm must be 0 or 25..250, got 24"],
            seq: 7),
        .init(
            name: "bpm 251", bytes: frame(bpm: 251), code: .badField, mentions: ["bpm must be 0 or 25..250, got 251"],
            seq: 7),
        .init(
            name: "bpm 255", bytes: frame(bpm: 255), code: .badField, mentions: ["bpm must be 0 or 25..250, got 255"],
            seq: 7),
        .init(
            name: "17 rr values", bytes: frame(flags: 0b1000, rr: Array(repeating: 431, count: 17)),
            code: .badField, mentions: ["rr", "at most 16", "got 17"], seq: 7),
        .init(
            name: "255 rr values", bytes: frame(flags: 0b1000, rr: Array(repeating: 431, count: 255)),
            code: .badField, mentions: ["rr", "at most 16", "got 255"], seq: 7),
        .init(
            name: "rr value 0", bytes: frame(flags: 0b1000, rr: [431, 0]), code: .badField,
            mentions: ["rr[1] must be 1..65535, got 0"], seq: 7),
        .init(
            name: "rr value 0 after ee", bytes: frame(flags: 0b1100, ee: 5, rr: [0]), code: .badField,
            mentions: ["rr[0] must be 1..65535, got 0"], seq: 7),
        .init(
            name: "a JSON frame sent as binary", bytes: Array(#"{"t":"hr","seq":1,"ts":2,"bpm":80}"#.utf8),
            code: .badFrame, mentions: ["type 0x7b"], seq: nil),
    ]

    @Test("rejection", arguments: rejections)
    func rejects(_ rejection: BinaryRejection) {
        guard let error = binaryRejection(rejection.bytes) else {
            Issue.record("accepted: \(rejection.name)")
            return
        }
        #expect(error.code == rejection.code, "\(error.message)")
        for word in rejection.mentions {
            #expect(error.message.contains(word), "'\(error.message)' should mention '\(word)'")
        }
        #expect(error.seq == rejection.seq)
    }
}
