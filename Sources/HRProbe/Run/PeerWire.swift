/// The few frames the probe sends to a peer relay, and the reader of what a peer sends back: a minimal NATS
/// client protocol and a minimal MQTT 3.1.1 (QoS 0) client, both carried in WebSocket frames.
///
/// Both protocols are byte streams: a WebSocket frame may hold several protocol messages, or part of one
/// (nats-server packs ~28 `MSG`s into a frame when a subscriber lags). `PeerStreamReader` therefore keeps the
/// unfinished tail of a frame until the next one arrives; when a frame ends on a message boundary, the common
/// case, nothing is copied.
enum PeerWire {
    // MARK: - NATS (https://docs.nats.io/reference/reference-protocols/nats-protocol)

    /// CONNECT (no `+OK` acks, echo on), then SUB for a subscriber, then PING: the PONG proves the server has
    /// processed the subscription, so the connection is ready.
    static func natsHandshake(subscribeTo subject: String?) -> [UInt8] {
        var text = #"CONNECT {"verbose":false,"pedantic":false,"echo":true,"protocol":1,"name":"hrprobe","lang":"swift","version":"1"}"#
        text += "\r\n"
        if let subject { text += "SUB \(subject) 1\r\n" }
        text += "PING\r\n"
        return Array(text.utf8)
    }

    /// `PUB subject size\r\npayload\r\n`.
    static func natsPublish(subject: [UInt8], payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(subject.count + payload.count + 20)
        out.append(contentsOf: Self.pub)
        out.append(contentsOf: subject)
        out.append(0x20)
        out.append(contentsOf: String(payload.count).utf8)
        out.append(contentsOf: Self.crlf)
        out.append(contentsOf: payload)
        out.append(contentsOf: Self.crlf)
        return out
    }

    static let natsPong = Array("PONG\r\n".utf8)
    private static let pub = Array("PUB ".utf8)
    private static let crlf: [UInt8] = [0x0D, 0x0A]

    // MARK: - MQTT 3.1.1 (OASIS standard, section 3)

    /// CONNECT: protocol "MQTT" level 4, clean session, keep-alive 0 (off), the client id.
    static func mqttConnect(clientID: String) -> [UInt8] {
        var body: [UInt8] = []
        appendString("MQTT", to: &body)
        body.append(4)  // protocol level 3.1.1
        body.append(0x02)  // clean session
        body.append(contentsOf: [0, 0])  // keep-alive off
        appendString(clientID, to: &body)
        return packet(0x10, body)
    }

    /// SUBSCRIBE (packet id 1) to one topic filter at QoS 0.
    static func mqttSubscribe(topic: String) -> [UInt8] {
        var body: [UInt8] = [0, 1]
        appendString(topic, to: &body)
        body.append(0)
        return packet(0x82, body)
    }

    /// PUBLISH at QoS 0 (no packet id), not retained.
    static func mqttPublish(topic: [UInt8], payload: [UInt8]) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(2 + topic.count + payload.count)
        body.append(UInt8(topic.count >> 8))
        body.append(UInt8(topic.count & 0xFF))
        body.append(contentsOf: topic)
        body.append(contentsOf: payload)
        return packet(0x30, body)
    }

    private static func appendString(_ text: String, to out: inout [UInt8]) {
        let bytes = Array(text.utf8)
        out.append(UInt8(bytes.count >> 8))
        out.append(UInt8(bytes.count & 0xFF))
        out.append(contentsOf: bytes)
    }

    /// Fixed header (type and flags, remaining length as a base-128 varint) and the body.
    private static func packet(_ first: UInt8, _ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [first]
        var length = body.count
        repeat {
            var byte = UInt8(length & 0x7F)
            length >>= 7
            if length > 0 { byte |= 0x80 }
            out.append(byte)
        } while length > 0
        out.append(contentsOf: body)
        return out
    }
}

/// What a peer said, one protocol message at a time.
enum PeerEvent {
    /// A delivered message's payload (NATS `MSG`, MQTT `PUBLISH`, or a whole broadcast frame).
    case payload(UnsafeRawBufferPointer)
    /// NATS `PING`: answer with `PONG`.
    case ping
    /// NATS `PONG`, MQTT `CONNACK` (accepted) or `SUBACK`: the peer has processed what came before.
    case acknowledged(Acknowledgement)
    /// NATS `-ERR`, a refused MQTT CONNACK or SUBACK, or bytes that are not the protocol.
    case error(String)

    enum Acknowledgement { case pong, connack, suback }
}

/// Reassembles one connection's byte stream from a peer into protocol messages.
struct PeerStreamReader {
    /// The unfinished tail of earlier frames.
    private var pending: [UInt8] = []

    /// Feeds one WebSocket message; `handle` gets each complete protocol message, in order. Returns false when
    /// the stream is not the protocol (the caller counts a malformed frame; the tail is dropped).
    mutating func feed(
        _ bytes: UnsafeRawBufferPointer, target: PeerTarget, _ handle: (PeerEvent) -> Void
    ) -> Bool {
        if target == .wsBroadcast || target == .hrhub {
            handle(.payload(bytes))
            return true
        }
        if pending.isEmpty {
            let consumed = Self.parse(bytes, target: target, handle)
            guard let consumed else { return false }
            if consumed < bytes.count { pending.append(contentsOf: bytes[consumed...]) }
            return true
        }
        pending.append(contentsOf: bytes)
        let buffer = pending
        pending = []
        let consumed = buffer.withUnsafeBytes { Self.parse($0, target: target, handle) }
        guard let consumed else { return false }
        if consumed < buffer.count { pending = Array(buffer[consumed...]) }
        return true
    }

    /// Parses whole messages from the front of `bytes`; returns how many bytes they took, or nil on garbage.
    private static func parse(
        _ bytes: UnsafeRawBufferPointer, target: PeerTarget, _ handle: (PeerEvent) -> Void
    ) -> Int? {
        target == .nats ? parseNATS(bytes, handle) : parseMQTT(bytes, handle)
    }

    private static func parseNATS(_ b: UnsafeRawBufferPointer, _ handle: (PeerEvent) -> Void) -> Int? {
        var offset = 0
        let end = b.count
        while offset < end {
            // One control line, up to CRLF.
            var lineEnd = offset
            while lineEnd + 1 < end && !(b[lineEnd] == 0x0D && b[lineEnd + 1] == 0x0A) { lineEnd += 1 }
            guard lineEnd + 1 < end else {
                // No CRLF yet: wait for more, unless the line is absurdly long (INFO is a few hundred bytes).
                return end - offset > 65_536 ? nil : offset
            }
            let first = b[offset] | 0x20  // lower case
            if first == UInt8(ascii: "m") {
                // MSG <subject> <sid> [reply-to] <#bytes>
                var size = 0
                var i = lineEnd - 1
                var scale = 1
                while i > offset, b[i] >= 0x30 && b[i] <= 0x39 {
                    size += Int(b[i] - 0x30) * scale
                    scale *= 10
                    i -= 1
                }
                guard scale > 1 else { return nil }
                let payloadStart = lineEnd + 2
                guard payloadStart + size + 2 <= end else { return offset }  // the payload has not all arrived
                handle(.payload(UnsafeRawBufferPointer(rebasing: b[payloadStart..<(payloadStart + size)])))
                offset = payloadStart + size + 2
                continue
            }
            let second = lineEnd - offset > 1 ? b[offset + 1] | 0x20 : 0
            if first == UInt8(ascii: "p") && second == UInt8(ascii: "i") {
                handle(.ping)
            } else if first == UInt8(ascii: "p") && second == UInt8(ascii: "o") {
                handle(.acknowledged(.pong))
            } else if b[offset] == UInt8(ascii: "-") {
                handle(.error(String(decoding: UnsafeRawBufferPointer(rebasing: b[offset..<lineEnd]), as: UTF8.self)))
            } else if first != UInt8(ascii: "i") && b[offset] != UInt8(ascii: "+") {
                return nil  // neither INFO nor +OK
            }
            offset = lineEnd + 2
        }
        return offset
    }

    private static func parseMQTT(_ b: UnsafeRawBufferPointer, _ handle: (PeerEvent) -> Void) -> Int? {
        var offset = 0
        let end = b.count
        while offset < end {
            let first = b[offset]
            var length = 0
            var shift = 0
            var i = offset + 1
            var complete = false
            while i < end && shift <= 21 {
                let byte = b[i]
                length |= Int(byte & 0x7F) << shift
                i += 1
                if byte & 0x80 == 0 {
                    complete = true
                    break
                }
                shift += 7
            }
            guard complete else { return shift > 21 ? nil : offset }
            let bodyStart = i
            guard bodyStart + length <= end else { return offset }
            switch first >> 4 {
            case 2:  // CONNACK: flags, return code
                if length >= 2 && b[bodyStart + 1] == 0 {
                    handle(.acknowledged(.connack))
                } else {
                    handle(.error("CONNACK refused, code \(length >= 2 ? Int(b[bodyStart + 1]) : -1)"))
                }
            case 3:  // PUBLISH: topic, [packet id], payload
                guard length >= 2 else { return nil }
                let topicLength = Int(b[bodyStart]) << 8 | Int(b[bodyStart + 1])
                let qos = (first >> 1) & 0x03
                let payloadStart = bodyStart + 2 + topicLength + (qos > 0 ? 2 : 0)
                guard payloadStart <= bodyStart + length else { return nil }
                handle(.payload(UnsafeRawBufferPointer(rebasing: b[payloadStart..<(bodyStart + length)])))
            case 9:  // SUBACK: packet id, granted QoS per filter (0x80 = failure)
                if length >= 3 && b[bodyStart + 2] != 0x80 {
                    handle(.acknowledged(.suback))
                } else {
                    handle(.error("SUBACK refused"))
                }
            case 13:  // PINGRESP
                break
            default:
                break
            }
            offset = bodyStart + length
        }
        return offset
    }
}
