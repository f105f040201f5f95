import HRCluster
import HRCore
import HRProtocol
import Testing

/// The messages hubs exchange over NATS: they read back as written, and anything malformed is refused.
@Suite struct ClusterWireTests {
    private let batch = SampleBatch(
        origin: "hub-a", classID: "spin",
        samples: [
            AcceptedSample("ann", Sample(seq: 1, ts: 1_795_300_000_000, bpm: 142, rr: [431, 440]), arrivalMs: 17),
            AcceptedSample(
                "bob", Sample(seq: 4_000_000_000, ts: -5, bpm: 0, rr: [], contact: false, ee: 65_535), arrivalMs: -1),
            AcceptedSample("cy", Sample(seq: 2, ts: 0, bpm: 250, contact: true), arrivalMs: .max),
        ])

    @Test func sampleBatchRoundTrips() throws {
        #expect(try SampleBatch.decode(batch.encoded()) == batch)
        let empty = SampleBatch(origin: "h", classID: "c", samples: [])
        #expect(try SampleBatch.decode(empty.encoded()) == empty)
    }

    @Test func announcementRoundTrips() throws {
        let announcement = Announcement(
            hub: "hub-b", leaving: true,
            classes: [
                "spin": [
                    PresentRider(
                        id: "ann", profile: Profile(name: "Ann Ö", hrmax: 190, hrrest: 50), sinceMs: 1_795_300_000_000),
                    PresentRider(id: "bob", profile: Profile()),
                    PresentRider(id: "cy", profile: Profile(name: "")),
                ],
            ],
            viewers: ["spin": 3, "yoga": 70_000])
        #expect(try Announcement.decode(announcement.encoded()) == announcement)
    }

    @Test func everyTruncationIsRefused() {
        let bytes = batch.encoded()
        for length in 0..<bytes.count {
            #expect(throws: ClusterWireError.self) { try SampleBatch.decode(Array(bytes.prefix(length))) }
        }
    }

    @Test func trailingBytesWrongKindsAndVersionsAndBadIdsAreRefused() {
        #expect(throws: ClusterWireError.self) { try SampleBatch.decode(batch.encoded() + [0]) }
        #expect(throws: ClusterWireError.self) {
            try Announcement.decode(batch.encoded())
        }
        var version = batch.encoded()
        version[0] = 2
        #expect(throws: ClusterWireError.self) { try SampleBatch.decode(version) }
        let badID = SampleBatch(origin: "a.b", classID: "spin", samples: [])
        #expect(throws: ClusterWireError.self) { try SampleBatch.decode(badID.encoded()) }
    }

    @Test func subjectsAreOneTokenPerId() {
        #expect(ClusterSubjects.samples(classID: "spin-1") == "hrhub.v1.class.spin-1.samples")
        #expect(ClusterSubjects.hub("a_b") == "hrhub.v1.hub.a_b")
    }
}
