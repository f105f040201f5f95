/// What a hub token says: who (`sub`), where (`class`), as what (`role`), until when (`exp`).
public struct TokenClaims: Codable, Sendable, Equatable {
    /// Participant id, for publishers and participants.
    public var sub: String?
    /// Class id, or `*` for every class.
    public var `class`: String
    /// `publisher`, `viewer`, `participant` or `admin`.
    public var role: String
    /// Expiry, Unix seconds.
    public var exp: Int64

    public init(sub: String?, class classID: String, role: String, exp: Int64) {
        self.sub = sub
        self.class = classID
        self.role = role
        self.exp = exp
    }

    /// The role that may do anything: every class, every role, and the admin endpoints.
    public static let adminRole = "admin"
}
