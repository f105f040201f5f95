import Foundation
import Testing

/// The end-to-end suites: the real `hrhub` binary, started per test on an ephemeral port, and our libwebsockets
/// client (`TestClient`). Frames are read and written with the tests' own codecs (`JSONValue`, `WireMessage`,
/// `WireSample`), written from PROTOCOL.md, never with the hub's HRProtocol codecs: a bug in the hub's encoder
/// cannot hide behind the same bug in its decoder. Everything runs serialized: tests block a thread while they
/// wait, and on a 2-core machine one hub at a time keeps the deadlines generous.
@Suite(.serialized)
enum EndToEnd {
    /// `/v1/classes/{classID}/ws?role=…[&participant=…][&mode=…]`.
    static func path(_ classID: String, _ role: String, participant: String? = nil, mode: String? = nil) -> String {
        var query = "role=\(role)"
        if let participant { query += "&participant=\(participant)" }
        if let mode { query += "&mode=\(mode)" }
        return "/v1/classes/\(classID)/ws?\(query)"
    }

    /// Unix milliseconds now.
    static func nowMs() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    /// A client `hello` as JSON text.
    static func hello(name: String? = nil, hrmax: Int? = nil, hrrest: Int? = nil) -> String {
        var fields = [#""t":"hello""#]
        if let name { fields.append(#""name":\#(jsonString(name))"#) }
        if let hrmax { fields.append(#""hrmax":\#(hrmax)"#) }
        if let hrrest { fields.append(#""hrrest":\#(hrrest)"#) }
        return "{\(fields.joined(separator: ","))}"
    }

    /// `text` as a JSON string literal (Foundation's encoder).
    static func jsonString(_ text: String) -> String {
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
    }

    /// Reads a connection's first two messages and checks they are `welcome` then (for viewing roles) `snapshot`;
    /// returns the welcome and the snapshot's `participants`.
    @discardableResult
    static func expectWelcome(_ conn: Conn) throws -> (welcome: WireMessage, snapshot: [JSONValue]?) {
        let welcome = try conn.nextMessage()
        guard welcome.t == "welcome", let role = welcome["role"]?.string else {
            throw TestClientError.unexpected("first message is not a welcome: \(welcome)")
        }
        guard role != "publisher" else { return (welcome, nil) }
        let message = try conn.nextMessage()
        guard message.t == "snapshot", let participants = message["participants"]?.array else {
            throw TestClientError.unexpected("second message of a \(role) is not a snapshot: \(message)")
        }
        return (welcome, participants)
    }

    /// Reads until the relayed sample `seq` of `p` arrives; returns it and the messages skipped.
    static func waitForSample(
        _ conn: Conn, p: String, seq: UInt32, timeout: Duration = TestClient.defaultTimeout
    ) throws -> (value: WireMessage, skipped: [WireMessage]) {
        try conn.waitFor("hr \(p) seq \(seq)", timeout: timeout) { message in
            message.isSample(p: p, seq: Int64(seq)) ? message : nil
        }
    }

    /// Reads until a message of type `t` about `p` arrives; returns it and the messages skipped.
    static func waitFor(
        _ t: String, p: String, on conn: Conn, timeout: Duration = TestClient.defaultTimeout
    ) throws -> (value: WireMessage, skipped: [WireMessage]) {
        try conn.waitFor("\(t) \(p)", timeout: timeout) { message in message.is(t, p: p) ? message : nil }
    }

    /// Waits until the hub counts `count` open connections in the class (`GET /v1/classes`, a hub without a
    /// secret): what no barrier shows, that the hub has finished closing a socket. Polls; the deadline bounds it.
    static func waitForConnections(
        _ hub: HubProcess, classID: String, count: Int64, timeout: Duration = .seconds(30)
    ) throws {
        let deadline = ContinuousClock.now + timeout
        var seen: Int64 = -1
        while ContinuousClock.now < deadline {
            let body = try httpGet(port: hub.port, path: "/v1/classes")
            let classes = try JSONValue.parse(Array(body.utf8)).array ?? []
            seen = classes.first { $0["id"]?.string == classID }?["connections"]?.int ?? 0
            if seen == count { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw TestClientError.timeout("\(count) connections in \(classID) (saw \(seen))")
    }

    /// The body of `GET path` on the hub's port (over a plain socket, so no HTTP library is needed);
    /// throws unless the status is 200.
    static func httpGet(port: Int, path: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClientError.unexpected("socket() failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { throw TestClientError.unexpected("cannot connect to port \(port)") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else {
            throw TestClientError.unexpected("cannot send the request")
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { break }
            response += chunk[..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 200") || text.hasPrefix("HTTP/1.0 200"),
            let body = text.range(of: "\r\n\r\n")
        else {
            throw TestClientError.unexpected("GET \(path): \(text.prefix(200))")
        }
        return String(text[body.upperBound...])
    }
}
