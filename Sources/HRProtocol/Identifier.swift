/// Class and participant ids: `[A-Za-z0-9_-]{1,64}`.
public enum Identifier {
    /// Whether `id` is 1 to 64 ASCII letters, digits, `_` or `-`.
    public static func isValid(_ id: String) -> Bool {
        isValid(id.utf8)
    }

    /// Whether `id` is 1 to 64 ASCII letters, digits, `_` or `-`.
    public static func isValid(_ id: Substring) -> Bool {
        isValid(id.utf8)
    }

    /// The rule as it appears in error messages.
    public static let rule = "[A-Za-z0-9_-]{1,\(Limits.identifierMaxLength)}"

    private static func isValid<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Bool {
        var count = 0
        for byte in bytes {
            count += 1
            guard count <= Limits.identifierMaxLength, isAllowed(byte) else { return false }
        }
        return count > 0
    }

    @inline(__always)
    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}
