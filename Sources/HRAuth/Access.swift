import Foundation
import HRProtocol

/// Who may connect where. Without a secret the hub is open; with one, every connection needs a token
/// whose claims cover the class, the role and (for publishing roles) the participant.
public struct Access: Sendable {
    /// What the hub does with a connection.
    public enum Decision: Equatable, Sendable {
        case allow
        /// Close with 4001: no token, or one that does not verify or has expired.
        case unauthorized(String)
        /// Close with 4003: a valid token that does not cover this class, role or participant.
        case forbidden(String)
    }

    /// nil: open hub (development).
    public let authority: TokenAuthority?

    public init(secret: String?) {
        authority = secret.flatMap { $0.isEmpty ? nil : TokenAuthority(secret: $0) }
    }

    public var isOpen: Bool { authority == nil }

    /// The token in an `Authorization: Bearer …` header, if any.
    public static func bearer(from authorization: String?) -> String? {
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else { return nil }
        let value = authorization.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return value.isEmpty ? nil : value
    }

    /// Decides a WebSocket connection for `request` (its `token` field, else `bearer`).
    public func check(_ request: ConnectRequest, bearer: String?, nowSeconds: Int64) -> Decision {
        guard let authority else { return .allow }
        guard let token = request.token ?? bearer else { return .unauthorized(TokenError.missing.description) }
        let claims: TokenClaims
        do {
            claims = try authority.verify(token, nowSeconds: nowSeconds)
        } catch {
            return .unauthorized(error.description)
        }
        if claims.role == TokenClaims.adminRole { return .allow }
        guard claims.class == "*" || claims.class == request.classID else {
            return .forbidden("token is for class '\(claims.class)', not '\(request.classID)'")
        }
        guard claims.role == request.role.rawValue else {
            return .forbidden("token is for role \(claims.role), not \(request.role.rawValue)")
        }
        if request.role.publishes, claims.sub != request.participant {
            return .forbidden("token is for participant '\(claims.sub ?? "")', not '\(request.participant ?? "")'")
        }
        return .allow
    }

    /// Whether a bearer token grants the admin endpoints.
    public func isAdmin(bearer: String?, nowSeconds: Int64) -> Bool {
        guard let authority else { return true }
        guard let bearer, let claims = try? authority.verify(bearer, nowSeconds: nowSeconds) else { return false }
        return claims.role == TokenClaims.adminRole
    }
}
