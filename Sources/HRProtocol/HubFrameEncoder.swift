/// Encodes what the hub sends. A hub text frame is a JSON array of message objects.
///
/// This is the hub's hot path: a relayed sample is encoded once and its bytes are shared by every subscriber,
/// so the writer appends straight into the caller's buffer, with no `Encodable`, no intermediate `String`s and a
/// fixed field order (`t` first, then the fields in the order of PROTOCOL.md). Optional fields that are absent are
/// omitted, never written as `null`, except `last_seq` in a publisher's or participant's `welcome`.
/// The `append…` functions never call `reserveCapacity` on `out` (that would defeat the array's geometric growth
/// when a frame is built from many messages); reserve once per frame if you know its size.
///
/// Shapes (a `?` marks a field that is omitted when absent):
/// - `welcome`: `t, class, role, participant?, mode?, budget_ms, ht, last_seq` (`last_seq` is a number or `null`,
///   and left out entirely for viewers)
/// - `snapshot`: `t, participants: [{p, name?, hrmax?, hrrest?, last?}]`, where `last` is a complete `hr` object
///   (with its own `t` and `p`), byte for byte what an `hr` message for that sample looks like
/// - `join`: `t, p, name?, hrmax?, hrrest?` · `leave`: `t, p, reason`
/// - `hr`: `t, p, seq, ts, rts, bpm, rr?` (omitted when empty)`, contact?, ee?, pct?, zone?`
/// - `stale` / `live`: `t, p, since` · `gap`: `t, p, from_seq, to_seq, count, reason`
/// - `error`: `t, code, msg, seq?, count?, from_seq?, to_seq?` (the last three together) · `pong`: `t, id, ct?, ht`
/// - `board`: `t, at, n, top: [entry], me?, near?` (`near` only with `me`), an entry `{p, rank, points, bpm?, zone?}`
///   with `points` written with exactly one decimal (`12.3`, `0.0`)
public enum HubFrameEncoder {
    /// Appends one message as a JSON object (no surrounding brackets, no comma) to `out`.
    public static func appendJSON(_ message: HubMessage, to out: inout [UInt8]) {
        switch message {
        case .welcome(let welcome):
            appendWelcome(welcome, to: &out)
        case .snapshot(let entries):
            out.appendLiteral(#"{"t":"snapshot","participants":["#)
            for (index, entry) in entries.enumerated() {
                if index > 0 { out.append(0x2C) }
                out.appendLiteral(#"{"p":"#)
                out.appendJSONString(entry.p)
                out.appendProfileFields(entry.profile)
                if let last = entry.last {
                    out.appendLiteral(#","last":"#)
                    appendSample(last, to: &out)
                }
                out.append(0x7D)
            }
            out.appendLiteral("]}")
        case .join(let p, let profile):
            out.appendLiteral(#"{"t":"join","p":"#)
            out.appendJSONString(p)
            out.appendProfileFields(profile)
            out.append(0x7D)
        case .leave(let p, let reason):
            out.appendLiteral(#"{"t":"leave","p":"#)
            out.appendJSONString(p)
            out.appendLiteral(#","reason":"#)
            out.appendJSONString(reason.rawValue)
            out.append(0x7D)
        case .hr(let sample):
            appendSample(sample, to: &out)
        case .stale(let p, let since):
            out.appendLiteral(#"{"t":"stale","p":"#)
            appendPresenceTail(p: p, since: since, to: &out)
        case .live(let p, let since):
            out.appendLiteral(#"{"t":"live","p":"#)
            appendPresenceTail(p: p, since: since, to: &out)
        case .gap(let gap):
            out.appendLiteral(#"{"t":"gap","p":"#)
            out.appendJSONString(gap.p)
            out.appendLiteral(#","from_seq":"#)
            out.appendDecimal(UInt64(gap.fromSeq))
            out.appendLiteral(#","to_seq":"#)
            out.appendDecimal(UInt64(gap.toSeq))
            out.appendLiteral(#","count":"#)
            out.appendDecimal(gap.count)
            out.appendLiteral(#","reason":"#)
            out.appendJSONString(gap.reason.rawValue)
            out.append(0x7D)
        case .error(let error):
            out.appendLiteral(#"{"t":"error","code":"#)
            out.appendJSONString(error.code.rawValue)
            out.appendLiteral(#","msg":"#)
            out.appendJSONString(error.message)
            if let seq = error.seq {
                out.appendLiteral(#","seq":"#)
                out.appendDecimal(UInt64(seq))
            }
            if let run = error.coalesced {
                out.appendLiteral(#","count":"#)
                out.appendDecimal(run.count)
                out.appendLiteral(#","from_seq":"#)
                out.appendDecimal(UInt64(run.fromSeq))
                out.appendLiteral(#","to_seq":"#)
                out.appendDecimal(UInt64(run.toSeq))
            }
            out.append(0x7D)
        case .pong(let id, let ct, let ht):
            out.appendLiteral(#"{"t":"pong","id":"#)
            out.appendPingID(id)
            if let ct {
                out.appendLiteral(#","ct":"#)
                out.appendDecimal(ct)
            }
            out.appendLiteral(#","ht":"#)
            out.appendDecimal(ht)
            out.append(0x7D)
        case .ack(let seq):
            out.appendLiteral(#"{"t":"ack","seq":"#)
            out.appendDecimal(UInt64(seq))
            out.append(0x7D)
        case .board(let board):
            appendBoardPrefix(at: board.at, n: board.n, top: board.top, to: &out)
            appendBoardSuffix(me: board.me, near: board.near, to: &out)
        }
    }

    /// The part of a `board` message every connection of a class with the same `board` value shares for one tick:
    /// `{"t":"board","at":…,"n":…,"top":[…]`, an object left open. `appendBoardSuffix` closes it, so a relay encodes
    /// this once per class and tick and copies it into every viewer's frame.
    public static func appendBoardPrefix(at: Int64, n: Int, top: [BoardEntry], to out: inout [UInt8]) {
        out.appendLiteral(#"{"t":"board","at":"#)
        out.appendDecimal(at)
        out.appendLiteral(#","n":"#)
        out.appendDecimal(n)
        out.appendLiteral(#","top":["#)
        var first = true
        for entry in top {
            if !first { out.append(0x2C) }
            first = false
            appendBoardEntry(entry, to: &out)
        }
        out.append(0x5D)
    }

    /// `appendBoardPrefix` from entries already encoded with `appendBoardEntry`.
    public static func appendBoardPrefix(
        at: Int64, n: Int, encodedTop top: [ArraySlice<UInt8>], to out: inout [UInt8]
    ) {
        out.appendLiteral(#"{"t":"board","at":"#)
        out.appendDecimal(at)
        out.appendLiteral(#","n":"#)
        out.appendDecimal(n)
        out.appendLiteral(#","top":["#)
        for (index, entry) in top.enumerated() {
            if index > 0 { out.append(0x2C) }
            out.append(contentsOf: entry)
        }
        out.append(0x5D)
    }

    /// What follows `appendBoardPrefix`: `}` for a viewer (or a participant not ranked yet), or
    /// `,"me":{…},"near":[…]}` for a ranked participant.
    public static func appendBoardSuffix(
        me: BoardEntry?, near: [BoardEntry], to out: inout [UInt8]
    ) {
        if let me {
            out.appendLiteral(#","me":"#)
            appendBoardEntry(me, to: &out)
            out.appendLiteral(#","near":["#)
            var first = true
            for entry in near {
                if !first { out.append(0x2C) }
                first = false
                appendBoardEntry(entry, to: &out)
            }
            out.append(0x5D)
        }
        out.append(0x7D)
    }

    /// `appendBoardSuffix` for a ranked participant from entries already encoded with `appendBoardEntry`: a relay
    /// encodes each listed rider's entry once per tick and copies it into every suffix that lists it.
    public static func appendBoardSuffix(
        encodedMe me: ArraySlice<UInt8>, encodedNear near: [ArraySlice<UInt8>], to out: inout [UInt8]
    ) {
        out.appendLiteral(#","me":"#)
        out.append(contentsOf: me)
        out.appendLiteral(#","near":["#)
        for (index, entry) in near.enumerated() {
            if index > 0 { out.append(0x2C) }
            out.append(contentsOf: entry)
        }
        out.appendLiteral("]}")
    }

    /// One leaderboard entry: `{"p":…,"rank":…,"points":12.3,"bpm":…,"zone":…}` (`bpm`, `zone` only when known).
    public static func appendBoardEntry(_ entry: BoardEntry, to out: inout [UInt8]) {
        out.appendLiteral(#"{"p":"#)
        out.appendJSONString(entry.p)
        out.appendLiteral(#","rank":"#)
        out.appendDecimal(entry.rank)
        out.appendLiteral(#","points":"#)
        out.appendTenths(entry.pointsTenths)
        if let bpm = entry.bpm {
            out.appendLiteral(#","bpm":"#)
            out.appendDecimal(UInt64(bpm))
        }
        if let zone = entry.zone {
            out.appendLiteral(#","zone":"#)
            out.appendDecimal(zone)
        }
        out.append(0x7D)
    }

    /// Appends one relayed sample in the binary hub-to-client layout to `out`.
    ///
    /// `u8 0x02 · u8 flags · u32 seq · u64 ts · u8 bpm · u8 n · u64 rts · u8 L · L bytes id · [u16 ee] ·
    /// n × u16 rr`, little-endian. `pct` and `zone` have no place in this layout and are not sent. Ids longer
    /// than 255 UTF-8 bytes (never valid, see `Identifier`) are cut to 255; more than 255 RR values keep the
    /// newest 255.
    public static func appendBinary(_ sample: RelayedSample, to out: inout [UInt8]) {
        let rr = BinaryLayout.rrToEncode(sample.sample.rr)
        let id = sample.p.utf8.prefix(Int(UInt8.max))
        out.append(BinaryLayout.hubSampleType)
        out.append(BinaryLayout.flags(of: sample.sample))
        out.appendLittleEndian(sample.sample.seq)
        out.appendLittleEndian(UInt64(bitPattern: sample.sample.ts))
        out.append(sample.sample.bpm)
        out.append(UInt8(rr.count))
        out.appendLittleEndian(UInt64(bitPattern: sample.rts))
        out.append(UInt8(id.count))
        out.append(contentsOf: id)
        if let ee = sample.sample.ee {
            out.appendLittleEndian(ee)
        }
        for value in rr {
            out.appendLittleEndian(value)
        }
    }

    /// A whole text frame: `[m1,m2,…]`.
    public static func frame(_ messages: [HubMessage]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + 112 * messages.count)
        out.append(0x5B)
        for (index, message) in messages.enumerated() {
            if index > 0 { out.append(0x2C) }
            appendJSON(message, to: &out)
        }
        out.append(0x5D)
        return out
    }

    /// One message as a JSON object, e.g. to encode a sample once and splice its bytes into many frames
    /// (`[` + parts joined by `,` + `]` is a valid hub frame).
    public static func json(_ message: HubMessage) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        appendJSON(message, to: &out)
        return out
    }

    // MARK: - Pieces

    private static func appendWelcome(_ welcome: Welcome, to out: inout [UInt8]) {
        out.appendLiteral(#"{"t":"welcome","class":"#)
        out.appendJSONString(welcome.classID)
        out.appendLiteral(#","role":"#)
        out.appendJSONString(welcome.role.rawValue)
        if let participant = welcome.participant {
            out.appendLiteral(#","participant":"#)
            out.appendJSONString(participant)
        }
        if let mode = welcome.mode {
            out.appendLiteral(#","mode":"#)
            out.appendJSONString(mode.rawValue)
        }
        out.appendLiteral(#","budget_ms":"#)
        out.appendDecimal(welcome.budgetMs)
        out.appendLiteral(#","ht":"#)
        out.appendDecimal(welcome.ht)
        if welcome.role != .viewer {
            out.appendLiteral(#","last_seq":"#)
            if let lastSeq = welcome.lastSeq {
                out.appendDecimal(UInt64(lastSeq))
            } else {
                out.appendLiteral("null")
            }
        }
        out.append(0x7D)
    }

    /// `"<p>","since":<since>}` after the `{"t":"stale","p":` or `{"t":"live","p":` prefix.
    private static func appendPresenceTail(p: String, since: Int64, to out: inout [UInt8]) {
        out.appendJSONString(p)
        out.appendLiteral(#","since":"#)
        out.appendDecimal(since)
        out.append(0x7D)
    }

    /// A complete `hr` object.
    private static func appendSample(_ relayed: RelayedSample, to out: inout [UInt8]) {
        let sample = relayed.sample
        out.appendLiteral(#"{"t":"hr","p":"#)
        out.appendJSONString(relayed.p)
        out.appendLiteral(#","seq":"#)
        out.appendDecimal(UInt64(sample.seq))
        out.appendLiteral(#","ts":"#)
        out.appendDecimal(sample.ts)
        out.appendLiteral(#","rts":"#)
        out.appendDecimal(relayed.rts)
        out.appendLiteral(#","bpm":"#)
        out.appendDecimal(UInt64(sample.bpm))
        out.appendSampleExtras(sample)
        if let pct = relayed.pct {
            out.appendLiteral(#","pct":"#)
            out.appendDecimal(pct)
        }
        if let zone = relayed.zone {
            out.appendLiteral(#","zone":"#)
            out.appendDecimal(zone)
        }
        out.append(0x7D)
    }
}
