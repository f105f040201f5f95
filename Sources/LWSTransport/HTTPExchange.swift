/// One HTTP request in progress: read, with the delegate, or being answered. Touched only on the service thread.
///
/// Ownership (the invariants `LWSServer+HTTP.swift` keeps):
/// - The server's `exchanges` table owns the exchange; lws holds only its integer id, in the connection's opaque
///   pointer (`lws_set_opaque_user_data`), so no object lifetime is tied to a C pointer. Ids come from the
///   server's one counter and are never reused, so a stale id finds nothing rather than another request.
/// - `wsi` is valid while the exchange is in the table: it is removed when its answer is complete (`finish`), and
///   when lws reports the connection closed (`LWS_CALLBACK_CLOSED_HTTP`, which lws sends for every HTTP
///   connection that got as far as a request, whatever closes it: the client, a timeout, a failed write, the
///   context's destruction). Nothing else stores the `wsi`.
/// - So a deferred answer that comes after the client left finds no exchange and is dropped, and a stream's
///   producer, owned only by the exchange, is released with it.
final class HTTPExchange {
    enum State {
        /// lws is reading the body (its Content-Length) before the delegate sees the request.
        case receivingBody
        /// Refused before its body was read (413, 411): what still comes is read and dropped, up to
        /// `discardBudget` bytes, then the connection closes. Closing with unread input would make the kernel
        /// answer with a reset, which can destroy the refusal before the client reads it.
        case discarding
        /// With the delegate, or answered `.deferred` and waiting for `respond`.
        case deferred
        /// `respond` gave the answer; it is written when the socket can take it.
        case ready(HTTPReply)
        /// The head is out; `producer` is called on each WRITEABLE while not paused.
        case streaming(any HTTPBodyProducer, paused: Bool)
    }

    let id: UInt64
    /// The lws connection; see the type's invariants for its validity.
    let wsi: OpaquePointer
    let head: HTTPRequestHead
    var body: [UInt8] = []
    var state: State = .receivingBody
    /// The answer says `connection: close` and the connection closes once it is written (the request's framing
    /// left lws expecting input that will never come, or the request was refused before its body).
    var closeAfterResponse = false
    /// The refusal is out and the socket's write side is shut (`.discarding` on HTTP/1).
    var writeSideShut = false
    /// Bytes that may still be read and dropped (`.discarding`, and stray input after a body-less POST).
    var discardBudget: Int
    /// A streamed body goes out in HTTP/1.1 chunks; false on HTTP/2 (DATA frames) and HTTP/1.0 (close ends it).
    let chunkedFraming: Bool

    init(id: UInt64, wsi: OpaquePointer, head: HTTPRequestHead, discardBudget: Int, chunkedFraming: Bool) {
        self.id = id
        self.wsi = wsi
        self.head = head
        self.discardBudget = discardBudget
        self.chunkedFraming = chunkedFraming
    }

    /// Whether the delegate has seen the request and not yet had its answer written: it is told if the client
    /// leaves now.
    var delegateWaits: Bool {
        switch state {
        case .deferred, .ready, .streaming: true
        case .receivingBody, .discarding: false
        }
    }
}
