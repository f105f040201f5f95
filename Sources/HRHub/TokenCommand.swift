import ArgumentParser
import Foundation
import HRAuth
import HRProtocol

/// `hrhub token`: mint an access token signed with the hub's secret.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print an access token (HS256 JWT) for a role, class and participant.",
        discussion: "Example: hrhub token --secret \"$HRHUB_JWT_SECRET\" --role publisher --class spin --participant anna")

    @Option(help: "The hub's secret (default: $HRHUB_JWT_SECRET).") var secret: String?
    @Option(help: "publisher, viewer, participant or admin.") var role: String
    @Option(name: .customLong("class"), help: "Class id, or * for every class.") var classID: String = "*"
    @Option(help: "Participant id (required for publisher and participant).") var participant: String?
    @Option(help: "Lifetime: seconds, or with a unit: 90s, 30m, 12h, 7d.") var ttl: String = "12h"

    private var resolvedSecret: String? {
        secret ?? ProcessInfo.processInfo.environment["HRHUB_JWT_SECRET"]
    }

    func validate() throws {
        guard let secret = resolvedSecret, !secret.isEmpty else {
            throw ValidationError("no secret: pass --secret or set HRHUB_JWT_SECRET")
        }
        guard ["publisher", "viewer", "participant", "admin"].contains(role) else {
            throw ValidationError("--role must be publisher, viewer, participant or admin, got '\(role)'")
        }
        guard classID == "*" || Identifier.isValid(classID) else {
            throw ValidationError("--class must be * or match \(Identifier.rule), got '\(classID)'")
        }
        if role == "publisher" || role == "participant" {
            guard let participant, Identifier.isValid(participant) else {
                throw ValidationError("--participant matching \(Identifier.rule) is required for role \(role)")
            }
        }
        guard Self.seconds(ttl) != nil else {
            throw ValidationError("--ttl must be a positive number of seconds or like 90s, 30m, 12h, 7d; got '\(ttl)'")
        }
    }

    func run() throws {
        let expiry = Int64(Date().timeIntervalSince1970) + (Self.seconds(ttl) ?? 0)
        let sub = role == "publisher" || role == "participant" ? participant : nil
        let claims = TokenClaims(sub: sub, class: classID, role: role, exp: expiry)
        print(TokenAuthority(secret: resolvedSecret ?? "").mint(claims))
    }

    static func seconds(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var digits = Substring(text)
        var factor: Int64 = 1
        if let last = text.last, let unit = units[last] {
            factor = unit
            digits = digits.dropLast()
        }
        guard let value = Int64(digits), value > 0 else { return nil }
        return value * factor
    }
}
