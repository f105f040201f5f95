import Foundation

/// Why a raw HTTP exchange failed.
struct RawHTTPError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One parsed HTTP/1.1 response.
struct RawResponse {
    var status: Int
    /// Header names lower-cased; the last value wins.
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking HTTP/1.1 client over a plain TCP socket, so a test controls every byte and the pace of reading:
/// a slow reader, a client that leaves mid-answer, pipelined and malformed requests. Every read has a timeout
/// (`SO_RCVTIMEO`), so a hung server fails the test instead of hanging it.
final class RawHTTPClient {
    private let fd: Int32
    /// Bytes read from the socket and not yet parsed.
    private var pending: [UInt8] = []
    /// Bytes received so far, counted as they leave the socket.
    private(set) var receivedBytes = 0

    /// Connects to 127.0.0.1:`port`. `receiveBuffer` sets SO_RCVBUF before connecting (so the window stays small).
    init(port: Int, receiveBuffer: Int32? = nil, timeoutSeconds: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTPError("socket: errno \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            // No close here: `deinit` runs for this failed init (every stored property is set) and closes it once.
            throw RawHTTPError("connect to port \(port): errno \(errno)")
        }
    }

    deinit { close(fd) }

    /// Closes the socket at once (the server sees the client leave).
    func disconnect() { shutdown(fd, Int32(SHUT_RDWR)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes {
                Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { throw RawHTTPError("send: errno \(errno) after \(offset) of \(bytes.count) bytes") }
            offset += n
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Sends a request with a Content-Length body.
    func request(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [String] = []) throws {
        var head = "\(method) \(path) HTTP/1.1\r\nhost: test\r\n"
        for header in headers { head += header + "\r\n" }
        if let body { head += "content-length: \(body.count)\r\n" }
        try send(Array((head + "\r\n").utf8) + (body ?? []))
    }

    /// Reads up to `limit` bytes into `pending`; returns how many (0 at the end of the stream).
    @discardableResult
    private func fill(limit: Int = 64 * 1024) throws -> Int {
        var buffer = [UInt8](repeating: 0, count: limit)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, limit, 0) }
        if n < 0 { throw RawHTTPError(errno == EAGAIN ? "read timed out" : "recv: errno \(errno)") }
        pending.append(contentsOf: buffer.prefix(n))
        receivedBytes += n
        return n
    }

    /// Reads one CRLF-terminated line (without the CRLF).
    func readLine() throws -> String {
        while true {
            if let index = pending.firstIndex(of: 10), index > 0, pending[index - 1] == 13 {
                let line = String(decoding: pending[..<(index - 1)], as: UTF8.self)
                pending.removeFirst(index + 1)
                return line
            }
            guard try fill() > 0 else { throw RawHTTPError("connection closed inside a line") }
        }
    }

    /// Reads exactly `count` bytes; `onRead` sees each piece's size as it arrives (`readSize` at a time at most).
    func readExactly(_ count: Int, readSize: Int = 64 * 1024, onRead: (Int) throws -> Void = { _ in }) throws
        -> [UInt8]
    {
        var out: [UInt8] = []
        out.reserveCapacity(min(count, 1 << 20))
        while out.count < count {
            if pending.isEmpty {
                guard try fill(limit: readSize) > 0 else { throw RawHTTPError("connection closed inside a body") }
                try onRead(pending.count)
            }
            let take = min(count - out.count, pending.count)
            out.append(contentsOf: pending[..<take])
            pending.removeFirst(take)
        }
        return out
    }

    /// Reads a status line and headers; skips interim 1xx answers unless `interim`.
    func readHead(interim: Bool = false) throws -> (status: Int, headers: [String: String]) {
        while true {
            let statusLine = try readLine()
            let parts = statusLine.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
                throw RawHTTPError("bad status line '\(statusLine)'")
            }
            var headers: [String: String] = [:]
            while true {
                let line = try readLine()
                if line.isEmpty { break }
                guard let colon = line.firstIndex(of: ":") else { throw RawHTTPError("bad header line '\(line)'") }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                    .trimmingCharacters(in: .whitespaces)
            }
            if status >= 200 || interim { return (status, headers) }
        }
    }

    /// Reads a whole response. `head: true` for the answer to a HEAD request (no body whatever the headers say).
    /// `onRead` sees each read's size while a chunked body arrives.
    func readResponse(head: Bool = false, readSize: Int = 64 * 1024, onRead: (Int) throws -> Void = { _ in }) throws
        -> RawResponse
    {
        let (status, headers) = try readHead()
        var body: [UInt8] = []
        if head || status == 204 || status == 304 {
        } else if headers["transfer-encoding"] == "chunked" {
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine, radix: 16) else { throw RawHTTPError("bad chunk size '\(sizeLine)'") }
                if size == 0 {
                    guard try readLine().isEmpty else { throw RawHTTPError("trailers after the last chunk") }
                    break
                }
                body += try readExactly(size, readSize: readSize, onRead: onRead)
                guard try readLine().isEmpty else { throw RawHTTPError("no CRLF after a chunk") }
            }
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            body = try readExactly(length, readSize: readSize, onRead: onRead)
        } else {
            while try fill() > 0 {}
            body = pending
            pending = []
        }
        return RawResponse(status: status, headers: headers, body: body)
    }

    /// True when the server closed the connection (reads the end of stream; fails on any further data).
    func readsEndOfStream() throws -> Bool {
        guard pending.isEmpty else { return false }
        return try fill() == 0
    }
}
