import Foundation
import HRProtocol
import Testing

/// The end-to-end suites: the real `hrhub` binary, started per test on an ephemeral port, and our libwebsockets
/// client (`TestClient`). Everything runs serialized: tests block a thread while they wait, and on a 2-core machine
/// one hub at a time keeps the timeouts meaningful.
@Suite(.serialized)
enum EndToEnd {
    /// `/v1/classes/{classID}/ws?role=…[&participant=…][&mode=…]`.
    static func path(_ classID: String, _ role: Role, participant: String? = nil, mode: DeliveryMode? = nil) -> String {
        var query = "role=\(role.rawValue)"
        if let participant { query += "&participant=\(participant)" }
        if let mode { query += "&mode=\(mode.rawValue)" }
        return "/v1/classes/\(classID)/ws?\(query)"
    }

    /// Unix milliseconds now.
    static func nowMs() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    /// Reads a connection's first two messages and checks they are `welcome` then (for viewing roles) `snapshot`.
    @discardableResult
    static func expectWelcome(
        _ conn: Conn, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> (welcome: Welcome, snapshot: [SnapshotEntry]?) {
        guard case .welcome(let welcome) = try conn.nextMessage() else {
            throw TestClientError.unexpected("first message is not a welcome")
        }
        guard welcome.role.views else { return (welcome, nil) }
        let message = try conn.nextMessage()
        guard case .snapshot(let entries) = message else {
            throw TestClientError.unexpected("second message of a \(welcome.role) is not a snapshot: \(message)")
        }
        return (welcome, entries)
    }

    /// Reads until a relayed sample of `p` with `seq` arrives; returns it and the messages skipped.
    static func waitForSample(
        _ conn: Conn, p: String, seq: UInt32, timeout: Duration = TestClient.defaultTimeout
    ) throws -> (value: RelayedSample, skipped: [HubMessage]) {
        try conn.waitFor("hr \(p) seq \(seq)", timeout: timeout) { message in
            guard let sample = message.sample, sample.p == p, sample.sample.seq == seq else { return nil }
            return sample
        }
    }
}
