import CLibWebSockets
import Logging

/// Routes libwebsockets' own log lines into swift-log.
enum LWSLog {
    /// Set once, before any context exists; read by the C log callback on the service thread.
    nonisolated(unsafe) static var logger = Logger(label: "lws")

    /// Installs the bridge. `verbose` also forwards lws notices (noisy: one per connection).
    static func install(logger: Logger, verbose: Bool) {
        Self.logger = logger
        var levels = LLL_ERR | LLL_WARN
        if verbose { levels |= LLL_NOTICE }
        lws_set_log_level(levels, lwsLogEmit)
    }
}

/// C callback: lws calls it with a level bit and a formatted line (ending in a newline).
private func lwsLogEmit(_ level: Int32, _ line: UnsafePointer<CChar>?) {
    guard let line else { return }
    var text = String(cString: line)
    while text.last == "\n" { text.removeLast() }
    switch level {
    case LLL_ERR: LWSLog.logger.error("\(text)")
    case LLL_WARN: LWSLog.logger.warning("\(text)")
    default: LWSLog.logger.debug("\(text)")
    }
}
