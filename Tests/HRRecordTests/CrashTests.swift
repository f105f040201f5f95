import Foundation
import HRProtocol
import Testing
@testable import HRRecord

/// kill -9 during a steady stream of appends: every sample acked before the kill is in the record, once.
@Suite(.timeLimit(.minutes(2)))
struct CrashTests {
    @Test(arguments: ["normal", "full"])
    func everyAckedSampleSurvivesSIGKILLExactlyOnce(sync: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let process = Process()
        process.executableURL = try Self.crashWriter()
        process.arguments = [directory.path, "200000", "10", sync]
        let output = Pipe()
        process.standardOutput = output
        try process.run()

        // Read acks (one line per committed append: its last seq) until 2,000 have come (20,000 of the 200,000
        // samples), then kill.
        var text = Data()
        let reader = output.fileHandleForReading
        while Self.lines(text).count < 2_000 {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            text += chunk
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        text += reader.readDataToEndOfFile()  // acks printed before it died count too
        #expect(process.terminationReason == .uncaughtSignal)
        let acked = Self.lines(text).compactMap { UInt32($0) }
        #expect(acked.count >= 2_000)
        #expect(acked == acked.sorted())  // acks came in append order

        let store = try SQLiteRecordStore(dataDirectory: directory.path)
        defer { store.close(timeoutMs: 1_000) }
        let recorded = try store.readAll("crash", participant: "p1", chunk: 10_000).map(\.sample.seq)
        let highestAcked = acked.last ?? 0
        // Committed in order, each once: the record is 1...n, and n covers every ack.
        #expect(recorded == Array(1...UInt32(recorded.count)))
        #expect(UInt32(recorded.count) >= highestAcked)
        // The device's resends of what was acked are duplicates.
        let resent = (1...highestAcked).map {
            RecordedSample(
                classID: "crash", participant: "p1", sample: Sample(seq: $0, ts: Int64($0), bpm: 120), rts: 1)
        }
        #expect(await store.appended(resent) == .success(Array(repeating: false, count: resent.count)))
    }

    /// Complete lines only: a line cut by the kill is not an ack.
    static func lines(_ data: Data) -> [Substring] {
        let text = String(decoding: data, as: UTF8.self)
        guard let end = text.lastIndex(of: "\n") else { return [] }
        return text[..<end].split(separator: "\n")
    }

    /// The RecordCrashWriter binary `swift build` puts next to the test bundle (walking up from the running test
    /// executable), or the one `RECORD_CRASH_WRITER` names.
    static func crashWriter() throws -> URL {
        let files = FileManager.default
        if let path = ProcessInfo.processInfo.environment["RECORD_CRASH_WRITER"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let exe = (try? files.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("RecordCrashWriter")
            if files.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        throw CocoaError(.fileNoSuchFile, userInfo: [
            NSDebugDescriptionErrorKey: "RecordCrashWriter not found near \(exe): build it with `swift build`"
        ])
    }
}
