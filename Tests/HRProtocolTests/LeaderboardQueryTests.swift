import HRProtocol
import Testing

@Suite("LeaderboardQuery")
struct LeaderboardQueryTests {
    @Test func defaults() throws {
        #expect(try LeaderboardQuery.parse(query: nil) == LeaderboardQuery(offset: 0, limit: 100))
        #expect(try LeaderboardQuery.parse(query: "") == LeaderboardQuery(offset: 0, limit: 100))
        #expect(try LeaderboardQuery.parse(query: "&x=1&&token=abc") == LeaderboardQuery(offset: 0, limit: 100))
    }

    @Test func values() throws {
        #expect(try LeaderboardQuery.parse(query: "offset=0&limit=1") == LeaderboardQuery(offset: 0, limit: 1))
        #expect(
            try LeaderboardQuery.parse(query: "limit=1000&offset=20000")
                == LeaderboardQuery(offset: 20_000, limit: 1_000))
        #expect(try LeaderboardQuery.parse(query: "of%66set=%33") == LeaderboardQuery(offset: 3, limit: 100))
    }

    static let refusals: [(String, String)] = [
        ("limit=0", "bad limit '0': expected an integer from 1 to 1000"),
        ("limit=1001", "bad limit '1001': expected an integer from 1 to 1000"),
        ("limit=-1", "bad limit '-1': expected an integer from 1 to 1000"),
        ("limit=", "bad limit '': expected an integer from 1 to 1000"),
        ("limit", "bad limit '': expected an integer from 1 to 1000"),
        ("limit=ten", "bad limit 'ten': expected an integer from 1 to 1000"),
        ("limit=1.0", "bad limit '1.0': expected an integer from 1 to 1000"),
        ("offset=-1", "bad offset '-1': expected an integer >= 0"),
        ("offset=", "bad offset '': expected an integer >= 0"),
        ("offset=x", "bad offset 'x': expected an integer >= 0"),
        ("offset=+1", "bad offset '+1': expected an integer >= 0"),
        ("offset=1234567890123456789", "bad offset '1234567890123456789': expected an integer >= 0"),
        ("offset=1&offset=2", "query parameter 'offset' given more than once"),
        ("limit=1&limit=1", "query parameter 'limit' given more than once"),
        ("limit=%zz", "bad percent-encoding in query parameter 'limit'"),
        ("off%set=1", "bad percent-encoding in query key 'off%set'"),
    ]

    @Test("refusal", arguments: refusals)
    func refuses(_ query: String, _ reason: String) {
        #expect(throws: RequestError(reason: reason)) { try LeaderboardQuery.parse(query: query) }
    }
}
