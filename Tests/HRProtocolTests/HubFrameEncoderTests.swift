import Foundation
import HRProtocol
import Testing

@Suite("HubFrameEncoder and HubFrameDecoder")
struct HubFrameEncoderTests {
    static let fullSample = RelayedSample(
        p: "rider-7",
        sample: Sample(seq: 42, ts: 1_700_000_000_123, bpm: 142, rr: [431, 440], contact: true, ee: 12),
        rts: 1_700_000_000_150, pct: 75, zone: 3)
    static let bareSample = RelayedSample(p: "r", sample: Sample(seq: 0, ts: 0, bpm: 0), rts: 0)

    // MARK: Golden bytes

    @Test func sampleFrameIsExact() {
        #expect(
            text(HubFrameEncoder.frame([.hr(Self.fullSample)]))
                == #"[{"t":"hr","p":"rider-7","seq":42,"ts":1700000000123,"rts":1700000000150,"bpm":142,"#
                + #""rr":[431,440],"contact":true,"ee":12,"pct":75,"zone":3}]"#)
        #expect(
            text(HubFrameEncoder.json(.hr(Self.bareSample))) == #"{"t":"hr","p":"r","seq":0,"ts":0,"rts":0,"bpm":0}"#)
    }

    @Test func everyMessageShapeIsExact() {
        let cases: [(HubMessage, String)] = [
            (
                .welcome(
                    Welcome(
                        classID: "spin-1", role: .publisher, participant: "r1", mode: nil, budgetMs: 800, ht: 5,
                        lastSeq: nil)),
                #"{"t":"welcome","class":"spin-1","role":"publisher","participant":"r1","budget_ms":800,"ht":5,"#
                    + #""last_seq":null}"#
            ),
            (
                .welcome(
                    Welcome(
                        classID: "c", role: .participant, participant: "r1", mode: .latest, budgetMs: 800, ht: 5,
                        lastSeq: 9)),
                #"{"t":"welcome","class":"c","role":"participant","participant":"r1","mode":"latest","budget_ms":800,"#
                    + #""ht":5,"last_seq":9}"#
            ),
            (
                .welcome(
                    Welcome(
                        classID: "c", role: .viewer, participant: nil, mode: .all, budgetMs: 500, ht: 5,
                        lastSeq: nil)),
                #"{"t":"welcome","class":"c","role":"viewer","mode":"all","budget_ms":500,"ht":5}"#
            ),
            (.snapshot([]), #"{"t":"snapshot","participants":[]}"#),
            (
                .snapshot([
                    SnapshotEntry(p: "a", profile: Profile(name: "A", hrmax: 190, hrrest: 50), last: Self.bareSample),
                    SnapshotEntry(p: "b", profile: Profile(), last: nil),
                ]),
                #"{"t":"snapshot","participants":[{"p":"a","name":"A","hrmax":190,"hrrest":50,"#
                    + #""last":{"t":"hr","p":"r","seq":0,"ts":0,"rts":0,"bpm":0}},{"p":"b"}]}"#
            ),
            (.join(p: "a", profile: Profile()), #"{"t":"join","p":"a"}"#),
            (
                .join(p: "a", profile: Profile(name: "A", hrmax: 190, hrrest: 50)),
                #"{"t":"join","p":"a","name":"A","hrmax":190,"hrrest":50}"#
            ),
            (.leave(p: "a", reason: .timeout), #"{"t":"leave","p":"a","reason":"timeout"}"#),
            (.stale(p: "a", since: 12), #"{"t":"stale","p":"a","since":12}"#),
            (.live(p: "a", since: 13), #"{"t":"live","p":"a","since":13}"#),
            (
                .gap(Gap(p: "a", fromSeq: 3, toSeq: 9, count: 5, reason: .backpressure)),
                #"{"t":"gap","p":"a","from_seq":3,"to_seq":9,"count":5,"reason":"backpressure"}"#
            ),
            (
                .error(ProtocolError(.badField, "bpm must be 0 or 25..250, got 300", seq: 7)),
                #"{"t":"error","code":"bad_field","msg":"bpm must be 0 or 25..250, got 300","seq":7}"#
            ),
            (.error(ProtocolError(.badJSON, "x")), #"{"t":"error","code":"bad_json","msg":"x"}"#),
            (
                .error(
                    ProtocolError(
                        .rateLimited, "m", seq: 4, coalesced: CoalescedRun(count: 3, fromSeq: 4, toSeq: 6))),
                #"{"t":"error","code":"rate_limited","msg":"m","seq":4,"count":3,"from_seq":4,"to_seq":6}"#
            ),
            (.pong(id: .number(-3), ct: 100, ht: 105), #"{"t":"pong","id":-3,"ct":100,"ht":105}"#),
            (.pong(id: .string("a"), ct: nil, ht: 105), #"{"t":"pong","id":"a","ht":105}"#),
            (.board(Board(at: 1, n: 0, top: [])), #"{"t":"board","at":1,"n":0,"top":[]}"#),
            (
                .board(
                    Board(
                        at: 5, n: 3, top: [BoardEntry(p: "a", rank: 1, pointsTenths: 123, bpm: 150, zone: 4)],
                        me: BoardEntry(p: "c", rank: 3, pointsTenths: 5), near: [])),
                #"{"t":"board","at":5,"n":3,"top":[{"p":"a","rank":1,"points":12.3,"bpm":150,"zone":4}],"#
                    + #""me":{"p":"c","rank":3,"points":0.5},"near":[]}"#
            ),
            (
                .board(
                    Board(
                        at: 5, n: 3, top: [], me: BoardEntry(p: "c", rank: 3, pointsTenths: 0),
                        near: [
                            BoardEntry(p: "a", rank: 1, pointsTenths: 10), BoardEntry(p: "b", rank: 2, pointsTenths: 1),
                        ]
                    )),
                #"{"t":"board","at":5,"n":3,"top":[],"me":{"p":"c","rank":3,"points":0.0},"#
                    + #""near":[{"p":"a","rank":1,"points":1.0},{"p":"b","rank":2,"points":0.1}]}"#
            ),
        ]
        for (message, expected) in cases {
            #expect(text(HubFrameEncoder.json(message)) == expected)
        }
    }

    @Test func framesJoinMessagesWithCommas() {
        #expect(text(HubFrameEncoder.frame([])) == "[]")
        #expect(
            text(HubFrameEncoder.frame([.stale(p: "a", since: 1), .live(p: "a", since: 2)]))
                == #"[{"t":"stale","p":"a","since":1},{"t":"live","p":"a","since":2}]"#)
    }

    @Test func appendJSONAppendsToExistingBytes() {
        var out = Array("[".utf8)
        HubFrameEncoder.appendJSON(.stale(p: "a", since: 1), to: &out)
        #expect(text(out) == #"[{"t":"stale","p":"a","since":1}"#)
    }

    @Test func integersAtTheirLimits() {
        let message = HubMessage.pong(id: .number(Int64.min), ct: Int64.max, ht: -1)
        #expect(
            text(HubFrameEncoder.json(message))
                == #"{"t":"pong","id":-9223372036854775808,"ct":9223372036854775807,"ht":-1}"#)
    }

    // MARK: Escaping

    @Test func stringsAreEscaped() {
        let message = HubMessage.error(ProtocolError(.badField, "q\" b\\ s/ n\n t\t nul\u{0} us\u{1F} del\u{7F}"))
        #expect(
            text(HubFrameEncoder.json(message))
                == #"{"t":"error","code":"bad_field","msg":"q\" b\\ s/ n\u000a t\u0009 nul\u0000 us\u001f del"#
                + "\u{7F}\"}")
    }

    @Test func utf8IsKeptAsIs() {
        let name = "Zoë 🚴‍♀️ 東京 \u{2028}"
        let bytes = HubFrameEncoder.json(.join(p: "a", profile: Profile(name: name)))
        #expect(bytes == Array(#"{"t":"join","p":"a","name":""#.utf8) + Array(name.utf8) + Array(#""}"#.utf8))
    }

    @Test func everyControlCharacterSurvivesFoundationsDecoder() throws {
        let all = String(String.UnicodeScalarView((0..<0x80).map { Unicode.Scalar(UInt8($0)) })) + "é\"\\"
        let bytes = HubFrameEncoder.frame([.join(p: "a", profile: Profile(name: all))])
        #expect(!bytes.contains { $0 < 0x20 })
        #expect(try HubFrameDecoder.decodeJSON(bytes) == [.join(p: "a", profile: Profile(name: all))])
        let viaFoundation = try JSONSerialization.jsonObject(with: Data(bytes)) as? [[String: Any]]
        #expect(viaFoundation?.first?["name"] as? String == all)
    }

    // MARK: JSON round trips

    static let messages: [HubMessage] =
        [
            .welcome(
                Welcome(
                    classID: "spin-1", role: .publisher, participant: "r1", mode: nil, budgetMs: 800, ht: 5,
                    lastSeq: nil)),
            .welcome(
                Welcome(
                    classID: "spin-1", role: .publisher, participant: "r1", mode: nil, budgetMs: 800, ht: 5,
                    lastSeq: UInt32.max)),
            .welcome(
                Welcome(
                    classID: "c", role: .participant, participant: "r1", mode: .latest, budgetMs: 0, ht: 5,
                    lastSeq: 0)),
            .welcome(
                Welcome(classID: "c", role: .viewer, participant: nil, mode: .all, budgetMs: 800, ht: 5, lastSeq: nil)),
            .snapshot([]),
            .snapshot([
                SnapshotEntry(p: "a", profile: Profile(name: "Ana", hrmax: 190, hrrest: 50), last: fullSample),
                SnapshotEntry(p: "b", profile: Profile(), last: nil),
                SnapshotEntry(p: "c", profile: Profile(hrmax: 200), last: bareSample),
            ]),
            .join(p: "a", profile: Profile()),
            .join(p: "a", profile: Profile(name: "\"Zoë\"\n", hrmax: 240, hrrest: 25)),
            .leave(p: "a", reason: .closed),
            .leave(p: "a", reason: .timeout),
            .leave(p: "a", reason: .evicted),
            .hr(fullSample),
            .hr(bareSample),
            .hr(
                RelayedSample(
                    p: "x", sample: Sample(seq: 1, ts: 2, bpm: 80, rr: Array(1...64), contact: false), rts: 3, pct: 40,
                    zone: 1)),
            .stale(p: "a", since: 1_700_000_000_000),
            .live(p: "a", since: 1_700_000_000_000),
            .gap(Gap(p: "a", fromSeq: 0, toSeq: UInt32.max, count: 12, reason: .backpressure)),
            .gap(Gap(p: "a", fromSeq: 5, toSeq: 5, count: 1, reason: .late)),
            .gap(Gap(p: "a", fromSeq: 5, toSeq: 6, count: 2, reason: .conflated)),
            .error(ProtocolError(.badField, "bpm must be 0 or 25..250, got 300", seq: 7)),
            .error(
                ProtocolError(.duplicate, "d", seq: 9, coalesced: CoalescedRun(count: 2, fromSeq: 9, toSeq: 10))),
            .pong(id: .number(7), ct: 100, ht: 105),
            .pong(id: .number(-7), ct: nil, ht: 105),
            .pong(id: .string("7"), ct: -1, ht: 105),
            .pong(id: .string(""), ct: nil, ht: 0),
            .board(Board(at: 0, n: 0, top: [])),
            .board(
                Board(
                    at: 1_700_000_000_000, n: 20_000,
                    top: [
                        BoardEntry(p: "a", rank: 1, pointsTenths: 123_456_789, bpm: 250, zone: 5),
                        BoardEntry(p: "\"b\"", rank: 2, pointsTenths: 9, bpm: 0),
                    ],
                    me: BoardEntry(p: "c", rank: 19_999, pointsTenths: 0),
                    near: [BoardEntry(p: "d", rank: 19_998, pointsTenths: 1, zone: 1)])),
        ] + ErrorCode.allCases.map { .error(ProtocolError($0, "message for \($0.rawValue)")) }

    @Test("JSON round trip", arguments: messages)
    func jsonRoundTrip(_ message: HubMessage) throws {
        #expect(try HubFrameDecoder.decodeJSON(HubFrameEncoder.frame([message])) == [message])
    }

    @Test func wholeFrameRoundTrip() throws {
        let frame = HubFrameEncoder.frame(Self.messages)
        #expect(try HubFrameDecoder.decodeJSON(frame) == Self.messages)
        #expect(try frame.withUnsafeBytes { try HubFrameDecoder.decodeJSON($0) } == Self.messages)
    }

    @Test func framesSplicedFromSharedBytesDecode() throws {
        let shared = HubFrameEncoder.json(.hr(Self.fullSample))
        let frame = Array("[".utf8) + shared + Array(",".utf8) + shared + Array("]".utf8)
        #expect(try HubFrameDecoder.decodeJSON(frame) == [.hr(Self.fullSample), .hr(Self.fullSample)])
    }

    static let badHubFrames: [String] = [
        "",
        "{",
        #"{"t":"hr"}"#,
        #"[{"t":"nope"}]"#,
        #"[{"p":"a","since":1}]"#,
        #"[{"t":"stale","p":"a"}]"#,
        #"[{"t":"leave","p":"a","reason":"bored"}]"#,
        #"[{"t":"hr","p":"a","seq":1,"ts":2,"rts":3,"bpm":"80"}]"#,
        #"[{"t":"snapshot","participants":[{"p":"a","last":{"t":"join","p":"a"}}]}]"#,
        #"[{"t":"board","at":1,"n":1}]"#,
        #"[{"t":"board","at":1,"n":1,"top":[{"p":"a","rank":1}]}]"#,
        #"[{"t":"board","at":1,"n":1,"top":[{"p":"a","rank":1,"points":"1.0"}]}]"#,
        #"[{"t":"board","at":1,"n":1,"top":[{"p":"a","rank":1,"points":1e300}]}]"#,
    ]

    @Test("hub JSON frame rejected", arguments: badHubFrames)
    func rejectsBadHubJSON(_ frame: String) {
        #expect(throws: ProtocolError.self) { try HubFrameDecoder.decodeJSON(Array(frame.utf8)) }
    }

    // MARK: Binary

    @Test func binarySampleIsExact() {
        var out: [UInt8] = [0xEE]
        HubFrameEncoder.appendBinary(Self.fullSample, to: &out)
        let expected: [UInt8] =
            [0xEE, 0x02, 0b1111] + le(UInt32(42)) + le(UInt64(1_700_000_000_123)) + [142, 2]
            + le(UInt64(1_700_000_000_150)) + [7] + Array("rider-7".utf8) + le(UInt16(12)) + le(UInt16(431))
            + le(UInt16(440))
        #expect(out == expected)

        var bare: [UInt8] = []
        HubFrameEncoder.appendBinary(Self.bareSample, to: &bare)
        #expect(bare == [0x02, 0] + [UInt8](repeating: 0, count: 4 + 8 + 2 + 8) + [1, UInt8(ascii: "r")])
    }

    static let binarySamples: [RelayedSample] = [
        bareSample,
        RelayedSample(p: fullSample.p, sample: fullSample.sample, rts: fullSample.rts),
        RelayedSample(p: "b", sample: Sample(seq: 1, ts: 2, bpm: 60, contact: false), rts: 3),
        RelayedSample(p: "c", sample: Sample(seq: 1, ts: 2, bpm: 60, ee: 0), rts: 3),
        RelayedSample(
            p: String(repeating: "x", count: 64), sample: Sample(seq: 1, ts: 2, bpm: 60, rr: Array(1...64)),
            rts: 3),
        RelayedSample(p: "é🚴", sample: Sample(seq: UInt32.max, ts: Int64.max, bpm: 255), rts: Int64.min),
    ]

    @Test("binary round trip", arguments: binarySamples)
    func binaryRoundTrip(_ sample: RelayedSample) throws {
        var out: [UInt8] = []
        HubFrameEncoder.appendBinary(sample, to: &out)
        #expect(try HubFrameDecoder.decodeBinary(out) == [sample])
    }

    @Test func binaryFrameHoldsSamplesBackToBack() throws {
        var out: [UInt8] = []
        for sample in Self.binarySamples {
            HubFrameEncoder.appendBinary(sample, to: &out)
        }
        #expect(try HubFrameDecoder.decodeBinary(out) == Self.binarySamples)
        #expect(try out.withUnsafeBytes { try HubFrameDecoder.decodeBinary($0) } == Self.binarySamples)
    }

    @Test func binaryDropsPctAndZone() throws {
        var out: [UInt8] = []
        HubFrameEncoder.appendBinary(Self.fullSample, to: &out)
        let decoded = try HubFrameDecoder.decodeBinary(out)
        #expect(decoded.first?.pct == nil && decoded.first?.zone == nil)
        #expect(decoded.first?.sample == Self.fullSample.sample)
    }

    static func encoded(_ sample: RelayedSample) -> [UInt8] {
        var out: [UInt8] = []
        HubFrameEncoder.appendBinary(sample, to: &out)
        return out
    }

    static let badHubBinary: [[UInt8]] = [
        [],
        Array(encoded(fullSample).dropLast()),
        encoded(fullSample) + [0x02],
        [0x01] + encoded(fullSample).dropFirst(),
        Array(encoded(bareSample).dropLast()) + [0xFF],
        [0x02, 0] + [UInt8](repeating: 0, count: 13) + [1] + [UInt8](repeating: 0, count: 9) + [0, 0],
    ]

    @Test("hub binary frame rejected", arguments: badHubBinary)
    func rejectsBadHubBinary(_ bytes: [UInt8]) {
        #expect(throws: ProtocolError.self) { try HubFrameDecoder.decodeBinary(bytes) }
    }
}
