import Foundation
import Synchronization
import Testing

/// Errors of the end-to-end harness (process control and the blocking client).
enum HarnessError: Error, CustomStringConvertible {
    /// An executable could not be found; the text says where the harness looked.
    case executableNotFound(String)
    /// The hub did not print its first line in time, or exited first.
    case hubDidNotStart(String)
    /// The hub did not exit in time after SIGTERM (it was then killed).
    case hubDidNotStop(String)

    var description: String {
        switch self {
        case .executableNotFound(let text): "executable not found: \(text)"
        case .hubDidNotStart(let text): "hrhub did not start: \(text)"
        case .hubDidNotStop(let text): "hrhub did not stop: \(text)"
        }
    }
}

/// Finds the executables the package builds (`hrhub`, `hrprobe`) for the end-to-end tests.
///
/// Order:
/// 1. An environment variable naming the file (`HRHUB_BIN`, `HRPROBE_BIN`), for running the tests against a binary
///    built elsewhere (a release build, an installed package).
/// 2. The build products directory of the running test bundle: `swift test` builds every product of the package
///    into the same directory as `HRHubPackageTests.xctest` (on Linux the bundle is itself the executable in that
///    directory; on macOS the executable sits three levels inside the `.xctest` bundle), so the harness walks up
///    from the running executable and takes the first directory holding the product. This follows whatever
///    `--scratch-path` and configuration (`debug`, `release`) the tests were built with.
/// 3. `.build/debug/` under the package root (found from this file's `#filePath`), a last resort for runners that
///    execute the tests from somewhere else.
enum Executables {
    /// The `hrhub` binary.
    static func hub() throws -> URL { try locate("hrhub", environment: "HRHUB_BIN") }

    /// The `hrprobe` binary.
    static func probe() throws -> URL { try locate("hrprobe", environment: "HRPROBE_BIN") }

    static func locate(_ name: String, environment variable: String, filePath: String = #filePath) throws -> URL {
        let files = FileManager.default
        if let path = ProcessInfo.processInfo.environment[variable], !path.isEmpty {
            guard files.isExecutableFile(atPath: path) else {
                throw HarnessError.executableNotFound("\(variable)=\(path) is not an executable file")
            }
            return URL(fileURLWithPath: path)
        }
        var searched: [String] = []
        for start in runningExecutables() {
            var directory = start.deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent(name)
                searched.append(candidate.path)
                if files.isExecutableFile(atPath: candidate.path) { return candidate }
                directory.deleteLastPathComponent()
            }
        }
        let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let fallback = root.appendingPathComponent(".build/debug/\(name)")
        searched.append(fallback.path)
        if files.isExecutableFile(atPath: fallback.path) { return fallback }
        throw HarnessError.executableNotFound(
            "\(name) (set \(variable), or build it with `swift build`); looked in: \(searched.joined(separator: ", "))")
    }

    /// The running test executable, by every name the platform offers (symlinks resolved).
    private static func runningExecutables() -> [URL] {
        var urls: [URL] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            urls.append(URL(fileURLWithPath: exe))
        }
        if let url = Bundle.main.executableURL { urls.append(url.resolvingSymlinksInPath()) }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            urls.append(bundle.bundleURL.appendingPathComponent("x"))
        }
        if let first = CommandLine.arguments.first {
            urls.append(URL(fileURLWithPath: first).resolvingSymlinksInPath())
        }
        return urls
    }
}

/// A growing byte log filled from a pipe on a background queue; keeps at most `limit` bytes (the newest).
final class PipeLog: Sendable {
    private let state = Mutex<(bytes: [UInt8], ended: Bool)>(([], false))
    /// Signalled after every chunk and at end of file; waiters re-check the state.
    private let changed = DispatchSemaphore(value: 0)
    private let limit: Int

    init(limit: Int = 256 << 10) { self.limit = limit }

    /// Starts draining `pipe`; the pipe must be drained or a chatty child blocks on a full pipe.
    ///
    /// A plain thread doing blocking reads until end of file, not `readabilityHandler`: that one is a dispatch
    /// source on the descriptor, and a `Pipe` released (its descriptor closed) before the source's cancellation
    /// completed left libdispatch's epoll watching a closed, then reused, descriptor. The test process crashed
    /// in `_dispatch_event_loop_drain` about once in eight full runs. The thread holds the pipe, so its descriptor
    /// stays open until the reads are done.
    func drain(_ pipe: Pipe) {
        let thread = Thread { [self] in
            let handle = pipe.fileHandleForReading
            while true {
                let data = handle.availableData
                state.withLock { state in
                    if data.isEmpty {
                        state.ended = true
                    } else {
                        state.bytes.append(contentsOf: data)
                        if state.bytes.count > limit { state.bytes.removeFirst(state.bytes.count - limit) }
                    }
                }
                changed.signal()
                if data.isEmpty { break }
            }
        }
        thread.name = "test.pipe-log"
        thread.start()
    }

    /// Everything kept so far, as text.
    var text: String { state.withLock { String(decoding: $0.bytes, as: UTF8.self) } }

    /// Waits for the first complete line; nil on timeout, or at end of file without one.
    func firstLine(timeout: Duration) -> String? {
        let deadline = DispatchTime.now() + timeout.dispatchInterval
        while true {
            let (line, ended) = state.withLock { state in
                (
                    state.bytes.firstIndex(of: 0x0A).map { String(decoding: state.bytes[..<$0], as: UTF8.self) },
                    state.ended
                )
            }
            if let line { return line }
            if ended || changed.wait(timeout: deadline) == .timedOut { return nil }
        }
    }

    /// Waits for end of file (the writer exited and the last bytes were read); false on timeout.
    @discardableResult
    func waitForEnd(timeout: Duration) -> Bool {
        let deadline = DispatchTime.now() + timeout.dispatchInterval
        while !state.withLock({ $0.ended }) {
            if changed.wait(timeout: deadline) == .timedOut { return state.withLock { $0.ended } }
        }
        return true
    }
}

/// A running `hrhub`, started on an ephemeral port.
///
/// The hub prints `hrhub listening on ws://HOST:PORT` as its first stdout line; `start` waits for it (with a
/// timeout) to learn the port. `stop` sends SIGTERM and expects exit status 0 within a few seconds (the hub
/// promises 2 s). Standard output and error are captured and drained continuously so a chatty hub never blocks;
/// both are attached to failure messages.
final class HubProcess: Sendable {
    /// The port the hub bound.
    let port: Int
    /// `ws://127.0.0.1:PORT`, no path.
    let baseURL: String
    private let process: Process
    private let exited = DispatchSemaphore(value: 0)
    private let stdoutLog = PipeLog()
    private let stderrLog = PipeLog()
    private let stopped = Mutex(false)
    /// The hub's own `--data-dir` (the class record), removed with the process.
    private let dataDirectory: URL

    /// Starts `hrhub --host 127.0.0.1 --port 0 --max-message-bytes 4096 --log-level warning` plus `extraArguments`.
    init(extraArguments: [String] = [], startTimeout: Duration = .seconds(20)) throws {
        let process = Process()
        process.executableURL = try Executables.hub()
        dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("hrhub-e2e-\(UUID().uuidString)")
        process.arguments =
            [
                "--host", "127.0.0.1", "--port", "0", "--max-message-bytes", "4096", "--log-level", "warning",
                "--data-dir", dataDirectory.path,
            ]
            + extraArguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        stdoutLog.drain(out)
        stderrLog.drain(err)
        self.process = process
        try process.run()

        guard let line = stdoutLog.firstLine(timeout: startTimeout) else {
            process.forceStop()
            throw HarnessError.hubDidNotStart(
                "no first line within \(startTimeout); stderr: \(stderrLog.text.suffix(2000))")
        }
        let prefix = "hrhub listening on ws://"
        guard line.hasPrefix(prefix), let colon = line.lastIndex(of: ":"),
            let port = Int(line[line.index(after: colon)...]), port > 0
        else {
            process.forceStop()
            throw HarnessError.hubDidNotStart("unexpected first line \(line.debugDescription)")
        }
        self.port = port
        self.baseURL = "ws://127.0.0.1:\(port)"
    }

    deinit {
        // A test that threw before `stop()` must not leave a hub behind.
        if !stopped.withLock({ $0 }) { process.forceStop() }
        try? FileManager.default.removeItem(at: dataDirectory)
    }

    /// Whether the process is still running.
    var isRunning: Bool { process.isRunning }

    /// What the hub wrote to stderr so far (the newest 256 KiB).
    var stderr: String { stderrLog.text }

    /// Sends SIGTERM and waits for the exit; returns the exit status. Kills the hub and throws if it does not
    /// exit within `timeout`.
    @discardableResult
    func stop(timeout: Duration = .seconds(10)) throws -> Int32 {
        stopped.withLock { $0 = true }
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        guard exited.wait(timeout: .now() + timeout.dispatchInterval) == .success else {
            process.forceStop()
            throw HarnessError.hubDidNotStop("still running \(timeout) after SIGTERM; killed")
        }
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }

    /// Starts a hub, runs `body`, then stops the hub with SIGTERM and records an issue unless it exited with
    /// status 0. The hub is stopped even when `body` throws.
    static func with<T>(
        _ extraArguments: [String] = [], sourceLocation: SourceLocation = #_sourceLocation,
        _ body: (HubProcess) throws -> T
    ) throws -> T {
        let hub = try HubProcess(extraArguments: extraArguments)
        let result: T
        do {
            result = try body(hub)
        } catch {
            _ = try? hub.stop()
            throw error
        }
        let status = try hub.stop()
        #expect(
            status == 0, "hrhub exit status after SIGTERM; stderr: \(hub.stderr.suffix(2000))",
            sourceLocation: sourceLocation)
        return result
    }
}

extension Process {
    /// SIGKILL, then reap; for cleanup paths only.
    fileprivate func forceStop() {
        guard isRunning else { return }
        kill(processIdentifier, SIGKILL)
        waitUntilExit()
    }
}

extension Duration {
    /// The same span for Dispatch.
    var dispatchInterval: DispatchTimeInterval {
        let (seconds, attoseconds) = components
        return .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
    }
}
