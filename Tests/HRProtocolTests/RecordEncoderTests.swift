import Foundation
import HRProtocol
import Testing

/// `RecordEncoder`: the record endpoint's JSON and CSV bodies, built row by row.
struct RecordEncoderTests {
    static let full = RecordedSample(
        classID: "c1", participant: "rider-1",
        sample: Sample(seq: 7, ts: 1_700_000_000_123, bpm: 142, rr: [812, 790], contact: true, ee: 12),
        rts: 1_700_000_000_150, zone: 3)
    static let bare = RecordedSample(
        classID: "c1", participant: "rider_2", sample: Sample(seq: 4_294_967_295, ts: -5, bpm: 0), rts: 0)

    static func encode(_ rows: [RecordedSample], _ format: RecordEncoder.Format) -> String {
        var encoder = RecordEncoder(format: format)
        var out: [UInt8] = []
        encoder.appendStart(to: &out)
        for row in rows { encoder.append(row, to: &out) }
        encoder.appendEnd(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func jsonRowsCarryOptionalFieldsOnlyWhenKnown() {
        #expect(Self.encode([Self.full, Self.bare], .json) == """
            [{"p":"rider-1","seq":7,"ts":1700000000123,"rts":1700000000150,"bpm":142,"rr":[812,790],\
            "contact":true,"ee":12},{"p":"rider_2","seq":4294967295,"ts":-5,"rts":0,"bpm":0}]
            """)
    }

    @Test func jsonBodyIsValidJSONThatFoundationReads() throws {
        let body = Self.encode([Self.full, Self.bare, Self.full], .json)
        let parsed = try #require(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]])
        #expect(parsed.count == 3)
        #expect(parsed[0]["rr"] as? [Int] == [812, 790])
        #expect(parsed[1]["rr"] == nil)
        #expect(parsed[1]["contact"] == nil)
    }

    @Test func emptyRecordIsAnEmptyArrayOrJustTheHeader() {
        #expect(Self.encode([], .json) == "[]")
        #expect(Self.encode([], .csv) == "participant,seq,ts,rts,bpm,rr\n")
    }

    @Test func csvJoinsRRWithSpacesAndLeavesItEmptyWithout() {
        #expect(Self.encode([Self.full, Self.bare], .csv) == """
            participant,seq,ts,rts,bpm,rr
            rider-1,7,1700000000123,1700000000150,142,812 790
            rider_2,4294967295,-5,0,0,

            """)
    }

    @Test func idsOutsideTheProtocolAlphabetAreStillWellFormed() {
        var row = Self.bare
        row.participant = "a,\"b\"\n"
        #expect(Self.encode([row], .csv).hasSuffix("\"a,\"\"b\"\"\n\",4294967295,-5,0,0,\n"))
        #expect(Self.encode([row], .json).hasPrefix(#"[{"p":"a,\"b\"\u000a","#))
    }

    @Test func chunksAppendedToAReusedBufferJoinIntoTheSameBody() {
        var encoder = RecordEncoder(format: .json)
        var out: [UInt8] = []
        var body: [UInt8] = []
        encoder.appendStart(to: &out)
        for row in [Self.full, Self.bare] {
            encoder.append(row, to: &out)
            body += out
            out.removeAll(keepingCapacity: true)
        }
        encoder.appendEnd(to: &out)
        body += out
        #expect(String(decoding: body, as: UTF8.self) == Self.encode([Self.full, Self.bare], .json))
    }

    @Test func contentTypes() {
        #expect(RecordEncoder.Format.json.contentType == "application/json")
        #expect(RecordEncoder.Format.csv.contentType.hasPrefix("text/csv"))
    }
}
