@testable import HRProtocol
import Testing

/// `SampleScanner`, the fast path for `hr` frames: whatever it returns, the full decoder returns too; the frames
/// devices send take it; everything else is left to the full decoder.
@Suite struct SampleScannerTests {
    private func scan(_ text: String) -> Sample? {
        Array(text.utf8).withUnsafeBytes { SampleScanner.scan($0) }
    }

    private func full(_ bytes: [UInt8]) -> Result<ClientMessage, ProtocolError> {
        bytes.withUnsafeBytes { buffer in
            Result { () throws(ProtocolError) in try ClientFrameDecoder.decodeWithJSONDecoder(buffer) }
        }
    }

    @Test(arguments: [
        #"{"t":"hr","seq":7,"ts":1700000000000,"bpm":120}"#,
        #"{"seq":7,"bpm":120,"ts":1700000000000,"t":"hr"}"#,
        " {\n\t\"t\" : \"hr\" ,\r\n \"seq\":0,\"ts\":0,\"bpm\":0 } ",
        #"{"t":"hr","seq":4294967295,"ts":9223372036854775,"bpm":250,"rr":[1,65535],"contact":true,"ee":65535}"#,
        #"{"t":"hr","seq":1,"ts":1,"bpm":25,"rr":[],"contact":false,"ee":0}"#,
        #"{"t":"hr","seq":1,"ts":1,"bpm":60,"rr":[ 800 , 812 ,790,1,2,3,4,5,6,7,8,9,10,11,12,13]}"#,
    ])
    func framesDevicesSendTakeTheFastPathWithTheFullDecodersResult(frame: String) throws {
        let sample = try #require(scan(frame))
        #expect(full(Array(frame.utf8)) == .success(.hr(sample)))
    }

    @Test(arguments: [
        #"{"t":"hello","name":"Ann"}"#, #"{"t":"ping","id":1}"#, #"{"t":"hr","seq":7,"ts":1,"bpm":120,"x":1}"#,
        #"{"t":"hr","seq":7,"ts":1,"bpm":120,"seq":8}"#, #"{"t":"hr","t":"hr","seq":7,"ts":1,"bpm":120}"#,
        #"{"t":"hr","seq":7.0,"ts":1,"bpm":120}"#, #"{"t":"hr","seq":7e0,"ts":1,"bpm":120}"#,
        #"{"t":"hr","seq":07,"ts":1,"bpm":120}"#, #"{"t":"hr","seq":-0,"ts":1,"bpm":120}"#,
        #"{"t":"hr","seq":4294967296,"ts":1,"bpm":120}"#, #"{"t":"hr","seq":7,"ts":1,"bpm":24}"#,
        #"{"t":"hr","seq":7,"ts":1,"bpm":251}"#, #"{"t":"hr","seq":7,"ts":1,"bpm":120,"ee":65536}"#,
        #"{"t":"hr","seq":7,"ts":1,"bpm":120,"rr":[0]}"#, #"{"t":"hr","seq":7,"ts":1,"bpm":120,"rr":null}"#,
        #"{"t":"hr","seq":7,"ts":1,"bpm":120,"rr":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}"#,
        #"{"t":"hr","seq":7,"ts":1,"bpm":120,"ee":null}"#, #"{"t":"hr","seq":7,"ts":1,"bpm":120,"contact":1}"#,
        #"{"t":"hr","seq":7,"ts":1}"#, #"{"t":"hr","seq":7,"ts":1,"bpm":120}x"#,
        #"{"t":"hr","seq":7,"ts":1,"bpm":120,}"#, #"{"t":"h\u0072","seq":7,"ts":1,"bpm":120}"#,
        #"{"s\u0065q":7,"t":"hr","ts":1,"bpm":120}"#, #"{"t":"hr","seq":7,"ts":1,"bpm":120}}"#,
        #"{"t":"hr","seq":7,"ts":12345678901234567890,"bpm":120}"#, #"["t","hr"]"#, "", " ", "{",
    ])
    func anythingElseIsLeftToTheFullDecoder(frame: String) {
        #expect(scan(frame) == nil)
    }

    /// Frames built from random fields, orders and spacing, then mutated byte by byte: whenever the scanner answers,
    /// the full decoder gives the same sample; valid frames take the fast path.
    @Test func theScannerNeverDisagreesWithTheFullDecoder() {
        var random = Xorshift(state: 18)
        var fast = 0
        var mutatedFast = 0
        let spaces = ["", " ", "\n", "\t ", "\r\n"]
        let replacements = Array(#"{}[]:,"-.e0123456789 tfnrux\"#.utf8)
        func space() -> String { spaces[Int(random.next() % UInt64(spaces.count))] }
        for _ in 0..<3_000 {
            var fields = [
                #""t":"hr""#, #""seq":\#(random.next() % 5_000_000_000)"#,
                #""ts":\#(random.next() % 2_000_000_000_000)"#, #""bpm":\#(random.next() % 260)"#,
            ]
            if random.next() % 2 == 0 {
                let count = Int(random.next() % 18)
                let values = (0..<count).map { _ in String(random.next() % 70_000) }
                fields.append(#""rr":[\#(values.joined(separator: ","))]"#)
            }
            if random.next() % 3 == 0 { fields.append(#""contact":\#(random.next() % 2 == 0)"#) }
            if random.next() % 3 == 0 { fields.append(#""ee":\#(random.next() % 70_000)"#) }
            fields.shuffle(using: &random)
            let body = fields.map { field in
                let colon = field.firstIndex(of: ":")!
                return space() + field[..<colon] + space() + ":" + space() + field[field.index(after: colon)...] + space()
            }
            let frame = Array((space() + "{" + body.joined(separator: ",") + "}" + space()).utf8)
            let reference = full(frame)
            let scanned = frame.withUnsafeBytes { SampleScanner.scan($0) }
            if let scanned {
                fast += 1
                #expect(reference == .success(.hr(scanned)), "\(String(decoding: frame, as: UTF8.self))")
            } else if case .success(.hr) = reference {
                Issue.record("a valid frame missed the fast path: \(String(decoding: frame, as: UTF8.self))")
            }
            // A mutation: a byte replaced, removed or doubled.
            var mutated = frame
            let at = Int(random.next() % UInt64(mutated.count))
            switch random.next() % 3 {
            case 0: mutated[at] = replacements[Int(random.next() % UInt64(replacements.count))]
            case 1: mutated.remove(at: at)
            default: mutated.insert(mutated[at], at: at)
            }
            if let scanned = mutated.withUnsafeBytes({ SampleScanner.scan($0) }) {
                mutatedFast += 1
                #expect(full(mutated) == .success(.hr(scanned)), "\(String(decoding: mutated, as: UTF8.self))")
            }
        }
        #expect(fast > 500, "valid frames were generated and took the fast path")
        #expect(mutatedFast > 100, "some mutations stay valid and are checked too")
    }
}

/// xorshift64: a seedable generator, so the generated frames replay exactly.
private struct Xorshift: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
