import HRProtocol
import Testing

@Suite("ConnectRequest")
struct ConnectRequestTests {
    static let path = "/v1/classes/spin-1/ws"

    // MARK: Accepted

    @Test func publisher() throws {
        #expect(
            try ConnectRequest.parse(path: Self.path, query: "role=publisher&participant=rider_7")
                == ConnectRequest(classID: "spin-1", role: .publisher, participant: "rider_7", mode: .all, token: nil))
    }

    @Test func viewerDefaultsToAll() throws {
        #expect(
            try ConnectRequest.parse(path: Self.path, query: "role=viewer")
                == ConnectRequest(classID: "spin-1", role: .viewer, participant: nil, mode: .all))
    }

    @Test func viewerLatestWithToken() throws {
        #expect(
            try ConnectRequest.parse(path: Self.path, query: "mode=latest&role=viewer&token=eyJ.abc.d-_")
                == ConnectRequest(
                    classID: "spin-1", role: .viewer, participant: nil, mode: .latest, token: "eyJ.abc.d-_"))
    }

    @Test func participantWithModes() throws {
        for mode in DeliveryMode.allCases {
            #expect(
                try ConnectRequest.parse(path: Self.path, query: "role=participant&participant=a&mode=\(mode.rawValue)")
                    == ConnectRequest(classID: "spin-1", role: .participant, participant: "a", mode: mode))
        }
    }

    @Test func valuesArePercentDecoded() throws {
        let request = try ConnectRequest.parse(
            path: Self.path, query: "r%6Fle=%70ublisher&participant=r%2D1&token=a%2Fb%2Bc+d%20%C3%A9")
        #expect(request.role == .publisher)
        #expect(request.participant == "r-1")
        #expect(request.token == "a/b+c+d é")
    }

    @Test func unknownParametersAndEmptyItemsAreIgnored() throws {
        #expect(
            try ConnectRequest.parse(path: Self.path, query: "&&role=viewer&&v=2&cache&x=%zz&")
                == ConnectRequest(classID: "spin-1", role: .viewer, participant: nil))
    }

    @Test func emptyTokenIsNoToken() throws {
        #expect(try ConnectRequest.parse(path: Self.path, query: "role=viewer&token=").token == nil)
        #expect(try ConnectRequest.parse(path: Self.path, query: "role=viewer&token").token == nil)
    }

    @Test func queryStillInPathIsSplit() throws {
        #expect(
            try ConnectRequest.parse(path: Self.path + "?role=viewer&mode=latest", query: nil)
                == ConnectRequest(classID: "spin-1", role: .viewer, participant: nil, mode: .latest))
    }

    @Test func boardDefaultsToTenAndTakesZeroToHundred() throws {
        #expect(try ConnectRequest.parse(path: Self.path, query: "role=viewer").board == 10)
        #expect(try ConnectRequest.parse(path: Self.path, query: "role=participant&participant=a").board == 10)
        for value in [0, 1, 10, 99, 100] {
            #expect(try ConnectRequest.parse(path: Self.path, query: "role=viewer&board=\(value)").board == value)
            #expect(
                try ConnectRequest.parse(path: Self.path, query: "role=participant&participant=a&board=\(value)")
                    .board == value)
        }
        #expect(try ConnectRequest.parse(path: Self.path, query: "role=viewer&board=007").board == 7)
        #expect(try ConnectRequest.parse(path: Self.path, query: "role=viewer&b%6Fard=%35").board == 5)
    }

    @Test func longestIDs() throws {
        let id = String(repeating: "a", count: 64)
        let request = try ConnectRequest.parse(
            path: "/v1/classes/\(id)/ws", query: "role=publisher&participant=\(id)")
        #expect(request.classID == id && request.participant == id)
    }

    // MARK: Rejected

    /// A request that must be refused, and the exact reason.
    struct Refusal: Sendable, CustomTestStringConvertible {
        let path: String
        let query: String?
        let reason: String
        var testDescription: String { "\(path)?\(query ?? "")" }

        init(path: String, _ query: String?, _ reason: String) {
            self.path = path
            self.query = query
            self.reason = reason
        }

        init(_ query: String?, _ reason: String) {
            self.path = ConnectRequestTests.path
            self.query = query
            self.reason = reason
        }
    }

    static let unknownPath = "unknown path: expected /v1/classes/{classId}/ws"
    static let badClass = "bad class id: expected [A-Za-z0-9_-]{1,64}"
    static let badParticipant = "bad participant id: expected [A-Za-z0-9_-]{1,64}"

    static let refusals: [Refusal] = [
        Refusal(path: "/", "role=viewer", unknownPath),
        Refusal(path: "", "role=viewer", unknownPath),
        Refusal(path: "/v1/classes/spin-1", "role=viewer", unknownPath),
        Refusal(path: "/v1/classes/spin-1/ws/", "role=viewer", unknownPath),
        Refusal(path: "/v1/classes/spin-1/wss", "role=viewer", unknownPath),
        Refusal(path: "/v2/classes/spin-1/ws", "role=viewer", unknownPath),
        Refusal(path: "/v1/class/spin-1/ws", "role=viewer", unknownPath),
        Refusal(path: "v1/classes/spin-1/ws", "role=viewer", unknownPath),
        Refusal(path: "//v1/classes/spin-1/ws", "role=viewer", unknownPath),
        Refusal(path: "/v1/classes/a/b/ws", "role=viewer", unknownPath),
        Refusal(path: "/V1/Classes/spin-1/WS", "role=viewer", unknownPath),
        Refusal(path: "/v1/classes//ws", "role=viewer", badClass),
        Refusal(path: "/v1/classes/\(String(repeating: "a", count: 65))/ws", "role=viewer", badClass),
        Refusal(path: "/v1/classes/spin.1/ws", "role=viewer", badClass),
        Refusal(path: "/v1/classes/spin%2D1/ws", "role=viewer", badClass),
        Refusal(path: "/v1/classes/spin 1/ws", "role=viewer", badClass),
        Refusal(path: "/v1/classes/zoë/ws", "role=viewer", badClass),
        Refusal(nil, "role is required: expected publisher, viewer or participant"),
        Refusal("", "role is required: expected publisher, viewer or participant"),
        Refusal("participant=a&mode=all", "role is required: expected publisher, viewer or participant"),
        Refusal("role=x", "unknown role 'x': expected publisher, viewer or participant"),
        Refusal("role=", "unknown role '': expected publisher, viewer or participant"),
        Refusal("role=Publisher&participant=a", "unknown role 'Publisher': expected publisher, viewer or participant"),
        Refusal("role=admin", "unknown role 'admin': expected publisher, viewer or participant"),
        Refusal("role=%0D%0Ax'y", "unknown role '??x?y': expected publisher, viewer or participant"),
        Refusal(
            "role=\(String(repeating: "v", count: 40))",
            "unknown role '\(String(repeating: "v", count: 32))...': expected publisher, viewer or participant"),
        Refusal("role=publisher", "participant is required for role publisher"),
        Refusal("role=participant", "participant is required for role participant"),
        Refusal("role=viewer&participant=a", "participant is not allowed for role viewer"),
        Refusal("role=viewer&participant=", "participant is not allowed for role viewer"),
        Refusal("role=publisher&participant=", badParticipant),
        Refusal("role=publisher&participant=a.b", badParticipant),
        Refusal("role=participant&participant=a%20b", badParticipant),
        Refusal("role=publisher&participant=\(String(repeating: "a", count: 65))", badParticipant),
        Refusal("role=publisher&participant=a&mode=all", "mode is not allowed for role publisher"),
        Refusal("role=publisher&participant=a&mode=latest", "mode is not allowed for role publisher"),
        Refusal("role=viewer&mode=fast", "unknown mode 'fast': expected all or latest"),
        Refusal("role=viewer&mode=", "unknown mode '': expected all or latest"),
        Refusal("role=viewer&mode=ALL", "unknown mode 'ALL': expected all or latest"),
        Refusal("role=viewer&role=viewer", "query parameter 'role' given more than once"),
        Refusal("role=publisher&participant=a&participant=b", "query parameter 'participant' given more than once"),
        Refusal("role=viewer&mode=all&mode=latest", "query parameter 'mode' given more than once"),
        Refusal("role=viewer&token=a&token=b", "query parameter 'token' given more than once"),
        Refusal("role=vie%zzwer", "bad percent-encoding in query parameter 'role'"),
        Refusal("role=viewer%", "bad percent-encoding in query parameter 'role'"),
        Refusal("role=viewer%4", "bad percent-encoding in query parameter 'role'"),
        Refusal("role=viewer&token=%FF", "bad percent-encoding in query parameter 'token'"),
        Refusal("ro%le=viewer", "bad percent-encoding in query key 'ro%le'"),
        Refusal("role=viewer&board=101", "bad board '101': expected an integer from 0 to 100"),
        Refusal("role=viewer&board=1000", "bad board '1000': expected an integer from 0 to 100"),
        Refusal("role=viewer&board=-1", "bad board '-1': expected an integer from 0 to 100"),
        Refusal("role=viewer&board=+5", "bad board '+5': expected an integer from 0 to 100"),
        Refusal("role=viewer&board=", "bad board '': expected an integer from 0 to 100"),
        Refusal("role=viewer&board", "bad board '': expected an integer from 0 to 100"),
        Refusal("role=viewer&board=ten", "bad board 'ten': expected an integer from 0 to 100"),
        Refusal("role=viewer&board=1.5", "bad board '1.5': expected an integer from 0 to 100"),
        Refusal("role=viewer&board=1e1", "bad board '1e1': expected an integer from 0 to 100"),
        Refusal("role=viewer&board=%205", "bad board ' 5': expected an integer from 0 to 100"),
        Refusal(
            "role=viewer&board=99999999999999999999",
            "bad board '99999999999999999999': expected an integer from 0 to 100"),
        Refusal("role=viewer&board=%FF", "bad percent-encoding in query parameter 'board'"),
        Refusal("role=viewer&board=1&board=2", "query parameter 'board' given more than once"),
        Refusal("role=publisher&participant=a&board=10", "board is not allowed for role publisher"),
    ]

    @Test("refusal", arguments: refusals)
    func refuses(_ refusal: Refusal) {
        #expect(throws: RequestError(reason: refusal.reason)) {
            try ConnectRequest.parse(path: refusal.path, query: refusal.query)
        }
    }

    @Test("reasons are one printable ASCII line", arguments: refusals)
    func reasonsArePrintable(_ refusal: Refusal) {
        do {
            _ = try ConnectRequest.parse(path: refusal.path, query: refusal.query)
        } catch {
            #expect(error.reason.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) })
        }
    }

    // MARK: Subprotocols

    @Test(
        "subprotocol selection",
        arguments: [
            ([], WireFormat.json),
            ([""], .json),
            (["hrhub.v1.json"], .json),
            (["hrhub.v1.bin"], .binary),
            (["hrhub.v1.json", "hrhub.v1.bin"], .json),
            (["hrhub.v1.bin", "hrhub.v1.json"], .binary),
            (["chat", "hrhub.v1.bin"], .binary),
            ([" hrhub.v1.bin\t", ""], .binary),
            (["chat"], nil),
            (["chat", "hrhub.v2.json"], nil),
            (["HRHUB.V1.JSON"], nil),
        ] as [([String], WireFormat?)])
    func selectsSubprotocol(_ offered: [String], _ expected: WireFormat?) {
        #expect(ConnectRequest.selectSubprotocol(offered: offered) == expected)
    }
}

@Suite("Identifier")
struct IdentifierTests {
    @Test(
        "valid", arguments: ["a", "Z", "0", "_", "-", "spin-class_07", "ABCxyz019", String(repeating: "a", count: 64)])
    func valid(_ id: String) {
        #expect(Identifier.isValid(id))
        #expect(Identifier.isValid(Substring("/" + id + "/").dropFirst().dropLast()))
    }

    @Test(
        "invalid",
        arguments: [
            "", String(repeating: "a", count: 65), "a b", "a.b", "a/b", "a%2D", "é", "a\u{0}", "a\n", "🚴", "a+b",
            "a~b", "ａ",
        ])
    func invalid(_ id: String) {
        #expect(!Identifier.isValid(id))
        #expect(!Identifier.isValid(Substring(id)))
    }
}

@Suite("Zones")
struct ZonesTests {
    @Test(
        "pct",
        arguments: [
            (150, 200, 75), (190, 190, 100), (250, 100, 250), (25, 240, 10),
            (1, 200, 1),  // 0.5 rounds up
            (99, 200, 50),  // 49.5 rounds up
            (3, 8, 38),  // 37.5 rounds up
            (149, 200, 75),  // 74.5 rounds up
            (101, 150, 67),  // 67.33 rounds down
            (102, 150, 68),  // 68.0
        ] as [(UInt8, Int, Int)])
    func pct(_ bpm: UInt8, _ hrmax: Int, _ expected: Int) {
        #expect(Zones.pct(bpm: bpm, hrmax: hrmax) == expected)
    }

    @Test func noPctWithoutHrmaxOrReading() {
        #expect(Zones.pct(bpm: 150, hrmax: nil) == nil)
        #expect(Zones.pct(bpm: 0, hrmax: 190) == nil)
        #expect(Zones.pct(bpm: 150, hrmax: 0) == nil)
        #expect(Zones.pct(bpm: 150, hrmax: -5) == nil)
    }

    @Test(
        "zone", arguments: [(0, 1), (59, 1), (60, 2), (69, 2), (70, 3), (79, 3), (80, 4), (89, 4), (90, 5), (250, 5)])
    func zone(_ pct: Int, _ expected: Int) {
        #expect(Zones.zone(pct: pct) == expected)
        #expect(ZoneTable.standard.zone(pct: pct) == expected)
    }

    @Test func customTable() throws {
        let table = try #require(ZoneTable(lowerBounds: [50, 65, 75, 85]))
        #expect(table.zone(pct: 49) == 1)
        #expect(table.zone(pct: 50) == 2)
        #expect(Zones.zone(pct: 84, table: table) == 4)
        #expect(Zones.zone(pct: 85, table: table) == 5)
    }

    @Test(
        "invalid tables", arguments: [[], [60, 70, 80], [60, 70, 80, 90, 95], [60, 60, 80, 90], [90, 80, 70, 60]])
    func invalidTable(_ bounds: [Int]) {
        #expect(ZoneTable(lowerBounds: bounds) == nil)
    }
}
