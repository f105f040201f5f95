import CLibWebSockets
import HRProtocol

/// Per-connection transport state shared by the server and the client. Touched only on the service thread.
final class Connection {
    /// The lws connection. Valid from ESTABLISHED until CLOSED, which is exactly this object's time in the
    /// owner's table: the owner removes it in the CLOSED callback, so a stored `wsi` never dangles.
    let wsi: OpaquePointer
    /// Reassembly buffer for a message that arrives in several fragments.
    var partial: [UInt8] = []
    /// A close requested by the application: code, reason, and whether to flush pending frames first.
    var pendingClose: (code: UInt16, reason: String, flushFirst: Bool)?
    /// Set when the close was handed to lws (close reason set, -1 returned to it). lws then writes the close frame
    /// (state WAITING_TO_SEND_CLOSE) and waits for the peer's (AWAITING_CLOSE_ACK), reading and discarding what
    /// the peer still sends. lws still calls WRITEABLE in that state (the POLLOUT that wrote the close frame stays
    /// armed), and a second -1 there would make lws drop the socket at once: closed with unread input, the kernel
    /// answers with a reset, and the peer loses the close frame and the errors before it. So after the handover,
    /// WRITEABLE never returns -1 and writes nothing.
    private(set) var closeHandedOver = false
    /// Set when a message went over the limit (`reassemble`): the rest of the input is dropped until the 1009 close.
    private(set) var refused = false
    /// Whether the server already lingered on this connection (see `LWSServer.linger`).
    var lingering = false
    /// In the server's list of connections to arm for WRITEABLE at the end of the loop pass.
    var dirty = false
    /// Set in the CLOSED callback, after which lws frees `wsi`: the object may still sit in that list, and the
    /// flush skips it, so `wsi` is never used once it is closed.
    var closed = false
    /// The close code the peer sent, when it closed first.
    var peerCloseCode: UInt16?
    var peerCloseReason: String = ""

    init(wsi: OpaquePointer) { self.wsi = wsi }

    private static let pre = Int(clws_pre())

    /// Feeds one RECEIVE chunk. Calls `deliver` with each whole message. A message larger than `limit` is refused
    /// at its first chunk that shows it (lws says how much of the frame is still to come): its bytes so far are
    /// dropped, the connection's pending close becomes 1009, a WRITEABLE is asked for (within 5 s, or lws drops
    /// the connection), and every later chunk is dropped too. The caller returns 0 to lws either way.
    ///
    /// Why not -1 from RECEIVE, which makes lws close at once: lws 4.1 reads the socket in pieces of the receive
    /// buffer and parses each with its frame parser, calling RECEIVE in the middle; a -1 there drops the rest of
    /// the piece unparsed, so the parser's count of the frame's remaining payload no longer matches the stream.
    /// The close frame only goes out at the next POLLOUT; if the peer's remaining bytes (the rest of its message)
    /// are read first, lws parses them out of step: a frame header counted as text payload fails UTF-8 validation,
    /// and lws, already closing, gives up the close handshake and shuts the socket without the close frame (the
    /// peer sees end of stream and no 1009). With a receive buffer smaller than a message, the refusal comes while
    /// the peer is still sending, so this happened (bench/RESULTS.md, "Memory per connection"). Returning 0 keeps
    /// the parser in step with the stream, and the close is handed over from WRITEABLE like every other close.
    func reassemble(
        input: UnsafeMutableRawPointer?, length: Int, limit: Int,
        deliver: (UnsafeRawBufferPointer, FrameKind) -> Void
    ) {
        if refused { return }
        let kind: FrameKind = lws_frame_is_binary(wsi) != 0 ? .binary : .text
        let chunk = UnsafeRawBufferPointer(start: input, count: length)
        let remaining = Int(lws_remaining_packet_payload(wsi))
        let final = lws_is_final_fragment(wsi) != 0 && remaining == 0
        if partial.count + length + remaining > limit {
            partial = []
            refused = true
            pendingClose = (1009, "frame too large: limit is \(limit) bytes", false)
            lws_callback_on_writable(wsi)
            // The bound lws itself puts on sending a close frame: a peer whose socket never becomes writable (it
            // does not read) is dropped after 5 s, as it was when the refusal returned -1.
            lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, 5)
            return
        }
        if final && partial.isEmpty {
            deliver(chunk, kind)  // the common case: one chunk, no copy
            return
        }
        partial.append(contentsOf: chunk)
        if final {
            let message = partial
            partial = []
            message.withUnsafeBytes { deliver($0, kind) }
        }
    }

    /// Handles a WRITEABLE callback: a pending close, or one frame produced by `produce` (which appends a
    /// payload after the headroom already in `buffer` and says its kind and whether more is pending).
    /// Returns what the lws callback must return.
    func writeNextFrame(buffer: inout [UInt8], produce: (inout [UInt8]) -> (kind: FrameKind, more: Bool)?) -> Int32 {
        if closeHandedOver { return 0 }
        if let close = pendingClose, !close.flushFirst {
            handOverClose(code: close.code, reason: close.reason)
            return -1
        }
        let pre = Self.pre
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: repeatElement(0, count: pre))
        guard let (kind, more) = produce(&buffer), buffer.count > pre else {
            if let close = pendingClose {
                handOverClose(code: close.code, reason: close.reason)
                return -1
            }
            return 0
        }
        let payloadLength = buffer.count - pre
        let written = buffer.withUnsafeMutableBytes { raw in
            lws_write(
                wsi, raw.baseAddress!.advanced(by: pre).assumingMemoryBound(to: UInt8.self), payloadLength,
                kind == .text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY)
        }
        if written < 0 { return -1 }
        // Only when there is more to say: an empty WRITEABLE round trip per frame would cost a loop iteration.
        if more || pendingClose != nil { lws_callback_on_writable(wsi) }
        return 0
    }

    /// Handles a server WRITEABLE callback: a pending close, or one frame from `produce`, written with one
    /// `lws_write`. Returns what the lws callback must return.
    ///
    /// In place, without a copy, when the frame's buffer has lws's headroom (LWS_PRE) before the payload. What
    /// makes that safe, and the buffer shareable by every connection it goes to:
    /// - lws_write writes the WebSocket header into the headroom just before `buf` and nothing else of the buffer:
    ///   a server's frames are not masked, and no extension (permessage-deflate) is offered, so the payload is
    ///   only read. Each write rewrites the header, so whatever another connection's write left there is harmless.
    /// - lws_write is done with the buffer when it returns: it sends at once and copies what the kernel did not
    ///   take into its own per-connection buffer (and TLS encrypts into its own), so the buffer may be written to
    ///   another connection, or reused by the relay, right after.
    /// - `withUnsafeMutableBytes` on the `FrameBuffer`'s stored array reaches its storage in place (no copy on
    ///   write): nothing else holds that array (the relay keeps the `FrameBuffer`, not copies of `bytes`); were it
    ///   shared, Swift would copy it first, which costs but stays correct.
    /// - The pointer handed to lws is `headroom` bytes into the storage, `payloadCount` bytes long, and lws writes at
    ///   most LWS_PRE bytes before it, all within the headroom (checked: `headroom >= pre`).
    /// A buffer without that headroom is copied behind LWS_PRE bytes in `scratch` first.
    func write(scratch: inout [UInt8], produce: () -> OutgoingFrame?) -> Int32 {
        if closeHandedOver { return 0 }
        if let close = pendingClose, !close.flushFirst {
            handOverClose(code: close.code, reason: close.reason)
            return -1
        }
        guard let frame = produce(), frame.buffer.payloadCount > 0 else {
            if let close = pendingClose {
                handOverClose(code: close.code, reason: close.reason)
                return -1
            }
            return 0
        }
        let protocolKind = frame.kind == .text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY
        let buffer = frame.buffer
        let length = buffer.payloadCount
        let written: Int32
        if buffer.headroom >= Self.pre {
            let offset = buffer.headroom
            written = buffer.bytes.withUnsafeMutableBytes { raw in
                let payload = raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self)
                return lws_write(wsi, payload, length, protocolKind)
            }
        } else {
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: repeatElement(0, count: Self.pre))
            scratch.append(contentsOf: buffer.bytes[buffer.headroom...])
            written = scratch.withUnsafeMutableBytes { raw in
                let payload = raw.baseAddress!.advanced(by: Self.pre).assumingMemoryBound(to: UInt8.self)
                return lws_write(wsi, payload, length, protocolKind)
            }
        }
        if written < 0 { return -1 }
        // Only when there is more to say: an empty WRITEABLE round trip per frame would cost a loop iteration.
        if frame.more || pendingClose != nil { lws_callback_on_writable(wsi) }
        return 0
    }

    /// Sets the close frame's code and reason and marks the close handed over; the caller then returns -1 so lws
    /// sends the frame and closes.
    private func handOverClose(code: UInt16, reason: String) {
        setCloseReason(code: code, reason: reason)
        closeHandedOver = true
    }

    /// Sets the close frame's code and reason.
    private func setCloseReason(code: UInt16, reason: String) {
        var bytes = Array(reason.utf8.prefix(120))
        bytes.withUnsafeMutableBufferPointer { buffer in
            lws_close_reason(wsi, lws_close_status(rawValue: UInt32(code)), buffer.baseAddress, buffer.count)
        }
    }

    /// Records the code and reason of a close frame from the peer (`in` of WS_PEER_INITIATED_CLOSE).
    func notePeerClose(input: UnsafeMutableRawPointer?, length: Int) {
        guard let input, length >= 2 else { return }
        let bytes = UnsafeRawBufferPointer(start: input, count: length)
        peerCloseCode = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        peerCloseReason = String(decoding: bytes.dropFirst(2), as: UTF8.self)
    }
}

extension ConnectionID {
    /// The id stored in a connection's lws opaque pointer (as a plain integer, see `ConnectionID`), or nil
    /// for a connection that has none yet.
    init?(of wsi: OpaquePointer) {
        guard let raw = lws_get_opaque_user_data(wsi) else { return nil }
        self.init(UInt64(UInt(bitPattern: raw)))
    }
}
