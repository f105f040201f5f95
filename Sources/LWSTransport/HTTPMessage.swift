/// An HTTP request method. lws 4.1 parses exactly these; any other method fails its header parser and the
/// connection is dropped before the delegate sees it, so `.other` is there for HTTP/2's `:method` only.
public enum HTTPMethod: Hashable, Sendable, CustomStringConvertible {
    case get, head, post, put, patch, delete, options
    case other(String)

    /// The method as written on the wire (`GET`, `POST`, …).
    public var description: String {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .patch: "PATCH"
        case .delete: "DELETE"
        case .options: "OPTIONS"
        case .other(let name): name
        }
    }

    /// The method named `name` (case-sensitive, as HTTP says).
    public init(_ name: String) {
        switch name {
        case "GET": self = .get
        case "HEAD": self = .head
        case "POST": self = .post
        case "PUT": self = .put
        case "PATCH": self = .patch
        case "DELETE": self = .delete
        case "OPTIONS": self = .options
        default: self = .other(name)
        }
    }
}

/// What a client asked for when it opened an HTTP request or a WebSocket upgrade.
public struct HTTPRequestHead: Sendable {
    /// The request method (`.get` for a WebSocket upgrade).
    public var method: HTTPMethod = .get
    /// The path, without the query (lws has already percent-decoded it).
    public var path: String
    /// The query string as `k=v&k=v` (each value already percent-decoded by lws), or nil when absent.
    public var query: String?
    /// WebSocket subprotocols the client offered, in its order (empty for plain HTTP or when none offered).
    public var subprotocols: [String]
    /// The `Authorization` header, if any.
    public var authorization: String?
    /// The `Origin` header, if any.
    public var origin: String?
    /// The peer's address as text.
    public var peer: String
    /// The `Content-Type` header, if any.
    public var contentType: String?

    /// A head with the given parts (tests build heads this way; the server reads them from lws).
    public init(
        method: HTTPMethod = .get, path: String, query: String? = nil, subprotocols: [String] = [],
        authorization: String? = nil, origin: String? = nil, peer: String = "", contentType: String? = nil
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.subprotocols = subprotocols
        self.authorization = authorization
        self.origin = origin
        self.peer = peer
        self.contentType = contentType
    }
}

/// Identifies one HTTP request for the life of a server context: the handle a deferred or streamed answer
/// is given with. Ids come from the same counter as `ConnectionID`s and are never reused within a context.
public struct HTTPRequestID: Hashable, Sendable, CustomStringConvertible {
    /// The raw value; never 0.
    public let rawValue: UInt64

    /// Wraps a raw id.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    public var description: String { "http#\(rawValue)" }
}

/// A whole HTTP request: its head and its complete body (empty for a request without one).
public struct HTTPRequest: Sendable {
    /// The handle for `LWSServer.respond(_:_:)` when the answer is `.deferred`.
    public var id: HTTPRequestID
    public var head: HTTPRequestHead
    /// The body, at most `LWSServer.Options.maxRequestBodyBytes` long (a longer one is answered 413 by the
    /// transport and never reaches the delegate).
    public var body: [UInt8]

    public init(id: HTTPRequestID, head: HTTPRequestHead, body: [UInt8] = []) {
        self.id = id
        self.head = head
        self.body = body
    }
}

/// One response header line: `name: value`. Names are sent as given (HTTP/1.1 names are case-insensitive;
/// HTTP/2 needs them lower case, so prefer lower case).
public struct HTTPHeader: Hashable, Sendable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A complete, small HTTP response, written in one go (lws keeps a copy of what the socket does not take at once;
/// a large body should be a stream instead).
public struct HTTPResponse: Sendable {
    public var status: UInt32
    public var contentType: String
    /// Extra headers (`allow`, `cache-control`, …). `content-type`, `content-length` and `connection` are
    /// written by the transport and must not be given here.
    public var headers: [HTTPHeader]
    public var body: [UInt8]

    public init(
        status: UInt32, contentType: String = "text/plain; charset=utf-8", headers: [HTTPHeader] = [], body: [UInt8]
    ) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    /// A plain-text response; a newline is added.
    public static func text(_ status: UInt32, _ text: String, headers: [HTTPHeader] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: Array((text + "\n").utf8))
    }
}

/// What a streamed body's producer says after each call.
public enum HTTPBodyProgress: Sendable {
    /// More follows: the producer is called again when the socket can take it.
    case more
    /// Nothing to add now; more follows after `LWSServer.resumeStream(_:)`.
    case pause
    /// The body is complete (what was appended in this call is its last part).
    case done
    /// The body cannot be completed (a read failed after the status line went out): what was appended in this
    /// call is written, then the connection is closed without the body's end (no terminating chunk), so the
    /// client sees a truncated transfer, never a shorter body that looks complete.
    case failed
}

/// Produces a streamed response body one chunk at a time, on the service thread, only when the socket can take
/// the chunk: the transport holds one chunk at a time, so a body of any size streams in bounded memory.
///
/// The transport keeps the producer until `.done`, or until the client goes away (then it is released without
/// another call; the delegate hears `serverHTTPRequestCancelled`).
public protocol HTTPBodyProducer: AnyObject {
    /// Appends the next part of the body to `chunk` (about `limit` bytes; more is allowed but is held whole)
    /// and says what follows. Appending nothing with `.more` is the same as `.pause` followed by a resume.
    func produceChunk(into chunk: inout [UInt8], limit: Int) -> HTTPBodyProgress
}

/// The delegate's answer to an HTTP request.
public enum HTTPReply {
    /// Answer now.
    case response(HTTPResponse)
    /// Answer later, on the service thread, with `LWSServer.respond(_:_:)` (a response or a stream). If the
    /// client goes away first, the answer is dropped and the delegate hears `serverHTTPRequestCancelled`.
    case deferred
    /// Answer with a body of unknown length, sent chunked (`transfer-encoding: chunked` on HTTP/1.1, DATA frames on
    /// HTTP/2) as `producer` makes it. A HEAD request gets the head only; its producer is never called.
    case stream(status: UInt32, contentType: String, headers: [HTTPHeader] = [], producer: any HTTPBodyProducer)
}
