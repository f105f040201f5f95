import Foundation
import LWSTransport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The few plain HTTP requests the probe makes to the hub (the device model's uploads, reading the record), on
/// URLSession's threads, never the service thread.
enum HubHTTP {
    /// What came back: the status and body, or why nothing did.
    struct Answer: Sendable {
        var status: Int?
        var body: Data
        var error: String?
    }

    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 10
        configuration.timeoutIntervalForResource = 120
        return URLSession(configuration: configuration)
    }()

    /// `http(s)://HOST:PORT` + `path` for the hub of `url`.
    static func url(_ hub: WebSocketURL, path: String) -> URL? {
        URL(string: "\(hub.secure ? "https" : "http")://\(hub.host):\(hub.port)\(path)")
    }

    /// POSTs a JSON body; `done` runs on a URLSession thread.
    static func post(_ url: URL, json body: [UInt8], done: @escaping @Sendable (Answer) -> Void) {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body)
        session.dataTask(with: request) { data, response, error in
            done(
                Answer(
                    status: (response as? HTTPURLResponse)?.statusCode, body: data ?? Data(),
                    error: error.map { "\($0.localizedDescription)" }))
        }.resume()
    }

    /// GETs `url`, blocking the calling thread until the answer is complete.
    static func get(_ url: URL) -> Answer {
        let box = AnswerBox()
        let done = DispatchSemaphore(value: 0)
        session.dataTask(with: url) { data, response, error in
            box.answer = Answer(
                status: (response as? HTTPURLResponse)?.statusCode, body: data ?? Data(),
                error: error.map { "\($0.localizedDescription)" })
            done.signal()
        }.resume()
        done.wait()
        return box.answer ?? Answer(status: nil, body: Data(), error: "no answer")
    }

    /// Carries the answer from URLSession's thread to the waiting one (the semaphore orders the two accesses).
    private final class AnswerBox: @unchecked Sendable {
        var answer: Answer?
    }
}
