import Foundation
import Testing

/// nats-server with JetStream (`-js -sd DIR`) on a loopback port of its own: the first start takes a free port
/// (`-p -1`, read from its log), restarts keep that port and the storage directory. Stopped by pid.
final class JetStreamServer {
    let storeDirectory: String
    private(set) var port = -1
    private var process: Process?

    init() throws {
        storeDirectory = (NSTemporaryDirectory() as NSString).appendingPathComponent("hrhub-js-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: storeDirectory, withIntermediateDirectories: true)
        try start()
    }

    var url: String { "nats://127.0.0.1:\(port)" }

    /// Starts the server (again) and returns once its log says it is ready.
    func start() throws {
        let path = ["/usr/bin/nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        let binary = try #require(path, "nats-server is not installed (scripts/setup installs it)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-a", "127.0.0.1", "-p", port < 0 ? "-1" : "\(port)", "-js", "-sd", storeDirectory]
        let log = Pipe()
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        var text = ""
        while !text.contains("Server is ready") {
            let chunk = log.fileHandleForReading.availableData
            if chunk.isEmpty { break }  // the server exited
            text += String(decoding: chunk, as: UTF8.self)
        }
        let marker = "Listening for client connections on 127.0.0.1:"
        let line = try #require(text.split(separator: "\n").first { $0.contains(marker) }, "no port in: \(text)")
        port = Int(line.components(separatedBy: marker)[1].trimmingCharacters(in: .whitespaces)) ?? -1
        // Keep draining the log so the server never blocks on a full pipe.
        log.fileHandleForReading.readabilityHandler = { handle in _ = handle.availableData }
    }

    /// Stops the server (SIGTERM, then waits for it to exit).
    func stop() {
        guard let process else { return }
        process.terminate()
        process.waitUntilExit()
        (process.standardError as? Pipe)?.fileHandleForReading.readabilityHandler = nil
        self.process = nil
    }

    /// Stops it and removes its storage.
    func remove() {
        stop()
        try? FileManager.default.removeItem(atPath: storeDirectory)
    }
}

/// Polls `condition` (every 20 ms) until it holds or `seconds` pass; true when it held. For states a test cannot
/// be called back on (a reconnect, a flush finishing); the budget is generous, never an expected duration.
func eventually(within seconds: Double = 60, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}
