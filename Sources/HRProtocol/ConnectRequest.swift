/// A WebSocket upgrade request, parsed and validated:
/// `GET /v1/classes/{classId}/ws?role=publisher|viewer|participant&participant={id}&mode=all|latest&board={n}`
/// `&token={t}`.
///
/// Rules (PROTOCOL.md, "Connecting"), each broken one a `RequestError` for an HTTP 400:
/// - The path is exactly `/v1/classes/{classId}/ws` (no trailing slash); the class id is an `Identifier`.
/// - `role` is required. `participant` is required for publishers and participants and forbidden for viewers.
/// - `mode` is `all` (the default) or `latest`, and only for viewers and participants: a publisher that sends it
///   is refused, since it would be a sign the client misunderstood its role.
/// - `board` is a decimal integer 0...100 (default 10; 0 means no `board` messages), for viewers and participants
///   only, like `mode`.
/// - Query keys and values are percent-decoded (RFC 3986; `+` stays a literal `+`). A key given twice is refused.
///   Unknown keys are ignored. An empty `token=` is the same as no token.
public struct ConnectRequest: Sendable, Equatable {
    /// The class to join.
    public var classID: String
    /// Who is connecting.
    public var role: Role
    /// The participant id: set for publishers and participants, nil for viewers.
    public var participant: String?
    /// Delivery mode: from the query for viewers and participants (default `.all`); `.all` for publishers, which
    /// receive no samples.
    public var mode: DeliveryMode
    /// The `token` query parameter, if any (a token may also arrive in an `Authorization: Bearer` header).
    public var token: String?
    /// How many leaderboard ranks `board` messages carry (`board`, 0...100; 0: no `board` messages). Publishers get
    /// none, whatever this says.
    public var board: Int

    /// The `board` value when the query has none.
    public static let defaultBoard = 10
    /// The allowed `board` values.
    public static let boardRange: ClosedRange<Int> = 0...100

    /// Creates a request from already-validated parts.
    public init(
        classID: String, role: Role, participant: String?, mode: DeliveryMode = .all, token: String? = nil,
        board: Int = ConnectRequest.defaultBoard
    ) {
        self.classID = classID
        self.role = role
        self.participant = participant
        self.mode = mode
        self.token = token
        self.board = board
    }

    /// Parses the request target. `path` is the path without the query; `query` is what follows `?` (nil when
    /// there is none). For convenience, a `path` that still holds `?query` is split when `query` is nil.
    public static func parse(path: String, query: String?) throws(RequestError) -> ConnectRequest {
        var path = Substring(path)
        var query = query.map { Substring($0) }
        if query == nil, let mark = path.firstIndex(of: "?") {
            query = path[path.index(after: mark)...]
            path = path[..<mark]
        }

        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "v1", parts[2] == "classes", parts[4] == "ws" else {
            throw RequestError(reason: "unknown path: expected /v1/classes/{classId}/ws")
        }
        let classID = parts[3]
        guard Identifier.isValid(classID) else {
            throw RequestError(reason: "bad class id: expected \(Identifier.rule)")
        }

        var fields = Fields()
        for item in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let equals = item.firstIndex(of: "=")
            let rawKey = equals.map { item[..<$0] } ?? item
            let rawValue = equals.map { item[item.index(after: $0)...] } ?? ""
            guard let key = percentDecoded(rawKey) else {
                throw RequestError(reason: "bad percent-encoding in query key '\(RequestError.clipped(rawKey))'")
            }
            let slot: WritableKeyPath<Fields, String?>
            switch key {
            case "role": slot = \.role
            case "participant": slot = \.participant
            case "mode": slot = \.mode
            case "token": slot = \.token
            case "board": slot = \.board
            default: continue
            }
            guard fields[keyPath: slot] == nil else {
                throw RequestError(reason: "query parameter '\(key)' given more than once")
            }
            guard let value = percentDecoded(rawValue) else {
                throw RequestError(reason: "bad percent-encoding in query parameter '\(key)'")
            }
            fields[keyPath: slot] = value
        }

        guard let roleValue = fields.role else {
            throw RequestError(reason: "role is required: expected publisher, viewer or participant")
        }
        guard let role = Role(rawValue: roleValue) else {
            throw RequestError(
                reason: "unknown role '\(RequestError.clipped(roleValue))': expected publisher, viewer or participant")
        }
        let participant = fields.participant
        if role.publishes {
            guard let id = participant else {
                throw RequestError(reason: "participant is required for role \(role.rawValue)")
            }
            guard Identifier.isValid(id) else {
                throw RequestError(reason: "bad participant id: expected \(Identifier.rule)")
            }
        } else if participant != nil {
            throw RequestError(reason: "participant is not allowed for role \(role.rawValue)")
        }
        var mode = DeliveryMode.all
        if let modeValue = fields.mode {
            guard role.views else {
                throw RequestError(reason: "mode is not allowed for role \(role.rawValue)")
            }
            guard let value = DeliveryMode(rawValue: modeValue) else {
                throw RequestError(reason: "unknown mode '\(RequestError.clipped(modeValue))': expected all or latest")
            }
            mode = value
        }
        var board = defaultBoard
        if let boardValue = fields.board {
            guard role.views else {
                throw RequestError(reason: "board is not allowed for role \(role.rawValue)")
            }
            guard let value = parseDecimal(boardValue, in: boardRange) else {
                throw RequestError(
                    reason: "bad board '\(RequestError.clipped(boardValue))': expected an integer from 0 to 100")
            }
            board = value
        }
        let token = fields.token?.isEmpty == false ? fields.token : nil
        return ConnectRequest(
            classID: String(classID), role: role, participant: participant, mode: mode, token: token, board: board)
    }

    /// The subprotocol to answer with, from those the client offered (`Sec-WebSocket-Protocol`, split on commas):
    /// `.json` when none is offered, else the first one the hub knows in the client's order, nil (refuse with
    /// HTTP 400) when all are unknown. Entries are trimmed of spaces and tabs; empty entries are ignored.
    public static func selectSubprotocol(offered: [String]) -> WireFormat? {
        var offeredAny = false
        for entry in offered {
            let name = entry.trimmingSpaces()
            guard !name.isEmpty else { continue }
            offeredAny = true
            if let format = WireFormat(rawValue: String(name)) {
                return format
            }
        }
        return offeredAny ? nil : .json
    }

    /// The query slots, so duplicate detection is written once.
    private struct Fields {
        var role: String?
        var participant: String?
        var mode: String?
        var token: String?
        var board: String?
    }

    /// A plain decimal integer (ASCII digits only: no sign, no spaces, at most 18 digits) within `range`; nil
    /// otherwise.
    static func parseDecimal(_ text: String, in range: ClosedRange<Int>) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 18 else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return range.contains(value) ? value : nil
    }

    /// RFC 3986 percent-decoding into UTF-8; nil for a malformed escape or bytes that are not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Why an upgrade request was refused: one line for the HTTP 400 response.
public struct RequestError: Error, Sendable, Equatable {
    /// A one-line reason a person understands, e.g. "participant is required for role publisher". Client text
    /// quoted in it is cut to 32 characters and anything outside printable ASCII is replaced by `?`, so it is
    /// safe to put in an HTTP status line or body.
    public var reason: String

    /// Creates an error with `reason`.
    public init(reason: String) {
        self.reason = reason
    }

    /// Client text made safe to quote: printable ASCII only, at most 32 characters.
    static func clipped<S: StringProtocol>(_ text: S) -> String {
        var result = ""
        for scalar in text.unicodeScalars.prefix(33) {
            if result.unicodeScalars.count == 32 {
                result += "..."
                break
            }
            result.unicodeScalars.append((0x20...0x7E).contains(scalar.value) && scalar != "'" ? scalar : "?")
        }
        return result
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    fileprivate func trimmingSpaces() -> SubSequence {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
