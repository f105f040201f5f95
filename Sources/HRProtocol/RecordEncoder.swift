/// Encodes record rows for `GET /v1/classes/{classId}/record` (docs/PROTOCOL.md, "The class record"), a chunk at
/// a time: `appendStart`, then `append` per row (as a cursor yields them), then `appendEnd`, each appending to a
/// reused byte buffer the caller sends and empties between chunks.
///
/// - JSON: one array, `[{"p":…,"seq":…,"ts":…,"rts":…,"bpm":…,"rr":[…],"contact":…,"ee":…},…]`; `rr` only when
///   not empty, `contact` and `ee` only when known.
/// - CSV: the header `participant,seq,ts,rts,bpm,rr`, one line per row ending in `\n`, rr values joined by spaces
///   (empty when none). A participant holding `,`, `"`, CR or LF is quoted with `"` doubled (RFC 4180); ids in
///   the protocol's alphabet never are.
public struct RecordEncoder: Sendable {
    /// The body's format (`?format=csv` picks CSV).
    public enum Format: Sendable, Equatable {
        case json
        case csv

        /// The HTTP `Content-Type` of a body in this format.
        public var contentType: String {
            switch self {
            case .json: "application/json"
            case .csv: "text/csv; charset=utf-8"
            }
        }
    }

    /// The format being written.
    public let format: Format
    private var rows = 0

    /// An encoder for one response body.
    public init(format: Format) {
        self.format = format
    }

    /// What comes before the first row: `[` or the CSV header line.
    public func appendStart(to out: inout [UInt8]) {
        switch format {
        case .json: out.append(0x5B)
        case .csv: out.appendLiteral("participant,seq,ts,rts,bpm,rr\n")
        }
    }

    /// One row (with the separator a JSON array needs before every row but the first).
    public mutating func append(_ row: RecordedSample, to out: inout [UInt8]) {
        defer { rows += 1 }
        switch format {
        case .json:
            if rows > 0 { out.append(0x2C) }
            Self.appendJSON(row, to: &out)
        case .csv:
            Self.appendCSV(row, to: &out)
        }
    }

    /// What comes after the last row: `]` for JSON, nothing for CSV.
    public func appendEnd(to out: inout [UInt8]) {
        if format == .json { out.append(0x5D) }
    }

    private static func appendJSON(_ row: RecordedSample, to out: inout [UInt8]) {
        out.appendLiteral(#"{"p":"#)
        out.appendJSONString(row.participant)
        out.appendLiteral(#","seq":"#)
        out.appendDecimal(UInt64(row.sample.seq))
        out.appendLiteral(#","ts":"#)
        out.appendDecimal(row.sample.ts)
        out.appendLiteral(#","rts":"#)
        out.appendDecimal(row.rts)
        out.appendLiteral(#","bpm":"#)
        out.appendDecimal(UInt64(row.sample.bpm))
        out.appendSampleExtras(row.sample)
        out.append(0x7D)
    }

    private static func appendCSV(_ row: RecordedSample, to out: inout [UInt8]) {
        appendCSVField(row.participant, to: &out)
        out.append(0x2C)
        out.appendDecimal(UInt64(row.sample.seq))
        out.append(0x2C)
        out.appendDecimal(row.sample.ts)
        out.append(0x2C)
        out.appendDecimal(row.rts)
        out.append(0x2C)
        out.appendDecimal(UInt64(row.sample.bpm))
        out.append(0x2C)
        for (index, value) in row.sample.rr.enumerated() {
            if index > 0 { out.append(0x20) }
            out.appendDecimal(UInt64(value))
        }
        out.append(0x0A)
    }

    private static func appendCSVField(_ field: String, to out: inout [UInt8]) {
        let needsQuotes = field.utf8.contains { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }
        guard needsQuotes else { return out.append(contentsOf: field.utf8) }
        out.append(0x22)
        for byte in field.utf8 {
            if byte == 0x22 { out.append(0x22) }
            out.append(byte)
        }
        out.append(0x22)
    }
}
