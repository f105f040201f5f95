import Foundation
import LWSTransport
import Testing

/// The transport's message limit over raw sockets: messages arrive in pieces of the 256-byte receive buffer and are
/// joined up to `maxMessageBytes`; a larger one is refused with a 1009 close frame the client gets to read, also
/// when the refusal comes in the middle of what the server read while the rest of the message is still arriving.
@Suite(.serialized) struct WebSocketLimitTests {
    static let limit = 2000

    /// One masked client frame (RFC 6455 §5.2), payload under 64 KiB.
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool) -> [UInt8] {
        let mask: [UInt8] = [0x37, 0xfa, 0x21, 0x3d]
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            bytes.append(0x80 | UInt8(payload.count))
        } else {
            bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        }
        bytes += mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return bytes
    }

    /// A message split after `first` bytes, ended with an empty final fragment (as the websockets library does).
    static func fragmented(_ opcode: UInt8, _ message: [UInt8], first: Int) -> [UInt8] {
        frame(opcode, Array(message[..<first]), fin: false) + frame(0, Array(message[first...]), fin: false)
            + frame(0, [], fin: true)
    }

    /// `count` bytes of JSON-safe text.
    static func message(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(ascii: "a") + UInt8($0 % 26) } }

    static func upgraded(_ hub: TestHTTPServer) throws -> RawHTTPClient {
        let client = try RawHTTPClient(port: hub.port)
        try client.send(
            "GET /ws HTTP/1.1\r\nhost: test\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
                + "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n"
                + "sec-websocket-protocol: test\r\n\r\n")
        let head = try client.readHead(interim: true)
        guard head.status == 101 else { throw RawHTTPError("upgrade answered \(head.status)") }
        return client
    }

    /// Reads server frames until a close frame; returns its code (nil for a close frame without one). Throws when
    /// the stream ends first (no close frame).
    static func closeCode(_ client: RawHTTPClient) throws -> UInt16? {
        while true {
            let head = try client.readExactly(2)
            var length = Int(head[1] & 0x7f)
            if length == 126 {
                let extended = try client.readExactly(2)
                length = Int(extended[0]) << 8 | Int(extended[1])
            }
            let payload = try client.readExactly(length)
            if head[0] & 0x0f == 0x8 { return payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil }
        }
    }

    /// The first fragment's length puts the refusing piece in the middle of one of the server's reads (at most the
    /// buffer plus lws's 16 bytes of headroom each), with the rest of the message small enough for the next read:
    /// 1,616 and 1,624 for the 256-byte buffer, 1,040 and 1,048 for a 512-byte one. Each of these ended without a
    /// close frame when the refusal returned -1 to lws (lws dropped the rest of the read, parsed the rest of the
    /// message out of step, and a frame header taken for text failed UTF-8 validation).
    @Test(arguments: [1040, 1048, 1616, 1624])
    func anOversizedMessageRefusedMidReadGetsItsCloseFrame(first: Int) throws {
        let hub = try TestHTTPServer(webSocketsUpTo: Self.limit)
        defer { hub.stop() }
        for opcode: UInt8 in [1, 2] {
            let client = try Self.upgraded(hub)
            try client.send(Self.fragmented(opcode, Self.message(Self.limit + 1), first: first))
            #expect(try Self.closeCode(client) == 1009, "opcode \(opcode), first fragment \(first) bytes")
        }
        let state = try hub.observations.wait(for: "both closed") { $0.closedConnections == 2 }
        #expect(state.messages == [], "nothing of a refused message is delivered")
    }

    @Test func anOversizedSingleFrameGetsItsCloseFrame() throws {
        let hub = try TestHTTPServer(webSocketsUpTo: Self.limit)
        defer { hub.stop() }
        let client = try Self.upgraded(hub)
        try client.send(Self.frame(1, Self.message(Self.limit + 1), fin: true))
        #expect(try Self.closeCode(client) == 1009)
        #expect(hub.observations.current.messages == [])
    }

    @Test func aMessageAtTheLimitInManyPiecesIsJoinedWhole() throws {
        let hub = try TestHTTPServer(webSocketsUpTo: Self.limit)
        defer { hub.stop() }
        let client = try Self.upgraded(hub)
        let message = Self.message(Self.limit)
        try client.send(Self.frame(1, message, fin: true))
        // Fragments of uneven sizes around the 256-byte pieces, then the same message again in one frame.
        var bytes: [UInt8] = []
        var offset = 0
        for (index, size) in [1, 255, 256, 257, 511, 513, 200].enumerated() {
            bytes += Self.frame(index == 0 ? 1 : 0, Array(message[offset..<offset + size]), fin: false)
            offset += size
        }
        bytes += Self.frame(0, Array(message[offset...]), fin: true)
        try client.send(bytes)
        let state = try hub.observations.wait(for: "two messages") { $0.messages.count == 2 }
        #expect(state.messages == [message, message])
    }
}
