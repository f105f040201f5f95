import HRProtocol

/// What a heart-rate device's firmware decides about its samples, with time injected (no clock, no I/O): the
/// offline buffer, reconnecting, resending, acks and uploads after an outage.
///
/// - Every captured sample goes into the buffer and leaves it only when an `ack` covers it (a sample this link
///   wrote with a seq ≤ the ack's) or an upload's 200 answer does (accepted or duplicate: it is in the record).
/// - After each `welcome` it resends live only what is newer than `welcome.last_seq` (serial order) and not being
///   uploaded; older samples stay in the buffer until an upload covers them.
/// - It uploads (the POST endpoint, chunks of at most `chunkLimit`) when the samples no live link has in flight
///   hold one captured more than the live budget ago, or more than `uploadAbove` of them: after an outage, or
///   when acks stopped coming. A sample written on the live link waits `ackTimeoutUs` before it counts as
///   not in flight.
/// - When its link dies it reconnects after a jittered exponential backoff ("equal jitter"). A link that stays
///   silent while a written sample waits for its ack counts as dead (`linkLooksDead`).
///
/// Seqs are compared in serial-number order (RFC 1982), so a wrap is harmless.
public struct DeviceModel {
    /// The model's knobs.
    public struct Policy: Sendable, Equatable {
        /// Samples older than this (capture to now) no longer go live: they are uploaded. From `welcome.budget_ms`.
        public var budgetUs: Int64 = 800_000
        /// More samples than this waiting (not in flight on the live link) are uploaded whatever their age.
        public var uploadAbove = 600
        /// Most samples per upload request (the endpoint takes 10,000).
        public var chunkLimit = 10_000
        /// A sample written on the live link and not acked after this long is uploaded (acks stopped, or it was
        /// refused).
        public var ackTimeoutUs: Int64 = 5_000_000
        /// A live link that has heard nothing from the hub for this long while a sample it wrote waits for its ack
        /// is dead (Wi-Fi gone: no reset ever comes); the device drops it and reconnects.
        public var deadAfterUs: Int64 = 3_000_000
        /// Backoff before reconnect attempt k (and upload retry k): equal jitter over `base × 2^k`, at most `cap`.
        public var backoffBaseUs: Int64 = 250_000
        public var backoffCapUs: Int64 = 8_000_000

        /// The defaults.
        public init() {}
    }

    /// One buffered sample.
    public struct Entry: Equatable, Sendable {
        public var sample: Sample
        /// When it was captured, µs.
        public var capturedUs: Int64
        /// The link it was last written on (0: never written), and when.
        public var link: UInt64 = 0
        public var sentUs: Int64?
        /// In an upload request that has not been answered.
        public var uploading = false
    }

    /// What the device has done, for reports.
    public struct Counters: Equatable, Sendable {
        public var captured = 0
        /// Dropped from the buffer because an ack covered them.
        public var acked = 0
        /// Dropped because an upload's answer covered them (accepted + duplicates as the hub counted them).
        public var uploadedAccepted = 0
        public var uploadedDuplicates = 0
        public var uploadRequests = 0
        public var uploadFailures = 0
        /// Samples written again on a new link after a reconnect.
        public var resent = 0
        public var linksLost = 0
        public init() {}
    }

    public var policy: Policy
    public private(set) var buffer: [Entry] = []
    public private(set) var counters = Counters()
    /// The current link's number (one per `welcome`), and whether it is up and welcomed.
    public private(set) var link: UInt64 = 0
    public private(set) var isLive = false
    /// Reconnect attempts since the last welcome, and upload failures since the last answered upload.
    public private(set) var attempts = 0
    public private(set) var uploadFailuresInRow = 0
    /// No upload before this time (after a failure), µs.
    public private(set) var uploadRetryAtUs: Int64 = .min
    /// An upload request is out.
    public private(set) var isUploading = false
    /// When the live link last brought anything from the hub, µs; and whether any ack ever came (a hub without a
    /// record never acks, and its silence says nothing).
    public private(set) var lastHeardUs: Int64 = .min
    public private(set) var hasHadAck = false

    /// A device with an empty buffer, not connected.
    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// Captures `sample` at `nowUs`; returns whether to write it live now (the link is up). Either way it is
    /// buffered until an ack or an upload covers it.
    public mutating func capture(_ sample: Sample, nowUs: Int64) -> Bool {
        buffer.append(Entry(sample: sample, capturedUs: nowUs))
        counters.captured += 1
        return isLive
    }

    /// The link came up and the hub said `welcome` (`lastSeq`: `welcome.last_seq`, `budgetMs` its budget).
    /// Returns what to write live now, oldest first: buffered samples newer than `lastSeq`, unless an upload is
    /// due, in which case nothing (call `nextUpload`).
    public mutating func welcomed(lastSeq: UInt32?, budgetMs: Int?, nowUs: Int64) -> [Sample] {
        link += 1
        isLive = true
        attempts = 0
        lastHeardUs = nowUs
        if let budgetMs { policy.budgetUs = Int64(budgetMs) * 1_000 }
        guard !uploadIsDue(nowUs: nowUs) else { return [] }
        var resend: [Sample] = []
        for entry in buffer where !entry.uploading {
            if let lastSeq, !Self.isAfter(entry.sample.seq, lastSeq) { continue }
            resend.append(entry.sample)
        }
        return resend
    }

    /// `seq` was written on the live link at `nowUs`: an ack on this link may now cover it.
    public mutating func wrote(seq: UInt32, nowUs: Int64) {
        guard isLive, let i = index(of: seq) else { return }
        if buffer[i].link != 0 && buffer[i].link != link { counters.resent += 1 }
        buffer[i].link = link
        buffer[i].sentUs = nowUs
    }

    /// `{"t":"ack","seq":n}` on the live link: drops every sample this link wrote with a seq ≤ n; `latency` gets
    /// each one's seq and its time from its write to now, µs. Returns how many were dropped.
    @discardableResult
    public mutating func ack(_ n: UInt32, nowUs: Int64, latency: (UInt32, Int64) -> Void = { _, _ in }) -> Int {
        guard isLive else { return 0 }
        hasHadAck = true
        let before = buffer.count
        buffer.removeAll { entry in
            guard entry.link == link, let sentUs = entry.sentUs, !Self.isAfter(entry.sample.seq, n) else {
                return false
            }
            latency(entry.sample.seq, nowUs - sentUs)
            return true
        }
        counters.acked += before - buffer.count
        return before - buffer.count
    }

    /// Something arrived from the hub on the live link (an ack, a pong, anything).
    public mutating func heard(nowUs: Int64) {
        lastHeardUs = nowUs
    }

    /// Whether the live link is dead though no close came: nothing heard for `deadAfterUs` while a sample written on
    /// it has waited that long for its ack (only once the hub has acked something: one without a record never does). The caller drops the socket and reports `linkLost`.
    public func linkLooksDead(nowUs: Int64) -> Bool {
        guard isLive, hasHadAck, nowUs - lastHeardUs > policy.deadAfterUs else { return false }
        return buffer.contains { entry in
            entry.link == link && entry.sentUs.map { nowUs - $0 > policy.deadAfterUs } == true
        }
    }

    /// The link died at `nowUs`; returns when to reconnect, µs. `unit` is a uniform random number in 0..<1.
    public mutating func linkLost(nowUs: Int64, unit: Double) -> Int64 {
        if isLive { counters.linksLost += 1 }
        isLive = false
        let delay = backoffUs(attempt: attempts, unit: unit)
        attempts += 1
        return nowUs + delay
    }

    /// Whether an upload should start now: the link is up, none is out, no failure is being waited out, and the
    /// samples not in flight on the live link hold one older than the budget or more than `uploadAbove`.
    public func uploadIsDue(nowUs: Int64) -> Bool {
        guard isLive, !isUploading, nowUs >= uploadRetryAtUs else { return false }
        var waiting = 0
        for entry in buffer where isUploadCandidate(entry, nowUs: nowUs) {
            if nowUs - entry.capturedUs > policy.budgetUs { return true }
            waiting += 1
            if waiting > policy.uploadAbove { return true }
        }
        return false
    }

    /// The next upload request's samples, oldest first (at most `chunkLimit`), when one is due; they are marked as
    /// uploading (not resent live) until `uploadAnswered` or `uploadFailed`.
    public mutating func nextUpload(nowUs: Int64) -> [Sample]? {
        guard uploadIsDue(nowUs: nowUs) else { return nil }
        var chunk: [Sample] = []
        for i in buffer.indices where isUploadCandidate(buffer[i], nowUs: nowUs) {
            buffer[i].uploading = true
            chunk.append(buffer[i].sample)
            if chunk.count == policy.chunkLimit { break }
        }
        isUploading = true
        counters.uploadRequests += 1
        return chunk
    }

    /// The upload answered 200 (everything in it is in the record): drops it from the buffer.
    public mutating func uploadAnswered(accepted: Int, duplicates: Int) {
        buffer.removeAll(where: \.uploading)
        counters.uploadedAccepted += accepted
        counters.uploadedDuplicates += duplicates
        isUploading = false
        uploadFailuresInRow = 0
        uploadRetryAtUs = .min
    }

    /// The upload failed (no answer, or not 200): its samples stay, and the next try waits a backoff.
    public mutating func uploadFailed(nowUs: Int64, unit: Double) {
        for i in buffer.indices { buffer[i].uploading = false }
        isUploading = false
        counters.uploadFailures += 1
        uploadRetryAtUs = nowUs + backoffUs(attempt: uploadFailuresInRow, unit: unit)
        uploadFailuresInRow += 1
    }

    /// Samples still buffered (not yet covered by an ack or an upload).
    public var pending: Int { buffer.count }

    /// Equal jitter: half of `base × 2^attempt` (at most the cap) plus a random share of the other half.
    public func backoffUs(attempt: Int, unit: Double) -> Int64 {
        let ceiling = min(policy.backoffBaseUs << Int64(min(attempt, 20)), policy.backoffCapUs)
        return ceiling / 2 + Int64(Double(ceiling / 2) * min(max(unit, 0), 1))
    }

    /// Serial-number order (RFC 1982): whether `a` comes after `b`.
    public static func isAfter(_ a: UInt32, _ b: UInt32) -> Bool {
        Int32(bitPattern: a &- b) > 0
    }

    private func isUploadCandidate(_ entry: Entry, nowUs: Int64) -> Bool {
        guard !entry.uploading else { return false }
        guard entry.link == link, let sentUs = entry.sentUs else { return true }
        return nowUs - sentUs > policy.ackTimeoutUs
    }

    /// The buffer is in capture order, which is seq order; the search starts from the newest (the usual case).
    private func index(of seq: UInt32) -> Int? {
        buffer.lastIndex { $0.sample.seq == seq }
    }
}
