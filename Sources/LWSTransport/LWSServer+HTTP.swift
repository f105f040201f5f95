import CLibWebSockets

/// Plain HTTP: requests of any method with their bodies, and answers given now, later or streamed.
///
/// How lws 4.1 drives an HTTP/1 request, and what each step does here (service thread only):
/// - `LWS_CALLBACK_HTTP` once the head is parsed: an `HTTPExchange` is made and its id put in the connection's
///   opaque pointer. A request without a body goes to the delegate at once; one with a body (Content-Length, or a
///   POST, which lws always reads) waits for it. lws itself expects 100 MB for a POST, PUT or PATCH that gives no
///   Content-Length, so such a request either has no body (HTTP says so; the answer then closes the connection,
///   lws being left waiting for input) or is chunked (411: lws cannot de-chunk a request body).
/// - `LWS_CALLBACK_HTTP_BODY` with each piece, `LWS_CALLBACK_HTTP_BODY_COMPLETION` at its end.
/// - `LWS_CALLBACK_HTTP_WRITEABLE` after `lws_callback_on_writable`: a deferred answer or the next streamed chunk.
///   lws writes on HTTP/1 with `lws_issue_raw`: what the kernel does not take is copied to the connection's
///   output list and flushed before the next WRITEABLE, so at most one chunk waits in lws.
/// - `LWS_CALLBACK_CLOSED_HTTP` when the connection goes, for any reason: the exchange is dropped.
/// After a complete answer, `lws_http_transaction_completed` readies the connection for the next request
/// (keep-alive) or says to close it.
extension LWSServer {
    /// Answers a request that the delegate answered `.deferred`: with a response or a stream (`.deferred` again
    /// does nothing). Service thread only (from a posted job, or from the delegate call itself). Returns false, and
    /// drops the answer, when the request is gone (its client left) or was already answered.
    @discardableResult
    public func respond(_ id: HTTPRequestID, _ reply: HTTPReply) -> Bool {
        guard let exchange = exchanges[id.rawValue], case .deferred = exchange.state else { return false }
        if case .deferred = reply { return true }
        exchange.state = .ready(reply)
        // Input back on (see `answer`'s `.deferred`): while it is off lws also withholds WRITEABLE.
        _ = lws_rx_flow_control(exchange.wsi, 1)
        lws_callback_on_writable(exchange.wsi)
        return true
    }

    /// Answers a deferred request with `response`; see `respond(_:_:)`.
    @discardableResult
    public func respond(_ id: HTTPRequestID, _ response: HTTPResponse) -> Bool {
        respond(id, .response(response))
    }

    /// Calls a paused stream's producer again when the socket can take a chunk. Service thread only.
    public func resumeStream(_ id: HTTPRequestID) {
        guard let exchange = exchanges[id.rawValue], case .streaming(let producer, paused: true) = exchange.state
        else { return }
        exchange.state = .streaming(producer, paused: false)
        lws_callback_on_writable(exchange.wsi)
    }

    /// Number of HTTP requests in progress (read, with the delegate, or being answered).
    public var httpRequestCount: Int { exchanges.count }

    // MARK: - Callbacks

    /// `LWS_CALLBACK_HTTP`: the head of a request is in.
    func httpRequest(_ wsi: OpaquePointer) -> Int32 {
        var head = readHead(wsi, includeSubprotocols: false)
        (head.method, head.path) = requestLine(wsi)
        let id = nextID
        nextID += 1
        // HTTP/1.1 streams in chunks; HTTP/2 (a stream inside another connection) frames the body itself, and an
        // HTTP/1.0 client knows no chunks: the end of the connection ends the body.
        let http2 = lws_get_network_wsi(wsi) != wsi
        let chunked = !http2 && header(wsi, WSI_TOKEN_HTTP) != "HTTP/1.0"
        let exchange = HTTPExchange(
            id: id, wsi: wsi, head: head, discardBudget: 4 * options.maxRequestBodyBytes, chunkedFraming: chunked)
        exchanges[id] = exchange
        // The integer id, not an object: nothing to retain or release (see `HTTPExchange`).
        lws_set_opaque_user_data(wsi, UnsafeMutableRawPointer(bitPattern: UInt(id)))

        let limit = options.maxRequestBodyBytes
        if let declared = header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) {
            guard let length = Int(declared), length >= 0 else {
                // lws read it with atoll, so it may expect any number of body bytes: answer and close.
                exchange.state = .discarding
                exchange.closeAfterResponse = true
                _ = writeResponse(exchange, .text(400, "bad Content-Length: '\(declared)'"))
                return -1
            }
            if length > limit {
                return refuse(exchange, .text(413, "request body too large: \(length) bytes, the limit is \(limit)"))
            }
            if length > 0 || head.method == .post {
                // lws reads the body now; a POST with length 0 gets an empty BODY and a BODY_COMPLETION at once.
                exchange.body.reserveCapacity(length)
                if length > 0, !http2, header(wsi, WSI_TOKEN_HTTP_EXPECT)?.lowercased() == "100-continue" {
                    guard writeRaw(wsi, "HTTP/1.1 100 Continue\r\n\r\n") else { return -1 }
                }
                return 0
            }
        } else if [.post, .put, .patch].contains(head.method) {
            if header(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) != nil {
                return refuse(
                    exchange,
                    .text(411, "a request body needs a Content-Length (chunked request bodies are not supported)"))
            }
            exchange.closeAfterResponse = true
        }
        return dispatch(exchange)
    }

    /// `LWS_CALLBACK_HTTP_BODY`: a piece of the body. lws hands over at most the Content-Length, which was checked
    /// against the limit; the check here only guards that promise.
    func httpBody(_ wsi: OpaquePointer, input: UnsafeMutableRawPointer?, length: Int) -> Int32 {
        guard let exchange = exchange(of: wsi) else { return 0 }
        if case .receivingBody = exchange.state {
            guard exchange.body.count + length <= options.maxRequestBodyBytes else { return -1 }
            if let input, length > 0 {
                // `input` is lws's read buffer, valid for this callback only: copied, never kept.
                exchange.body.append(contentsOf: UnsafeRawBufferPointer(start: input, count: length))
            }
            return 0
        }
        exchange.discardBudget -= length
        return exchange.discardBudget < 0 ? -1 : 0
    }

    /// `LWS_CALLBACK_HTTP_BODY_COMPLETION`: the whole body is in.
    func httpBodyComplete(_ wsi: OpaquePointer) -> Int32 {
        guard let exchange = exchange(of: wsi) else { return 0 }
        switch exchange.state {
        case .receivingBody:
            return dispatch(exchange)
        case .discarding:
            return -1  // the refusal is written (lws flushes it first) and nothing is left unread: close cleanly
        default:
            return 0
        }
    }

    /// `LWS_CALLBACK_HTTP_WRITEABLE`: a deferred answer, or a stream's next chunk. Also comes unasked (lws asks for
    /// it after flushing its output list), so having nothing to do is normal.
    func httpWritable(_ wsi: OpaquePointer) -> Int32 {
        guard let exchange = exchange(of: wsi) else { return 0 }
        switch exchange.state {
        case .ready(let reply):
            exchange.state = .deferred
            return answer(exchange, reply)
        case .streaming(let producer, paused: false):
            return writeChunk(exchange, producer)
        case .discarding where !exchange.writeSideShut && lws_get_network_wsi(wsi) == wsi:
            // The refusal has left lws (WRITEABLE comes only once its output list is empty): end the write side,
            // so a client still waiting for the end of the answer sees it, closes, and lws then closes too.
            exchange.writeSideShut = true
            let fd = lws_get_socket_fd(wsi)
            if fd >= 0 { shutdown(fd, Int32(SHUT_WR)) }
            return 0
        default:
            return 0
        }
    }

    /// `LWS_CALLBACK_CLOSED_HTTP`: the connection is gone; so is its request, answered or not.
    func httpClosed(_ wsi: OpaquePointer) {
        guard let exchange = exchange(of: wsi) else { return }
        exchanges.removeValue(forKey: exchange.id)
        lws_set_opaque_user_data(wsi, nil)
        if exchange.delegateWaits { delegate?.serverHTTPRequestCancelled(HTTPRequestID(exchange.id)) }
    }

    // MARK: - Answering

    /// Hands the whole request to the delegate and carries out its answer. Returns what the callback returns.
    private func dispatch(_ exchange: HTTPExchange) -> Int32 {
        let request = HTTPRequest(id: HTTPRequestID(exchange.id), head: exchange.head, body: exchange.body)
        exchange.body = []
        exchange.state = .deferred
        guard let delegate else { return answer(exchange, .response(.text(503, "no handler"))) }
        let reply = delegate.serverHandleHTTP(request)
        if case .ready = exchange.state, case .deferred = reply { return 0 }  // `respond` came during the call
        return answer(exchange, reply)
    }

    /// Writes `reply` (or, for `.deferred`, waits for `respond`). Called only from a callback for the exchange's
    /// own connection, so the returned value reaches lws (-1 closes the connection).
    private func answer(_ exchange: HTTPExchange, _ reply: HTTPReply) -> Int32 {
        switch reply {
        case .response(let response):
            return writeResponse(exchange, response) ? finish(exchange) : -1
        case .deferred:
            // lws set a short timeout for the request's content; a deferred answer gets as long as an idle client.
            // When it expires lws closes the connection, and the delegate hears the request was cancelled.
            lws_set_timeout(exchange.wsi, PENDING_TIMEOUT_USER_OK, Int32(max(1, options.idleTimeoutSeconds)))
            if case .deferred = exchange.state {
                // Input off until the answer: in the state lws leaves a request in after its head (or body), it
                // does not read, so input that comes meanwhile (a pipelined request, or the end of the stream when
                // the client leaves) would wake the loop again and again, spinning until the answer. A client that
                // left is then noticed when the answer is written, and the answer is dropped.
                _ = lws_rx_flow_control(exchange.wsi, 0)
            }
            return 0
        case .stream(let status, let contentType, let headers, let producer):
            // Without chunks (HTTP/1.0) only the end of the connection ends the body.
            if !exchange.chunkedFraming && lws_get_network_wsi(exchange.wsi) == exchange.wsi {
                exchange.closeAfterResponse = true
            }
            guard writeStreamHead(exchange, status: status, contentType: contentType, headers: headers) else {
                return -1
            }
            if exchange.head.method == .head { return finish(exchange) }
            exchange.state = .streaming(producer, paused: false)
            // The kernel reports writable only while less than a chunk waits unsent in it: with lws's own output
            // list that bounds what the hub holds for a slow reader to about two chunks. (It stays set for later
            // requests on the connection; it only delays a write until the previous chunk has left.)
            let fd = lws_get_socket_fd(lws_get_network_wsi(exchange.wsi))
            if fd >= 0 { _ = clws_set_notsent_lowat(fd, Int32(clamping: options.streamChunkBytes)) }
            lws_set_timeout(exchange.wsi, PENDING_TIMEOUT_USER_OK, Int32(max(1, options.idleTimeoutSeconds)))
            lws_callback_on_writable(exchange.wsi)
            return 0
        }
    }

    /// The answer is complete: the exchange ends, and the connection either closes or waits for the next request.
    private func finish(_ exchange: HTTPExchange) -> Int32 {
        exchanges.removeValue(forKey: exchange.id)
        lws_set_opaque_user_data(exchange.wsi, nil)
        if exchange.closeAfterResponse { return -1 }  // lws flushes what it holds, then closes
        return lws_http_transaction_completed(exchange.wsi) != 0 ? -1 : 0
    }

    /// Answers before the body is read, then drops the body (see `HTTPExchange.State.discarding`).
    private func refuse(_ exchange: HTTPExchange, _ response: HTTPResponse) -> Int32 {
        exchange.state = .discarding
        exchange.closeAfterResponse = true
        guard writeResponse(exchange, response) else { return -1 }
        lws_callback_on_writable(exchange.wsi)
        return 0
    }

    /// Writes a whole response: head, then body (none for HEAD, whose Content-Length still says the body's size).
    private func writeResponse(_ exchange: HTTPExchange, _ response: HTTPResponse) -> Bool {
        let wsi = exchange.wsi
        let withBody = exchange.head.method != .head && !response.body.isEmpty
        var buffer = [UInt8](
            repeating: 0, count: pre + headRoom(response.contentType, response.headers) + response.body.count)
        return buffer.withUnsafeMutableBufferPointer { raw -> Bool in
            let start = raw.baseAddress! + pre
            let end = raw.baseAddress! + raw.count
            var cursor: UnsafeMutablePointer<UInt8>? = start
            guard
                lws_add_http_common_headers(
                    wsi, response.status, response.contentType, lws_filepos_t(response.body.count), &cursor, end)
                    == 0,
                addHeaders(exchange, response.headers, &cursor, end),
                lws_finalize_write_http_header(wsi, start, &cursor, end) == 0
            else { return false }
            guard withBody else { return true }
            // The body reuses the buffer: the head is written, and LWS_PRE headroom is kept before `start`.
            response.body.withUnsafeBufferPointer { start.update(from: $0.baseAddress!, count: $0.count) }
            return lws_write(wsi, start, response.body.count, LWS_WRITE_HTTP_FINAL) >= 0
        }
    }

    /// Writes a streamed answer's head: no Content-Length; `transfer-encoding: chunked` on HTTP/1.1.
    private func writeStreamHead(
        _ exchange: HTTPExchange, status: UInt32, contentType: String, headers: [HTTPHeader]
    ) -> Bool {
        var all = headers
        if exchange.chunkedFraming { all.append(HTTPHeader("transfer-encoding", "chunked")) }
        var buffer = [UInt8](repeating: 0, count: pre + headRoom(contentType, all))
        return buffer.withUnsafeMutableBufferPointer { raw -> Bool in
            let start = raw.baseAddress! + pre
            let end = raw.baseAddress! + raw.count
            var cursor: UnsafeMutablePointer<UInt8>? = start
            let type = Array(contentType.utf8)
            return lws_add_http_header_status(exchange.wsi, status, &cursor, end) == 0
                && lws_add_http_header_by_token(
                    exchange.wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, type, Int32(type.count), &cursor, end) == 0
                && addHeaders(exchange, all, &cursor, end)
                && lws_finalize_write_http_header(exchange.wsi, start, &cursor, end) == 0
        }
    }

    /// Bytes enough for a head with these headers (status line, type, length, connection and `headers`).
    private func headRoom(_ contentType: String, _ headers: [HTTPHeader]) -> Int {
        512 + contentType.utf8.count + headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
    }

    /// Appends `headers`, and `connection: close` when the connection ends with this answer.
    private func addHeaders(
        _ exchange: HTTPExchange, _ headers: [HTTPHeader], _ cursor: inout UnsafeMutablePointer<UInt8>?,
        _ end: UnsafeMutablePointer<UInt8>
    ) -> Bool {
        var all = headers
        if exchange.closeAfterResponse && lws_get_network_wsi(exchange.wsi) == exchange.wsi {
            all.append(HTTPHeader("connection", "close"))
        }
        for header in all {
            let name = Array((header.name + ":").utf8) + [0]
            let value = Array(header.value.utf8)
            guard lws_add_http_header_by_name(exchange.wsi, name, value, Int32(value.count), &cursor, end) == 0 else {
                return false
            }
        }
        return true
    }

    /// Largest chunk-size line: 8 hex digits and CRLF.
    private static var chunkSizeRoom: Int { 10 }

    /// Asks the producer for the next chunk and writes it, framed. Returns what the WRITEABLE callback returns.
    private func writeChunk(_ exchange: HTTPExchange, _ producer: any HTTPBodyProducer) -> Int32 {
        let dataStart = pre + Self.chunkSizeRoom
        streamBuffer.removeAll(keepingCapacity: true)
        streamBuffer.append(contentsOf: repeatElement(0, count: dataStart))
        let progress = producer.produceChunk(into: &streamBuffer, limit: options.streamChunkBytes)
        let size = streamBuffer.count - dataStart
        var first = dataStart
        var mode = LWS_WRITE_HTTP
        if exchange.chunkedFraming {
            if size > 0 {
                // "<hex size>\r\n" goes right before the data, into the room kept for it; LWS_PRE stays before it.
                let line = Array((String(size, radix: 16, uppercase: true) + "\r\n").utf8)
                first = dataStart - line.count
                streamBuffer.replaceSubrange(first..<dataStart, with: line)
                streamBuffer.append(contentsOf: [13, 10])
            }
            if case .done = progress { streamBuffer.append(contentsOf: Array("0\r\n\r\n".utf8)) }
        } else if case .done = progress {
            mode = LWS_WRITE_HTTP_FINAL  // ends the HTTP/2 stream, even with no data
        }
        let length = streamBuffer.count - first
        if length > 0 || mode == LWS_WRITE_HTTP_FINAL {
            let written = streamBuffer.withUnsafeMutableBufferPointer { raw in
                lws_write(exchange.wsi, raw.baseAddress! + first, length, mode)
            }
            if written < 0 { return -1 }
            lws_set_timeout(exchange.wsi, PENDING_TIMEOUT_USER_OK, Int32(max(1, options.idleTimeoutSeconds)))
        }
        switch progress {
        case .more:
            lws_callback_on_writable(exchange.wsi)
            return 0
        case .pause:
            exchange.state = .streaming(producer, paused: true)
            return 0
        case .done:
            exchange.state = .deferred  // the producer is released with the exchange
            return finish(exchange)
        case .failed:
            exchange.state = .deferred
            return -1  // lws closes the connection: the body never gets its end
        }
    }

    /// Writes bytes as they are (an interim `100 Continue`). HTTP/1 only.
    private func writeRaw(_ wsi: OpaquePointer, _ text: String) -> Bool {
        var buffer = [UInt8](repeating: 0, count: pre)
        buffer.append(contentsOf: text.utf8)
        let length = buffer.count - pre
        return buffer.withUnsafeMutableBufferPointer { raw in
            lws_write(wsi, raw.baseAddress! + pre, length, LWS_WRITE_HTTP) == length
        }
    }

    // MARK: - Reading the request

    /// The exchange whose id is in the connection's opaque pointer, if it is still in progress.
    private func exchange(of wsi: OpaquePointer) -> HTTPExchange? {
        guard let raw = lws_get_opaque_user_data(wsi) else { return nil }
        return exchanges[UInt64(UInt(bitPattern: raw))]
    }

    /// The method and path: lws stores the path under a header token named for the method (HTTP/1), or in
    /// `:method` and `:path` (HTTP/2).
    private func requestLine(_ wsi: OpaquePointer) -> (HTTPMethod, String) {
        let tokens: [(lws_token_indexes, HTTPMethod)] = [
            (WSI_TOKEN_GET_URI, .get), (WSI_TOKEN_POST_URI, .post), (WSI_TOKEN_HEAD_URI, .head),
            (WSI_TOKEN_PUT_URI, .put), (WSI_TOKEN_PATCH_URI, .patch), (WSI_TOKEN_DELETE_URI, .delete),
            (WSI_TOKEN_OPTIONS_URI, .options), (WSI_TOKEN_CONNECT, .other("CONNECT")),
        ]
        for (token, method) in tokens where lws_hdr_total_length(wsi, token) > 0 {
            return (method, header(wsi, token) ?? "")
        }
        let path = header(wsi, WSI_TOKEN_HTTP_COLON_PATH) ?? ""
        return (HTTPMethod(header(wsi, WSI_TOKEN_HTTP_COLON_METHOD) ?? "GET"), path)
    }
}
