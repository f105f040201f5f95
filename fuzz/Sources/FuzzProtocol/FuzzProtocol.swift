// libFuzzer entry point for HRProtocol's decoders. Every input goes through all five decoders, and whatever one
// accepts must satisfy its invariants, not just "not crash":
//
// - ClientFrameDecoder.decodeJSON: the message is in range (PROTOCOL.md, "Client → hub"); re-encoded with
//   ClientFrameEncoder.json it decodes to the same value; an `hr` also survives the binary layout unchanged.
//   A rejection has a client code (bad_json, bad_field, unknown_type) and a short message.
// - ClientFrameDecoder.decodeBinary: the sample is in range; ClientFrameEncoder.binary gives back the input
//   byte for byte once the flags are canonical (reserved bits 4-7 and a contact bit without bit0 are ignored by
//   design); the JSON form decodes to the same sample. A rejection is bad_frame or bad_field (with the seq).
// - HubFrameDecoder.decodeJSON: the messages re-encoded with HubFrameEncoder.frame decode to the same values
//   (after the one documented normalization: a viewer's welcome carries no last_seq), and encoding is then a
//   fixed point byte for byte. Every relayed sample also round-trips through the binary layout.
// - HubFrameDecoder.decodeBinary: HubFrameEncoder.appendBinary gives back the input byte for byte (canonical
//   flags), and each sample round-trips through the JSON `hr` form.
// - ConnectRequest.parse: an accepted request obeys the role/participant/mode rules, and the request rebuilt as
//   a percent-encoded query parses to the same value; a refusal's reason is one line of printable ASCII (it goes
//   into an HTTP 400). selectSubprotocol only ever answers with something the client offered.
//
// A broken invariant prints what broke and traps, so libFuzzer saves the input as crash-<sha1>.

import HRProtocol

/// Longest error message the hub may echo back for one bad client frame (bytes of UTF-8).
private let maxErrorMessageBytes = 256

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProtocol(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    checkClientJSON(bytes)
    checkClientBinary(bytes)
    checkHubJSON(bytes)
    checkHubBinary(bytes)
    checkConnectRequest(bytes)
    return 0
}

// MARK: - Client frames

private func checkClientJSON(_ bytes: UnsafeRawBufferPointer) {
    let message: ClientMessage
    do {
        message = try ClientFrameDecoder.decodeJSON(bytes)
    } catch {
        require([.badJSON, .badField, .unknownType].contains(error.code), "client JSON: code \(error.code)", bytes)
        require(error.message.utf8.count <= maxErrorMessageBytes, "client JSON: long message \(error)", bytes)
        return
    }
    switch message {
    case .hr(let sample):
        checkClientSample(sample, bytes)
        let binary = ClientFrameEncoder.binary(sample)
        require(decodedBinary(binary) == sample, "client hr: binary round trip of \(sample)", bytes)
    case .hello(let profile):
        if let name = profile.name {
            require(name.unicodeScalars.count <= Limits.nameMaxLength, "hello: name too long", bytes)
        }
        if let hrmax = profile.hrmax { require(Limits.hrmax.contains(hrmax), "hello: hrmax \(hrmax)", bytes) }
        if let hrrest = profile.hrrest { require(Limits.hrrest.contains(hrrest), "hello: hrrest \(hrrest)", bytes) }
    case .ping:
        break
    }
    let encoded = ClientFrameEncoder.json(message)
    let again: ClientMessage
    do {
        again = try ClientFrameDecoder.decodeJSON(encoded)
    } catch {
        fail("client JSON: re-encoded \(message) is refused: \(error)\n  re-encoded: \(text(encoded))", bytes)
    }
    require(again == message, "client JSON: \(message) came back as \(again)\n  re-encoded: \(text(encoded))", bytes)
    require(ClientFrameEncoder.json(again) == encoded, "client JSON: encoding is not a fixed point", bytes)
}

private func checkClientBinary(_ bytes: UnsafeRawBufferPointer) {
    let sample: Sample
    do {
        sample = try ClientFrameDecoder.decodeBinary(bytes)
    } catch {
        require([.badFrame, .badField].contains(error.code), "client binary: code \(error.code)", bytes)
        if error.code == .badField {
            // Only a frame of the right shape gets as far as a range check, so its seq is known.
            require(error.seq != nil, "client binary: bad_field without seq", bytes)
        }
        require(error.message.utf8.count <= maxErrorMessageBytes, "client binary: long message", bytes)
        return
    }
    checkClientSample(sample, bytes)
    let encoded = ClientFrameEncoder.binary(sample)
    var canonical = Array(bytes)
    canonical[1] = canonicalFlags(canonical[1], rrCount: Int(canonical[15]))
    require(encoded == canonical, "client binary: re-encoded as \(hex(encoded)), expected \(hex(canonical))", bytes)
    let json = ClientFrameEncoder.json(.hr(sample))
    do {
        let message = try ClientFrameDecoder.decodeJSON(json)
        require(message == .hr(sample), "client binary: JSON form decodes to \(message), not \(sample)", bytes)
    } catch {
        fail("client binary: JSON form \(text(json)) is refused: \(error)", bytes)
    }
}

/// What PROTOCOL.md promises about any sample the hub accepts from a client.
private func checkClientSample(_ sample: Sample, _ bytes: UnsafeRawBufferPointer) {
    require(sample.ts >= 0, "sample: ts \(sample.ts) < 0", bytes)
    require(sample.bpm == 0 || Limits.bpm.contains(sample.bpm), "sample: bpm \(sample.bpm)", bytes)
    require(sample.rr.count <= Limits.rrMaxCount, "sample: \(sample.rr.count) rr values", bytes)
    require(sample.rr.allSatisfy(Limits.rr.contains), "sample: rr \(sample.rr)", bytes)
}

private func decodedBinary(_ frame: [UInt8]) -> Sample? {
    try? ClientFrameDecoder.decodeBinary(frame)
}

// MARK: - Hub frames

private func checkHubJSON(_ bytes: UnsafeRawBufferPointer) {
    let messages: [HubMessage]
    do {
        messages = try HubFrameDecoder.decodeJSON(bytes)
    } catch {
        require(error.code == .badJSON, "hub JSON: code \(error.code)", bytes)
        return
    }
    let expected = messages.map(normalized)
    let encoded = HubFrameEncoder.frame(messages)
    let again: [HubMessage]
    do {
        again = try HubFrameDecoder.decodeJSON(encoded)
    } catch {
        fail("hub JSON: re-encoded frame is refused: \(error)\n  re-encoded: \(text(encoded))", bytes)
    }
    require(again == expected, "hub JSON: \(expected) came back as \(again)\n  re-encoded: \(text(encoded))", bytes)
    require(HubFrameEncoder.frame(again) == encoded, "hub JSON: encoding is not a fixed point", bytes)
    // Each message alone is a valid frame's element too (how the hub splices shared sample bytes).
    for message in messages {
        let spliced = [0x5B] + HubFrameEncoder.json(message) + [0x5D]
        require(spliced == HubFrameEncoder.frame([message]), "hub JSON: json(_:) differs from frame(_:)", bytes)
    }
    // Every relayed sample, with no pct/zone and short enough for the layout, survives the binary form.
    for case .hr(let relayed) in messages where relayed.p.utf8.count <= 255 && relayed.sample.rr.count <= 255 {
        var binary: [UInt8] = []
        HubFrameEncoder.appendBinary(relayed, to: &binary)
        var plain = relayed
        plain.pct = nil
        plain.zone = nil
        let back = try? HubFrameDecoder.decodeBinary(binary)
        require(back == [plain], "hub JSON: hr \(relayed) comes back from binary as \(String(describing: back))", bytes)
    }
}

/// The one value the hub's JSON encoding does not carry: a viewer's welcome has no `last_seq`.
private func normalized(_ message: HubMessage) -> HubMessage {
    guard case .welcome(var welcome) = message, welcome.role == .viewer else { return message }
    welcome.lastSeq = nil
    return .welcome(welcome)
}

private func checkHubBinary(_ bytes: UnsafeRawBufferPointer) {
    let samples: [RelayedSample]
    do {
        samples = try HubFrameDecoder.decodeBinary(bytes)
    } catch {
        require(error.code == .badFrame, "hub binary: code \(error.code)", bytes)
        return
    }
    require(!samples.isEmpty, "hub binary: an accepted frame holds no sample", bytes)
    var encoded: [UInt8] = []
    for sample in samples {
        require(sample.pct == nil && sample.zone == nil, "hub binary: pct/zone from a binary frame", bytes)
        HubFrameEncoder.appendBinary(sample, to: &encoded)
    }
    // Canonical input: each record's flags as the encoder writes them, walking the records as laid out.
    var canonical = Array(bytes)
    var offset = 0
    for sample in samples {
        let rrCount = Int(canonical[offset + 15])
        canonical[offset + 1] = canonicalFlags(canonical[offset + 1], rrCount: rrCount)
        offset += 25 + sample.p.utf8.count + (sample.sample.ee == nil ? 0 : 2) + 2 * rrCount
    }
    require(offset == canonical.count, "hub binary: records cover \(offset) of \(canonical.count) bytes", bytes)
    require(encoded == canonical, "hub binary: re-encoded as \(hex(encoded)), expected \(hex(canonical))", bytes)
    let json = HubFrameEncoder.frame(samples.map { .hr($0) })
    do {
        let back = try HubFrameDecoder.decodeJSON(json)
        require(back == samples.map { .hr($0) }, "hub binary: JSON form decodes to \(back)", bytes)
    } catch {
        fail("hub binary: JSON form \(text(json)) is refused: \(error)", bytes)
    }
}

/// The flags byte an encoder writes for a record that was decoded from `flags` with `rrCount` RR values:
/// bit1 only with bit0, bit2 kept, bit3 exactly when there are RR values, bits 4-7 clear.
private func canonicalFlags(_ flags: UInt8, rrCount: Int) -> UInt8 {
    let contact: UInt8 = flags & 0x01 != 0 ? flags & 0x03 : 0
    return contact | (flags & 0x04) | (rrCount > 0 ? 0x08 : 0)
}

// MARK: - Upgrade requests

/// Input: `path` or `path?query`, or `path\nquery` to give the query separately; a second line is the
/// `Sec-WebSocket-Protocol` header.
private func checkConnectRequest(_ bytes: UnsafeRawBufferPointer) {
    let input = String(decoding: bytes, as: UTF8.self)
    let lines = input.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
    let path = String(lines[0])
    let query = lines.count > 1 ? String(lines[1]) : nil
    let offered = lines.count > 2 ? lines[2].split(separator: ",").map(String.init) : []

    if let format = ConnectRequest.selectSubprotocol(offered: offered) {
        let named = offered.contains { $0.contains(format.rawValue) }
        require(
            named || (format == .json && offered.allSatisfy { $0.allSatisfy { $0 == " " || $0 == "\t" } }),
            "subprotocol: picked \(format) from \(offered)", bytes)
    }

    let request: ConnectRequest
    do {
        request = try ConnectRequest.parse(path: path, query: query)
    } catch {
        let printable = error.reason.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) }
        require(printable && !error.reason.isEmpty, "connect: reason is not one printable line: \(error)", bytes)
        require(error.reason.utf8.count <= 160, "connect: long reason \(error.reason)", bytes)
        return
    }
    require(Identifier.isValid(request.classID), "connect: class id \(request.classID)", bytes)
    if request.role.publishes {
        require(request.participant.map(Identifier.isValid) == true, "connect: publisher without id", bytes)
    } else {
        require(request.participant == nil, "connect: viewer with a participant", bytes)
    }
    require(request.role.views || request.mode == .all, "connect: publisher with mode \(request.mode)", bytes)
    require(request.token != "", "connect: empty token kept", bytes)

    var items = ["role=" + percentEncoded(request.role.rawValue)]
    if let participant = request.participant { items.append("participant=" + percentEncoded(participant)) }
    if request.role.views { items.append("mode=" + request.mode.rawValue) }
    if let token = request.token { items.append("token=" + percentEncoded(token)) }
    let rebuiltPath = "/v1/classes/\(request.classID)/ws"
    do {
        let again = try ConnectRequest.parse(path: rebuiltPath, query: items.joined(separator: "&"))
        require(again == request, "connect: \(request) came back as \(again)", bytes)
    } catch {
        fail("connect: rebuilt \(rebuiltPath)?\(items.joined(separator: "&")) is refused: \(error)", bytes)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
private func percentEncoded(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            out += "%" + hex([byte])
        }
    }
    return out
}

// MARK: - Reporting

private func require(_ condition: Bool, _ what: @autoclosure () -> String, _ input: UnsafeRawBufferPointer) {
    if !condition { fail(what(), input) }
}

private func fail(_ what: String, _ input: UnsafeRawBufferPointer) -> Never {
    fatalError("invariant broken: \(what)\n  input (\(input.count) bytes): \(hex(Array(input)))")
}

private func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var out = ""
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return out
}

private func text(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self)
}
