import Crypto
import Foundation

/// Why a token was refused (the hub closes with 4001).
public enum TokenError: Error, Sendable, Equatable, CustomStringConvertible {
    case missing
    case malformed(String)
    case unsupportedAlgorithm(String)
    case badSignature
    case expired

    public var description: String {
        switch self {
        case .missing: "no token: pass ?token=… or Authorization: Bearer …"
        case .malformed(let why): "malformed token: \(why)"
        case .unsupportedAlgorithm(let alg): "unsupported token algorithm '\(alg)': expected HS256"
        case .badSignature: "token signature does not verify"
        case .expired: "token expired"
        }
    }
}

/// Mints and verifies HS256 JSON Web Tokens (RFC 7519) with the hub's secret. HMAC-SHA256 comes from
/// swift-crypto; this type only frames it: `base64url(header).base64url(claims).base64url(mac)`.
public struct TokenAuthority: Sendable {
    /// The secret's bytes (swift-crypto's `SymmetricKey` is not `Sendable`, so it is made per use).
    private let secret: [UInt8]

    /// - Parameter secret: the shared secret (at least a few dozen random bytes in production).
    public init(secret: String) {
        self.secret = Array(secret.utf8)
    }

    private var key: SymmetricKey { SymmetricKey(data: secret) }

    private static let header = base64url(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))

    /// A signed token for `claims`.
    public func mint(_ claims: TokenClaims) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let payload = Self.base64url((try? encoder.encode(claims)) ?? Data())
        return sign("\(Self.header).\(payload)")
    }

    /// `signingInput` followed by `.` and its HMAC-SHA256 signature.
    func sign(_ signingInput: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: key)
        return "\(signingInput).\(Self.base64url(Data(mac)))"
    }

    /// The claims of a token whose signature verifies and that has not expired at `nowSeconds`.
    public func verify(_ token: String, nowSeconds: Int64) throws(TokenError) -> TokenClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("expected three dot-separated parts") }
        guard let headerData = Self.decodeBase64url(parts[0]),
            let header = try? JSONDecoder().decode([String: String].self, from: headerData)
        else { throw .malformed("bad header") }
        guard header["alg"] == "HS256" else { throw .unsupportedAlgorithm(header["alg"] ?? "none") }
        guard let mac = Self.decodeBase64url(parts[2]) else { throw .malformed("bad signature encoding") }
        let signingInput = Data(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: signingInput, using: key) else {
            throw .badSignature
        }
        guard let payload = Self.decodeBase64url(parts[1]),
            let claims = try? JSONDecoder().decode(TokenClaims.self, from: payload)
        else { throw .malformed("claims must hold class, role and exp") }
        guard claims.exp > nowSeconds else { throw .expired }
        return claims
    }

    static func base64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64url(_ text: Substring) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }
}
