import HRProtocol
import Testing

@Suite struct UploadDecoderTests {
    func decode(_ text: String) throws(UploadDecoder.Failure) -> [Sample] {
        try UploadDecoder.decode(Array(text.utf8))
    }

    @Test func readsSamplesWithOrWithoutT() throws {
        let samples = try decode(#"[{"t":"hr","seq":1,"ts":5,"bpm":120,"rr":[800]},{"seq":2,"ts":6,"bpm":0,"ee":3}]"#)
        #expect(samples == [Sample(seq: 1, ts: 5, bpm: 120, rr: [800]), Sample(seq: 2, ts: 6, bpm: 0, ee: 3)])
        #expect(try decode("[]").isEmpty)
    }

    @Test(arguments: [
        (#"{"seq":1}"#, "body must be a JSON array of hr objects"),
        ("[1,2", "body must be a JSON array of hr objects"),
        (#"[{"seq":1,"ts":5,"bpm":120},{"seq":2,"ts":6,"bpm":300}]"#, "element 1: bpm must be 0 or 25..250, got 300"),
        (#"[{"seq":1,"ts":5,"bpm":120},7]"#, "element 1: must be a JSON object"),
        (#"[{"t":"hello","seq":1,"ts":5,"bpm":120}]"#, "element 0: t must be \"hr\" (or absent), got 'hello'"),
        (#"[{"ts":5,"bpm":120}]"#, "element 0: missing seq"),
    ])
    func refusesTheWholeBodyNamingTheElementAndField(body: String, reason: String) {
        #expect(throws: UploadDecoder.Failure.self) { try decode(body) }
        do {
            _ = try decode(body)
        } catch {
            #expect(error == .invalid(reason) || (reason.hasSuffix("missing seq") && error.reason.contains("seq")))
        }
    }

    @Test func moreThanTenThousandSamplesIsTooLarge() {
        let one = #"{"seq":1,"ts":5,"bpm":120}"#
        let body = "[" + Array(repeating: one, count: 10_001).joined(separator: ",") + "]"
        #expect(throws: UploadDecoder.Failure.tooLarge("10001 samples in one upload, at most 10000 allowed")) {
            try decode(body)
        }
        let exactly = "[" + Array(repeating: one, count: 10_000).joined(separator: ",") + "]"
        #expect((try? decode(exactly))?.count == 10_000)
    }

    @Test func aBodyOverFourMiBIsTooLarge() {
        let body = [UInt8](repeating: 0x20, count: UploadDecoder.maxBodyBytes + 1)
        #expect(throws: UploadDecoder.Failure.self) { try UploadDecoder.decode(body) }
        if case .tooLarge = (Result { () throws(UploadDecoder.Failure) in try UploadDecoder.decode(body) }).failure {
        } else {
            Issue.record("expected tooLarge")
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
