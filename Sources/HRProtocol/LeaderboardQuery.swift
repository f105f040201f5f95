/// The query of `GET /v1/classes/{classId}/leaderboard?offset=0&limit=100`, parsed and validated.
///
/// `offset` is an integer ≥ 0 (default 0), `limit` an integer 1...1000 (default 100). Keys and values are
/// percent-decoded as in `ConnectRequest`; a key given twice is refused; unknown keys are ignored. Each broken rule is
/// a `RequestError` for an HTTP 400.
public struct LeaderboardQuery: Sendable, Equatable {
    /// How many ranks to skip.
    public var offset: Int
    /// How many ranks to return at most.
    public var limit: Int

    /// The `limit` when the query has none.
    public static let defaultLimit = 100
    /// The allowed `limit` values.
    public static let limitRange: ClosedRange<Int> = 1...1000

    /// Creates a query from already-validated values.
    public init(offset: Int = 0, limit: Int = LeaderboardQuery.defaultLimit) {
        self.offset = offset
        self.limit = limit
    }

    /// Parses what follows `?` (nil or empty: the defaults).
    public static func parse(query: String?) throws(RequestError) -> LeaderboardQuery {
        var offset: String?
        var limit: String?
        for item in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let equals = item.firstIndex(of: "=")
            let rawKey = equals.map { item[..<$0] } ?? item
            let rawValue = equals.map { item[item.index(after: $0)...] } ?? ""
            guard let key = ConnectRequest.percentDecoded(rawKey) else {
                throw RequestError(reason: "bad percent-encoding in query key '\(RequestError.clipped(rawKey))'")
            }
            guard key == "offset" || key == "limit" else { continue }
            guard (key == "offset" ? offset : limit) == nil else {
                throw RequestError(reason: "query parameter '\(key)' given more than once")
            }
            guard let value = ConnectRequest.percentDecoded(rawValue) else {
                throw RequestError(reason: "bad percent-encoding in query parameter '\(key)'")
            }
            if key == "offset" { offset = value } else { limit = value }
        }
        var result = LeaderboardQuery()
        if let offset {
            guard let value = ConnectRequest.parseDecimal(offset, in: 0...Int.max) else {
                throw RequestError(reason: "bad offset '\(RequestError.clipped(offset))': expected an integer >= 0")
            }
            result.offset = value
        }
        if let limit {
            guard let value = ConnectRequest.parseDecimal(limit, in: limitRange) else {
                throw RequestError(
                    reason: "bad limit '\(RequestError.clipped(limit))': expected an integer from 1 to 1000")
            }
            result.limit = value
        }
        return result
    }
}
