import Foundation
import LWSTransport
import Testing

/// The transport's HTTP side against a test delegate, over raw sockets. Each test runs its own server.
@Suite(.serialized) struct HTTPTransportTests {
    /// Random-looking bytes of a given size (a body that is not all one byte catches offset bugs).
    static func body(_ count: Int) -> [UInt8] {
        var state: UInt32 = 2026
        return (0..<count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
    }

    // MARK: - Bodies

    @Test(arguments: [5, 1 << 20])
    func postBodyIsDeliveredWhole(size: Int) throws {
        let hub = try TestHTTPServer()
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        let sent = Self.body(size)
        try client.request("POST", "/echo", body: sent)
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.headers["x-method"] == "POST")
        #expect(response.headers["x-body-bytes"] == String(size))
        #expect(response.body == sent)
    }

    @Test func bodyExactlyAtTheLimitIsAcceptedAndOneMoreByteIsRefused() throws {
        let limit = 256 * 1024
        let hub = try TestHTTPServer(maxRequestBodyBytes: limit)
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        let atLimit = Self.body(limit)
        try client.request("PUT", "/echo", body: atLimit)
        let accepted = try client.readResponse()
        #expect(accepted.status == 200 && accepted.body == atLimit && accepted.headers["x-method"] == "PUT")

        // Same connection (keep-alive): the whole over-limit body is sent before the answer is read, as most
        // clients do. The 413 must arrive intact (no reset), and then the connection ends.
        try client.request("POST", "/echo", body: Self.body(limit + 1))
        let refused = try client.readResponse()
        #expect(refused.status == 413)
        #expect(refused.text == "request body too large: \(limit + 1) bytes, the limit is \(limit)\n")
        #expect(refused.headers["connection"] == "close")
        #expect(try client.readsEndOfStream())
        let state = hub.observations.current
        #expect(state.deferred.isEmpty && state.streams.isEmpty)
        try hub.waitIdle()
    }

    @Test func overLimitBodyIsAnsweredBeforeItIsSent() throws {
        // With `Expect: 100-continue` the client waits: a body over the limit is refused at once, unsent.
        let hub = try TestHTTPServer(maxRequestBodyBytes: 1000)
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        try client.send("POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 1001\r\nexpect: 100-continue\r\n\r\n")
        let refused = try client.readResponse()
        #expect(refused.status == 413)
        #expect(refused.text.hasPrefix("request body too large: 1001 bytes"))
    }

    @Test func expectContinueGetsAnInterimAnswerThenTheBodyIsRead() throws {
        let hub = try TestHTTPServer()
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        try client.send("POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n")
        let interim = try client.readHead(interim: true)
        #expect(interim.status == 100)
        try client.send("hello")
        let response = try client.readResponse()
        #expect(response.status == 200 && response.text == "hello")
    }

    @Test func chunkedRequestBodyIsRefusedWith411() throws {
        let hub = try TestHTTPServer()
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        try client.send("POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        let refused = try client.readResponse()
        #expect(refused.status == 411)
        #expect(refused.text.contains("Content-Length"))
        #expect(refused.headers["connection"] == "close")
        #expect(try client.readsEndOfStream())
        #expect(hub.observations.current.deferred.isEmpty)
        client.disconnect()
        try hub.waitIdle()
    }

    @Test func badContentLengthIsRefusedWith400() throws {
        let hub = try TestHTTPServer()
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        try client.send("PUT /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 12abc\r\n\r\n")
        let refused = try client.readResponse()
        #expect(refused.status == 400)
        #expect(refused.text == "bad Content-Length: '12abc'\n")
        #expect(try client.readsEndOfStream())
    }

    @Test func postWithoutContentLengthHasAnEmptyBodyAndClosesTheConnection() throws {
        let hub = try TestHTTPServer()
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        try client.request("POST", "/echo")
        let response = try client.readResponse()
        #expect(response.status == 200 && response.headers["x-body-bytes"] == "0")
        #expect(response.headers["connection"] == "close")
        #expect(try client.readsEndOfStream())
    }

    // MARK: - Methods

    @Test func everyMethodReachesTheDelegateOnOneConnection() throws {
        let hub = try TestHTTPServer()
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        for method in ["GET", "DELETE", "OPTIONS", "PATCH", "PUT", "POST"] {
            let body: [UInt8]? = ["PATCH", "PUT", "POST"].contains(method) ? Array("x".utf8) : nil
            try client.request(method, "/echo", body: body)
            let response = try client.readResponse()
            #expect(response.status == 200, "\(method)")
            #expect(response.headers["x-method"] == method)
            #expect(response.body == (body ?? []))
        }
    }

    @Test func headGetsTheHeadOnlyAndTheConnectionStaysUsable() throws {
        let hub = try TestHTTPServer()
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        try client.request("HEAD", "/nothing")
        let head = try client.readResponse(head: true)
        #expect(head.status == 404)
        #expect(head.headers["content-length"] == String("not found: /nothing\n".utf8.count))
        // Had the body been sent, this response would be read from its bytes and fail.
        try client.request("GET", "/nothing")
        let get = try client.readResponse()
        #expect(get.status == 404 && get.text == "not found: /nothing\n")
    }

    // MARK: - Deferred answers

    @Test func deferredAnswerComesWhenTheDelegateResponds() throws {
        let hub = try TestHTTPServer()
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        let id = try deferredRequest("GET", from: client, on: hub)
        let accepted = try hub.onServiceThread {
            $0.respond(
                id,
                HTTPResponse(status: 201, headers: [HTTPHeader("cache-control", "no-store")], body: Array("later".utf8))
            )
        }
        #expect(accepted)
        let response = try client.readResponse()
        #expect(response.status == 201 && response.text == "later")
        #expect(response.headers["cache-control"] == "no-store")
        // A second answer for the same request is refused; the connection serves the next request.
        #expect(try hub.onServiceThread { !$0.respond(id, .text(500, "again")) })
        try client.request("GET", "/defer")
        let second = try #require(
            try hub.observations.wait(for: "the second request") { $0.deferred.count == 2 }.deferred.last)
        #expect(try hub.onServiceThread { $0.respond(second, .text(200, "second")) })
        #expect(try client.readResponse().text == "second\n")
        #expect(hub.observations.current.cancelled.isEmpty)
    }

    @Test func deferredAnswerForAClientThatLeftIsDropped() throws {
        let hub = try TestHTTPServer()
        defer { hub.stop() }
        let leaver = try RawHTTPClient(port: hub.port)
        let id = try deferredRequest("POST", from: leaver, on: hub, body: Array("x".utf8))
        leaver.disconnect()
        // The server may notice the departure before the answer (then the delegate is told, and `respond` is
        // refused) or only when writing it; either way nothing is left behind and the server goes on.
        _ = try hub.onServiceThread { $0.respond(id, .text(200, "too late")) }
        try hub.waitIdle()
        let next = try RawHTTPClient(port: hub.port)
        try next.request("GET", "/echo")
        #expect(try next.readResponse().status == 200)
    }

    @Test func deferredRequestNeverAnsweredTimesOutAndIsCancelled() throws {
        let hub = try TestHTTPServer(idleTimeoutSeconds: 1)
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        let id = try deferredRequest("POST", from: client, on: hub, body: Array("x".utf8))
        _ = try hub.observations.wait(for: "the cancellation") { $0.cancelled == [id] }
        #expect(try client.readsEndOfStream())
        #expect(try hub.onServiceThread { !$0.respond(id, .text(200, "too late")) })
        try hub.waitIdle()
    }

    // MARK: - Streams

    @Test func streamOfFiftyMegabytesToASlowReaderHoldsAFewChunks() throws {
        let chunk = 64 * 1024
        let total = 50 * 1024 * 1024
        let hub = try TestHTTPServer(streamChunkBytes: chunk)
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port, receiveBuffer: 64 * 1024)
        try client.request("GET", "/stream?bytes=\(total)")
        var worstLead = 0
        var reads = 0
        let response = try client.readResponse(readSize: 16 * 1024) { _ in
            // What the producer made and the client has not read: in the client's receive buffer, in flight, in
            // the hub's socket (below its low-water mark) or in lws. Without a bound the producer would run ahead
            // by megabytes (the kernel's send buffer grows to 4 MiB).
            let lead = hub.observations.current.producedBytes - client.receivedBytes
            worstLead = max(worstLead, lead)
            reads += 1
            if reads % 8 == 0 { usleep(500) }  // read slower than the hub writes (not a synchronisation)
        }
        #expect(response.status == 200)
        #expect(response.headers["transfer-encoding"] == "chunked")
        #expect(response.headers["cache-control"] == "no-store")
        #expect(response.body.count == total)
        #expect(response.body.prefix(1000).enumerated().allSatisfy { $0.element == UInt8($0.offset % 251) })
        #expect(worstLead <= 8 * chunk, "the producer ran \(worstLead) bytes ahead of the reader")
        print("stream: worst lead of the producer over the reader: \(worstLead) bytes (\(worstLead / chunk) chunks)")
        let state = try hub.observations.wait(for: "the producer's release") { $0.producersReleased == 1 }
        #expect(state.producedBytes == total && state.cancelled.isEmpty)
        // Keep-alive: the connection serves the next request.
        try client.request("GET", "/echo")
        #expect(try client.readResponse().status == 200)
    }

    @Test func clientLeavingMidStreamReleasesTheProducer() throws {
        let total = 1 << 30
        let hub = try TestHTTPServer()
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port, receiveBuffer: 64 * 1024)
        try client.request("GET", "/stream?bytes=\(total)")
        let head = try client.readHead()
        #expect(head.status == 200)
        _ = try client.readExactly(1 << 20)
        let id = try #require(hub.observations.current.streams.first)
        client.disconnect()
        let state = try hub.observations.wait(for: "the producer's release") { $0.producersReleased == 1 }
        #expect(state.producedBytes < total)
        #expect(state.cancelled == [id])
        try hub.waitIdle()
    }

    @Test func pausedStreamGoesOnWhenResumed() throws {
        let chunk = 1000
        let hub = try TestHTTPServer(streamChunkBytes: chunk)
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        try client.request("GET", "/stream?bytes=\(3 * chunk)&pause")
        for resumed in 1...2 {
            let state = try hub.observations.wait(for: "pause \(resumed)") { $0.paused == resumed }
            #expect(state.producedChunks == resumed, "a paused producer is not called again until resumed")
            let id = try #require(state.streams.first)
            try hub.onServiceThread { $0.resumeStream(id) }
        }
        let response = try client.readResponse()
        #expect(response.body.count == 3 * chunk)
        #expect(response.body.enumerated().allSatisfy { $0.element == UInt8($0.offset % 251) })
    }

    @Test func streamToAnHTTP10ClientEndsWithTheConnection() throws {
        let hub = try TestHTTPServer(streamChunkBytes: 1000)
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        try client.send("GET /stream?bytes=2500 HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200 && response.headers["transfer-encoding"] == nil)
        #expect(response.headers["connection"] == "close")
        #expect(response.body.count == 2500)
    }

    @Test func headOfAStreamSendsTheHeadAndNeverCallsTheProducer() throws {
        let hub = try TestHTTPServer()
        defer { hub.stop() }
        let client = try RawHTTPClient(port: hub.port)
        try client.request("HEAD", "/stream?bytes=100000")
        let head = try client.readResponse(head: true)
        #expect(head.status == 200 && head.headers["transfer-encoding"] == "chunked")
        let state = try hub.observations.wait(for: "the producer's release") { $0.producersReleased == 1 }
        #expect(state.producedChunks == 0)
        try client.request("GET", "/echo")
        #expect(try client.readResponse().status == 200)
    }

    @Test func deferredRequestCanBeAnsweredWithAStream() throws {
        final class Fixed: HTTPBodyProducer {
            func produceChunk(into chunk: inout [UInt8], limit: Int) -> HTTPBodyProgress {
                chunk.append(contentsOf: "streamed".utf8)
                return .done
            }
        }
        let hub = try TestHTTPServer()
        defer { hub.stop() }
        let client = try clientAnsweredWithStream(from: hub) { Fixed() }
        let response = try client.readResponse()
        #expect(response.status == 200 && response.text == "streamed")
    }

    @Test func aStreamThatFailsClosesTheConnectionWithoutEndingTheBody() throws {
        final class Failing: HTTPBodyProducer {
            var calls = 0
            func produceChunk(into chunk: inout [UInt8], limit: Int) -> HTTPBodyProgress {
                calls += 1
                chunk.append(contentsOf: "part \(calls);".utf8)
                return calls < 2 ? .more : .failed
            }
        }
        let hub = try TestHTTPServer()
        defer { hub.stop() }
        let client = try clientAnsweredWithStream(from: hub) { Failing() }
        // The chunks written arrive, but the body never gets its terminating chunk: reading it fails.
        #expect(throws: (any Error).self) { try client.readResponse() }
    }

    // MARK: - Helpers

    /// Sends `method /defer` (with `body`, if any) from `client` and returns the request's id once the test
    /// delegate has deferred it.
    private func deferredRequest(
        _ method: String, from client: RawHTTPClient, on hub: TestHTTPServer, body: [UInt8]? = nil
    ) throws -> HTTPRequestID {
        try client.request(method, "/defer", body: body)
        return try #require(
            try hub.observations.wait(for: "the deferred request") { !$0.deferred.isEmpty }.deferred.first)
    }

    /// Sends `GET /defer` from a new client and answers it, once deferred, with a 200 `text/plain` stream from the
    /// producer `makeProducer` makes (on the service thread; `respond` must take it). Returns the client, whose
    /// response is still to be read.
    private func clientAnsweredWithStream(
        from hub: TestHTTPServer, _ makeProducer: @escaping @Sendable () -> any HTTPBodyProducer
    ) throws -> RawHTTPClient {
        let client = try RawHTTPClient(port: hub.port)
        let id = try deferredRequest("GET", from: client, on: hub)
        #expect(
            try hub.onServiceThread {
                $0.respond(id, .stream(status: 200, contentType: "text/plain", producer: makeProducer()))
            })
        return client
    }
}
