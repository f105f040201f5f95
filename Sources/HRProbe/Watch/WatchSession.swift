import Foundation
import HRProtocol
import LWSTransport
import Logging

/// One `hrprobe watch` run: a viewer connection on an `LWSClient` serviced on the calling thread, a board fed by
/// the hub's messages, and a once-a-second tick that pings the hub and prints the table.
///
/// Threading: everything, `run()` included, happens on one thread (the client's service thread is the thread
/// that calls `run()`), so the state needs no locks.
final class WatchSession: LWSClientDelegate {
    /// How a run ended.
    enum Outcome: Equatable {
        /// `--once` printed its table.
        case finished
        /// The handshake failed or timed out.
        case cannotConnect(String)
        /// The hub closed the connection (or it broke) after it was open.
        case lost(code: UInt16?, reason: String)
    }

    /// What the run needs to know.
    struct Settings {
        /// Where to connect.
        var target: WatchTarget
        /// Offer `hrhub.v1.bin` instead of `hrhub.v1.json`.
        var binary: Bool
        /// Print one table after `onceAfterMs`, then stop.
        var once: Bool
        /// ANSI colours and in-place redraw (stdout is a TTY).
        var terminal: Bool
        /// How long `--once` collects before printing.
        var onceAfterMs: Int64 = 2_000
        /// How long the handshake may take.
        var connectTimeoutMs: Int64 = 5_000
        /// Accept a TLS certificate that does not verify (`--insecure`).
        var insecure = false
    }

    private let settings: Settings
    private let logger: Logger
    private let client: LWSClient
    private var board: ClassBoard
    private let renderer: BoardRenderer
    private var connection: ConnectionID?
    private var connected = false
    private var outbox: [[UInt8]] = []
    private var startedAt: Int64 = 0
    private var nextPingID: Int64 = 1
    private(set) var outcome: Outcome?

    /// Prepares a run; nothing connects until `run()`.
    init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        self.client = LWSClient(logger: logger)
        self.board = ClassBoard(classID: settings.target.classID)
        self.renderer = BoardRenderer(color: settings.terminal)
    }

    /// Connects and services the connection until `--once` is done or the connection ends; returns how it ended.
    func run() throws -> Outcome {
        try client.start()
        client.delegate = self
        startedAt = Self.nowMs()
        let subprotocol = settings.binary ? WireFormat.binary : WireFormat.json
        logger.debug("connecting", metadata: ["url": "\(settings.target.url.description)"])
        connection = client.connect(
            settings.target.url, subprotocols: [subprotocol.rawValue], insecure: settings.insecure)
        client.scheduleTick(inMicroseconds: 1_000_000)
        client.run()
        return outcome ?? .lost(code: nil, reason: "the client stopped")
    }

    /// Records the outcome and stops the loop; a finished run first closes politely (1000), and the loop stops
    /// when the close completes or half a second later, whichever comes first.
    private func finish(_ outcome: Outcome) {
        guard self.outcome == nil else { return }
        self.outcome = outcome
        if case .finished = outcome, let connection, connected {
            client.close(connection, code: 1000, reason: "bye", flushFirst: true)
            client.scheduleTick(inMicroseconds: 500_000)
        } else {
            client.stop()
        }
    }

    private func send(_ message: ClientMessage) {
        guard let connection, connected else { return }
        outbox.append(ClientFrameEncoder.json(message))
        client.requestWrite(connection)
    }

    private func ping() {
        send(.ping(id: .number(nextPingID), ct: Self.nowMs()))
        nextPingID += 1
    }

    private func printTable(now: Int64) {
        var text = renderer.render(&board, now: now)
        if settings.terminal && !settings.once {
            text = "\u{1B}[H\u{1B}[2J" + text  // home and clear: redraw in place
        } else if !settings.once {
            text += "\n"  // a blank line between tables in a log
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func nowMs() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    // MARK: - LWSClientDelegate (service thread)

    func clientConnected(_ id: ConnectionID, subprotocol: String?) {
        connected = true
        logger.debug("connected", metadata: ["subprotocol": "\(subprotocol ?? "none")"])
        ping()
    }

    func clientReceived(_ id: ConnectionID, message: UnsafeRawBufferPointer, kind: FrameKind) {
        let now = Self.nowMs()
        do {
            switch kind {
            case .text:
                for hubMessage in try HubFrameDecoder.decodeJSON(message) {
                    if case .error(let error) = hubMessage {
                        logger.warning(
                            "hub error", metadata: ["code": "\(error.code.rawValue)", "msg": "\(error.message)"])
                    }
                    board.apply(hubMessage, now: now)
                }
            case .binary:
                for sample in try HubFrameDecoder.decodeBinary(message) {
                    board.apply(sample, now: now)
                }
            }
        } catch {
            logger.warning("undecodable frame from the hub", metadata: ["error": "\(error.message)"])
        }
    }

    func clientNextFrame(_ id: ConnectionID, into frame: inout [UInt8]) -> FrameKind? {
        guard !outbox.isEmpty else { return nil }
        frame.append(contentsOf: outbox.removeFirst())
        return .text
    }

    func clientClosed(_ id: ConnectionID, code: UInt16?, reason: String) {
        if outcome != nil {
            client.stop()
        } else if connected {
            finish(.lost(code: code, reason: reason))
        } else {
            finish(.cannotConnect(reason))
        }
    }

    func clientTick() {
        if outcome != nil {
            client.stop()  // the close handshake of a finished run did not complete in time
            return
        }
        let now = Self.nowMs()
        guard connected else {
            if now - startedAt >= settings.connectTimeoutMs {
                finish(.cannotConnect("no answer within \(settings.connectTimeoutMs / 1000) s"))
            } else {
                client.scheduleTick(inMicroseconds: 1_000_000)
            }
            return
        }
        var nextTickMs: Int64 = 1_000
        if settings.once {
            let remaining = settings.onceAfterMs - (now - startedAt)
            if remaining <= 0 {
                printTable(now: now)
                finish(.finished)
                return
            }
            nextTickMs = min(nextTickMs, remaining)
        } else {
            printTable(now: now)
        }
        ping()
        client.scheduleTick(inMicroseconds: nextTickMs * 1_000)
    }
}
