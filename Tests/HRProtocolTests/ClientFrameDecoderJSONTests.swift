import HRProtocol
import Testing

@Suite("ClientFrameDecoder.decodeJSON")
struct ClientFrameDecoderJSONTests {
    // MARK: Accepted

    static let roundTrips: [ClientMessage] = [
        .hello(Profile()),
        .hello(Profile(name: "Ana")),
        .hello(Profile(name: "Zoë \"the rocket\" \\ 🚴\n", hrmax: 190, hrrest: 52)),
        .hello(Profile(name: String(repeating: "é", count: 64), hrmax: 100, hrrest: 25)),
        .hello(Profile(name: "", hrmax: 240, hrrest: 120)),
        .hr(Sample(seq: 0, ts: 0, bpm: 0)),
        .hr(Sample(seq: 1, ts: 1_700_000_000_000, bpm: 25)),
        .hr(Sample(seq: UInt32.max, ts: Int64.max, bpm: 250)),
        .hr(Sample(seq: 42, ts: 1_700_000_000_123, bpm: 142, rr: [431, 440], contact: true, ee: 12)),
        .hr(Sample(seq: 43, ts: 1_700_000_000_124, bpm: 143, rr: Array(repeating: 65535, count: 16), contact: false)),
        .hr(Sample(seq: 44, ts: 5, bpm: 60, rr: [1], ee: 0)),
        .hr(Sample(seq: 45, ts: 5, bpm: 60, ee: 65535)),
        .ping(id: .number(1), ct: nil),
        .ping(id: .number(-9_223_372_036_854_775_808), ct: 1_700_000_000_000),
        .ping(id: .string("abc"), ct: -5),
        .ping(id: .string(""), ct: nil),
    ]

    @Test("encoder output decodes back to the same message", arguments: roundTrips)
    func roundTrip(_ message: ClientMessage) throws {
        let bytes = ClientFrameEncoder.json(message)
        #expect(try ClientFrameDecoder.decodeJSON(bytes) == message)
        let viaBuffer = try bytes.withUnsafeBytes { try ClientFrameDecoder.decodeJSON($0) }
        #expect(viaBuffer == message)
    }

    @Test func encoderOutputIsExact() {
        let sample = Sample(seq: 42, ts: 1_700_000_000_123, bpm: 142, rr: [431, 440], contact: true, ee: 12)
        #expect(
            text(ClientFrameEncoder.json(.hr(sample)))
                == #"{"t":"hr","seq":42,"ts":1700000000123,"bpm":142,"rr":[431,440],"contact":true,"ee":12}"#)
        #expect(text(ClientFrameEncoder.json(.hello(Profile()))) == #"{"t":"hello"}"#)
        #expect(text(ClientFrameEncoder.json(.ping(id: .string("x"), ct: 9))) == #"{"t":"ping","id":"x","ct":9}"#)
    }

    @Test func unknownFieldsAreIgnored() throws {
        let frame = hr(#""extra":{"nested":[1,true,null]}"#, #""v":2"#, #""zone":3"#)
        #expect(try decodeClient(frame) == .hr(Sample(seq: 7, ts: 1_700_000_000_000, bpm: 120)))
        #expect(try decodeClient(#"{"t":"hello","hrmax":180,"color":"red"}"#) == .hello(Profile(hrmax: 180)))
    }

    @Test func nullOptionalFieldsCountAsAbsent() throws {
        #expect(
            try decodeClient(hr(#""rr":null"#, #""contact":null"#, #""ee":null"#))
                == .hr(Sample(seq: 7, ts: 1_700_000_000_000, bpm: 120)))
        #expect(try decodeClient(#"{"t":"hello","name":null,"hrmax":null,"hrrest":null}"#) == .hello(Profile()))
        #expect(try decodeClient(#"{"t":"ping","id":1,"ct":null}"#) == .ping(id: .number(1), ct: nil))
    }

    @Test func integralNumbersInOtherNotationsAreAccepted() throws {
        #expect(try decodeClient(hr(bpm: "120.0")) == .hr(Sample(seq: 7, ts: 1_700_000_000_000, bpm: 120)))
        #expect(try decodeClient(hr(bpm: "1.2e2")) == .hr(Sample(seq: 7, ts: 1_700_000_000_000, bpm: 120)))
        #expect(try decodeClient(hr(seq: "-0")) == .hr(Sample(seq: 0, ts: 1_700_000_000_000, bpm: 120)))
    }

    @Test func fieldOrderAndWhitespaceDoNotMatter() throws {
        let frame = " \n{ \"bpm\" : 120 ,\t\"ts\":1700000000000, \"seq\":7, \"t\" : \"hr\" }\r\n"
        #expect(try decodeClient(frame) == .hr(Sample(seq: 7, ts: 1_700_000_000_000, bpm: 120)))
    }

    @Test func emptyRRIsNoValues() throws {
        #expect(try decodeClient(hr(#""rr":[]"#)) == .hr(Sample(seq: 7, ts: 1_700_000_000_000, bpm: 120, rr: [])))
    }

    @Test func nameLengthCountsUnicodeScalars() throws {
        let name = String(repeating: "🚴", count: 64)
        #expect(try decodeClient(#"{"t":"hello","name":"\#(name)"}"#) == .hello(Profile(name: name)))
        #expect(clientRejection(#"{"t":"hello","name":"\#(name)x"}"#)?.code == .badField)
    }

    @Test func escapedStringsAreDecoded() throws {
        #expect(
            try decodeClient(#"{"t":"hello","name":"a\"b\\c\u00e9\n"}"#) == .hello(Profile(name: "a\"b\\cé\n")))
    }

    // MARK: Rejected

    static let badJSON: [Rejection] = [
        .badJSON("", "empty"),
        .badJSON("not json", "not valid JSON"),
        .badJSON(#"{"t":"hr""#, "not valid JSON"),
        .badJSON(#"{"t":"hr","seq":1} {}"#, "not valid JSON"),
        .badJSON(#"{"t":"hr",seq:1}"#, "not valid JSON"),
        .badJSON(#"{'t':'hr'}"#, "not valid JSON"),
        .badJSON(#"[{"t":"hr"}]"#, "JSON object"),
        .badJSON(#""hr""#, "JSON object"),
        .badJSON("42", "JSON object"),
        .badJSON("true", "JSON object"),
        .badJSON("null", "JSON object"),
        .badJSON("{}", "missing", "'t'"),
        .badJSON(#"{"seq":1,"ts":2,"bpm":80}"#, "missing", "'t'"),
        .badJSON(#"{"T":"hr"}"#, "missing", "'t'"),
        .badJSON(#"{"t":5}"#, "'t'", "must be a string", "got 5"),
        .badJSON(#"{"t":true}"#, "'t'", "must be a string", "got true"),
        .badJSON(#"{"t":null}"#, "'t'", "must be a string", "got null"),
        .badJSON(#"{"t":["hr"]}"#, "'t'", "must be a string", "got an array"),
        .badJSON(#"{"t":{"x":"hr"}}"#, "'t'", "must be a string", "got an object"),
    ]

    @Test("bad_json", arguments: badJSON)
    func rejectsBadJSON(_ rejection: Rejection) {
        expectRejected(rejection)
    }

    static let unknownTypes: [Rejection] = [
        .unknownType(#"{"t":"hrx"}"#, "'hrx'", "hello, hr or ping"),
        .unknownType(#"{"t":"HR","seq":1,"ts":1,"bpm":80}"#, "'HR'"),
        .unknownType(#"{"t":""}"#, "''"),
        .unknownType(#"{"t":"pong","id":1}"#, "'pong'"),
        .unknownType(#"{"t":"welcome"}"#, "'welcome'"),
        .unknownType(
            #"{"t":"\#(String(repeating: "x", count: 100))"}"#, "'" + String(repeating: "x", count: 32) + "…'"),
    ]

    @Test("unknown_type", arguments: unknownTypes)
    func rejectsUnknownType(_ rejection: Rejection) {
        expectRejected(rejection)
    }

    static let badHello: [Rejection] = [
        .badField(#"{"t":"hello","name":"\#(String(repeating: "a", count: 65))"}"#, "name", "at most 64", "got 65"),
        .badField(#"{"t":"hello","name":42}"#, "name", "a string of at most 64 characters", "got 42"),
        .badField(#"{"t":"hello","name":true}"#, "name", "got true"),
        .badField(#"{"t":"hello","name":["a"]}"#, "name", "got an array"),
        .badField(#"{"t":"hello","name":{"first":"a"}}"#, "name", "got an object"),
        .badField(#"{"t":"hello","hrmax":99}"#, "hrmax", "100..240", "got 99"),
        .badField(#"{"t":"hello","hrmax":241}"#, "hrmax", "100..240", "got 241"),
        .badField(#"{"t":"hello","hrmax":-190}"#, "hrmax", "100..240", "got -190"),
        .badField(#"{"t":"hello","hrmax":190.5}"#, "hrmax", "100..240", "got 190.5"),
        .badField(#"{"t":"hello","hrmax":1e30}"#, "hrmax", "100..240", "got 1e+30"),
        .badField(#"{"t":"hello","hrmax":"190"}"#, "hrmax", "100..240", "got a string"),
        .badField(#"{"t":"hello","hrmax":true}"#, "hrmax", "100..240", "got true"),
        .badField(#"{"t":"hello","hrrest":24}"#, "hrrest", "25..120", "got 24"),
        .badField(#"{"t":"hello","hrrest":121}"#, "hrrest", "25..120", "got 121"),
        .badField(#"{"t":"hello","hrrest":60.5}"#, "hrrest", "25..120", "got 60.5"),
        .badField(#"{"t":"hello","hrrest":"60"}"#, "hrrest", "25..120", "got a string"),
        .badField(#"{"t":"hello","hrrest":false}"#, "hrrest", "25..120", "got false"),
    ]

    @Test("bad_field in hello", arguments: badHello)
    func rejectsBadHello(_ rejection: Rejection) {
        expectRejected(rejection)
    }

    static let badSeq: [Rejection] = [
        .badField(hr(seq: nil), "missing seq", "0..4294967295"),
        .badField(hr(seq: "null"), "seq", "0..4294967295", "got null"),
        .badField(hr(seq: "-1"), "seq", "0..4294967295", "got -1"),
        .badField(hr(seq: "4294967296"), "seq", "0..4294967295", "got 4294967296"),
        .badField(hr(seq: "1.5"), "seq", "0..4294967295", "got 1.5"),
        .badField(hr(seq: "1e20"), "seq", "0..4294967295", "got 1e+20"),
        .badField(hr(seq: #""7""#), "seq", "0..4294967295", "got a string"),
        .badField(hr(seq: "true"), "seq", "0..4294967295", "got true"),
        .badField(hr(seq: "[7]"), "seq", "0..4294967295", "got an array"),
    ]

    @Test("bad_field for seq (no seq in the error)", arguments: badSeq)
    func rejectsBadSeq(_ rejection: Rejection) {
        expectRejected(rejection)
    }

    static let badTS: [Rejection] = [
        .badField(hr(ts: nil), "missing ts", "0..9223372036854775807", seq: defaultSeq),
        .badField(hr(ts: "null"), "ts", "0..9223372036854775807", "got null", seq: defaultSeq),
        .badField(hr(ts: "-1"), "ts", "0..9223372036854775807", "got -1", seq: defaultSeq),
        .badField(hr(ts: "9223372036854775808"), "ts", "0..9223372036854775807", seq: defaultSeq),
        .badField(hr(ts: "1700000000000.5"), "ts", "0..9223372036854775807", seq: defaultSeq),
        .badField(hr(ts: #""1700000000000""#), "ts", "got a string", seq: defaultSeq),
        .badField(hr(ts: "false"), "ts", "got false", seq: defaultSeq),
    ]

    @Test("bad_field for ts", arguments: badTS)
    func rejectsBadTS(_ rejection: Rejection) {
        expectRejected(rejection)
    }

    static let badBPM: [Rejection] = [
        .badField(hr(bpm: nil), "missing bpm", "0 or 25..250", seq: defaultSeq),
        .badField(hr(bpm: "null"), "bpm must be 0 or 25..250, got null", seq: defaultSeq),
        .badField(hr(bpm: "1"), "bpm must be 0 or 25..250, got 1", seq: defaultSeq),
        .badField(hr(bpm: "24"), "bpm must be 0 or 25..250, got 24", seq: defaultSeq),
        .badField(hr(bpm: "251"), "bpm must be 0 or 25..250, got 251", seq: defaultSeq),
        .badField(hr(bpm: "255"), "bpm must be 0 or 25..250, got 255", seq: defaultSeq),
        .badField(hr(bpm: "256"), "bpm must be 0 or 25..250, got 256", seq: defaultSeq),
        .badField(hr(bpm: "-1"), "bpm must be 0 or 25..250, got -1", seq: defaultSeq),
        .badField(hr(bpm: "120.5"), "bpm must be 0 or 25..250, got 120.5", seq: defaultSeq),
        .badField(hr(bpm: "true"), "bpm must be 0 or 25..250, got true", seq: defaultSeq),
        .badField(hr(bpm: "false"), "bpm must be 0 or 25..250, got false", seq: defaultSeq),
        .badField(hr(bpm: #""120""#), "bpm must be 0 or 25..250, got a string", seq: defaultSeq),
        .badField(hr(bpm: "{}"), "bpm must be 0 or 25..250, got an object", seq: defaultSeq),
    ]

    @Test("bad_field for bpm", arguments: badBPM)
    func rejectsBadBPM(_ rejection: Rejection) {
        expectRejected(rejection)
    }

    static let badRR: [Rejection] = [
        .badField(
            hr(#""rr":[\#((1...17).map(String.init).joined(separator: ","))]"#), "rr", "at most 16", "got 17 values",
            seq: defaultSeq),
        .badField(
            hr(#""rr":[\#(Array(repeating: "1", count: 100).joined(separator: ","))]"#), "rr", "at most 16",
            seq: defaultSeq),
        .badField(hr(#""rr":"431""#), "rr", "an array of at most 16 values 1..65535", "got a string", seq: defaultSeq),
        .badField(hr(#""rr":431"#), "rr", "an array of at most 16 values 1..65535", "got 431", seq: defaultSeq),
        .badField(hr(#""rr":true"#), "rr", "an array", "got true", seq: defaultSeq),
        .badField(hr(#""rr":{"0":431}"#), "rr", "an array", "got an object", seq: defaultSeq),
        .badField(hr(#""rr":[0]"#), "rr[0] must be 1..65535, got 0", seq: defaultSeq),
        .badField(hr(#""rr":[431,65536]"#), "rr[1] must be 1..65535, got 65536", seq: defaultSeq),
        .badField(hr(#""rr":[431,-1]"#), "rr[1] must be 1..65535, got -1", seq: defaultSeq),
        .badField(hr(#""rr":[431,440.5]"#), "rr[1] must be 1..65535, got 440.5", seq: defaultSeq),
        .badField(hr(#""rr":[431,440,true]"#), "rr[2] must be 1..65535, got true", seq: defaultSeq),
        .badField(hr(#""rr":[null]"#), "rr[0] must be 1..65535, got null", seq: defaultSeq),
        .badField(hr(#""rr":["431"]"#), "rr[0] must be 1..65535, got a string", seq: defaultSeq),
        .badField(hr(#""rr":[[431]]"#), "rr[0] must be 1..65535", seq: defaultSeq),
    ]

    @Test("bad_field for rr", arguments: badRR)
    func rejectsBadRR(_ rejection: Rejection) {
        expectRejected(rejection)
    }

    static let badContactAndEE: [Rejection] = [
        .badField(hr(#""contact":1"#), "contact must be true or false, got 1", seq: defaultSeq),
        .badField(hr(#""contact":0"#), "contact must be true or false, got 0", seq: defaultSeq),
        .badField(hr(#""contact":"true""#), "contact must be true or false, got a string", seq: defaultSeq),
        .badField(hr(#""contact":[]"#), "contact must be true or false, got an array", seq: defaultSeq),
        .badField(hr(#""ee":-1"#), "ee must be 0..65535, got -1", seq: defaultSeq),
        .badField(hr(#""ee":65536"#), "ee must be 0..65535, got 65536", seq: defaultSeq),
        .badField(hr(#""ee":12.5"#), "ee must be 0..65535, got 12.5", seq: defaultSeq),
        .badField(hr(#""ee":true"#), "ee must be 0..65535, got true", seq: defaultSeq),
        .badField(hr(#""ee":"12""#), "ee must be 0..65535, got a string", seq: defaultSeq),
    ]

    @Test("bad_field for contact and ee", arguments: badContactAndEE)
    func rejectsBadContactAndEE(_ rejection: Rejection) {
        expectRejected(rejection)
    }

    static let badPing: [Rejection] = [
        .badField(#"{"t":"ping"}"#, "missing id", "an integer or a string"),
        .badField(#"{"t":"ping","ct":5}"#, "missing id", "an integer or a string"),
        .badField(#"{"t":"ping","id":null}"#, "id must be an integer or a string, got null"),
        .badField(#"{"t":"ping","id":true}"#, "id must be an integer or a string, got true"),
        .badField(#"{"t":"ping","id":1.5}"#, "id must be an integer or a string, got 1.5"),
        .badField(#"{"t":"ping","id":1e19}"#, "id must be an integer or a string, got 1e+19"),
        .badField(#"{"t":"ping","id":[1]}"#, "id must be an integer or a string, got an array"),
        .badField(#"{"t":"ping","id":{}}"#, "id must be an integer or a string, got an object"),
        .badField(#"{"t":"ping","id":1,"ct":"now"}"#, "ct must be an integer", "got a string"),
        .badField(#"{"t":"ping","id":1,"ct":1.5}"#, "ct must be an integer", "got 1.5"),
        .badField(#"{"t":"ping","id":1,"ct":true}"#, "ct must be an integer", "got true"),
    ]

    @Test("bad_field in ping", arguments: badPing)
    func rejectsBadPing(_ rejection: Rejection) {
        expectRejected(rejection)
    }

    @Test func firstBadFieldWins() {
        let error = clientRejection(hr(bpm: "300", #""rr":[0]"#, #""ee":-1"#))
        #expect(error == ProtocolError(.badField, "bpm must be 0 or 25..250, got 300", seq: defaultSeq))
    }

    private func expectRejected(_ rejection: Rejection, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error = clientRejection(rejection.frame) else {
            Issue.record("accepted: \(rejection.frame)", sourceLocation: sourceLocation)
            return
        }
        #expect(error.code == rejection.code, "\(error.message)", sourceLocation: sourceLocation)
        for word in rejection.mentions {
            #expect(
                error.message.contains(word), "'\(error.message)' should mention '\(word)'",
                sourceLocation: sourceLocation)
        }
        #expect(error.seq == rejection.seq, sourceLocation: sourceLocation)
        #expect(!error.message.contains("\n"), sourceLocation: sourceLocation)
    }
}
