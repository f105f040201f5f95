import Foundation
import HRProtocol
import Testing

@testable import HRAuth

@Suite struct TokenAuthorityTests {
    let authority = TokenAuthority(secret: "test-secret")
    let claims = TokenClaims(sub: "anna", class: "spin", role: "publisher", exp: 2_000)

    @Test func mintedTokenVerifies() throws {
        let token = authority.mint(claims)
        #expect(token.split(separator: ".").count == 3)
        #expect(try authority.verify(token, nowSeconds: 1_000) == claims)
    }

    @Test func expiredTokenIsRefused() {
        let token = authority.mint(claims)
        #expect(throws: TokenError.expired) { try authority.verify(token, nowSeconds: 2_000) }
    }

    @Test func otherSecretIsRefused() {
        let token = TokenAuthority(secret: "another").mint(claims)
        #expect(throws: TokenError.badSignature) { try authority.verify(token, nowSeconds: 1_000) }
    }

    @Test func tamperedClaimsAreRefused() {
        let token = authority.mint(claims)
        let parts = token.split(separator: ".")
        let forged = TokenAuthority.base64url(
            Data(#"{"class":"*","exp":2000,"role":"admin","sub":"anna"}"#.utf8))
        #expect(throws: TokenError.badSignature) {
            try authority.verify("\(parts[0]).\(forged).\(parts[2])", nowSeconds: 1_000)
        }
    }

    @Test func algorithmNoneIsRefused() {
        let header = TokenAuthority.base64url(Data(#"{"alg":"none","typ":"JWT"}"#.utf8))
        let body = TokenAuthority.base64url(Data(#"{"class":"*","exp":9999999999,"role":"admin"}"#.utf8))
        #expect(throws: TokenError.unsupportedAlgorithm("none")) {
            try authority.verify("\(header).\(body).", nowSeconds: 1_000)
        }
    }

    @Test(arguments: ["", "abc", "a.b", "a.b.c.d", "!!.??.**"])
    func malformedTokensAreRefused(token: String) {
        #expect(throws: TokenError.self) { try authority.verify(token, nowSeconds: 1_000) }
    }

    @Test func claimsWithoutRequiredFieldsAreRefused() {
        let header = TokenAuthority.base64url(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let body = TokenAuthority.base64url(Data(#"{"sub":"anna"}"#.utf8))
        let key = "\(header).\(body)"
        // Sign it properly so only the claims are wrong.
        let signed = TokenAuthority(secret: "test-secret").sign(key)
        #expect(throws: TokenError.malformed("claims must hold class, role and exp")) {
            try authority.verify(signed, nowSeconds: 1_000)
        }
    }
}


@Suite struct AccessTests {
    let access = Access(secret: "s3cret")
    let authority = TokenAuthority(secret: "s3cret")
    let now: Int64 = 1_000

    func request(_ role: Role, _ participant: String? = nil, classID: String = "spin", token: String?)
        -> ConnectRequest
    {
        ConnectRequest(classID: classID, role: role, participant: participant, token: token)
    }

    func token(_ role: String, sub: String? = nil, classID: String = "spin", exp: Int64 = 2_000) -> String {
        authority.mint(TokenClaims(sub: sub, class: classID, role: role, exp: exp))
    }

    @Test func openHubAllowsEverything() {
        #expect(Access(secret: nil).check(request(.viewer, token: nil), bearer: nil, nowSeconds: now) == .allow)
        #expect(Access(secret: "").isOpen)
    }

    @Test func missingTokenIsUnauthorized() {
        guard case .unauthorized = access.check(request(.viewer, token: nil), bearer: nil, nowSeconds: now) else {
            Issue.record("expected unauthorized")
            return
        }
    }

    @Test func bearerHeaderIsAccepted() {
        let bearer = Access.bearer(from: "Bearer \(token("viewer"))")
        #expect(access.check(request(.viewer, token: nil), bearer: bearer, nowSeconds: now) == .allow)
        #expect(Access.bearer(from: "Basic abc") == nil)
        #expect(Access.bearer(from: "Bearer   ") == nil)
    }

    @Test func matchingTokensAreAllowed() {
        #expect(access.check(request(.viewer, token: token("viewer")), bearer: nil, nowSeconds: now) == .allow)
        let pub = request(.publisher, "anna", token: token("publisher", sub: "anna"))
        #expect(access.check(pub, bearer: nil, nowSeconds: now) == .allow)
        let anyClass = request(.viewer, classID: "yoga", token: token("viewer", classID: "*"))
        #expect(access.check(anyClass, bearer: nil, nowSeconds: now) == .allow)
        let admin = request(.publisher, "ben", classID: "yoga", token: token("admin", classID: "other"))
        #expect(access.check(admin, bearer: nil, nowSeconds: now) == .allow)
    }

    @Test func publisherCannotPublishAsSomeoneElse() {
        let r = request(.publisher, "ben", token: token("publisher", sub: "anna"))
        guard case .forbidden = access.check(r, bearer: nil, nowSeconds: now) else {
            Issue.record("expected forbidden")
            return
        }
    }

    @Test func publisherCannotPublishIntoAnotherClass() {
        let r = request(.publisher, "anna", classID: "yoga", token: token("publisher", sub: "anna"))
        guard case .forbidden = access.check(r, bearer: nil, nowSeconds: now) else {
            Issue.record("expected forbidden")
            return
        }
    }

    @Test func viewerTokenCannotPublish() {
        let r = request(.publisher, "anna", token: token("viewer"))
        guard case .forbidden = access.check(r, bearer: nil, nowSeconds: now) else {
            Issue.record("expected forbidden")
            return
        }
    }

    @Test func expiredOrForgedTokensAreUnauthorized() {
        for t in [token("viewer", exp: 999), TokenAuthority(secret: "x").mint(.init(sub: nil, class: "spin", role: "viewer", exp: 2_000))] {
            guard case .unauthorized = access.check(request(.viewer, token: t), bearer: nil, nowSeconds: now) else {
                Issue.record("expected unauthorized")
                continue
            }
        }
    }

    @Test func adminEndpointsNeedAnAdminToken() {
        #expect(access.isAdmin(bearer: token("admin", classID: "*"), nowSeconds: now))
        #expect(!access.isAdmin(bearer: token("viewer"), nowSeconds: now))
        #expect(!access.isAdmin(bearer: nil, nowSeconds: now))
        #expect(Access(secret: nil).isAdmin(bearer: nil, nowSeconds: now))
    }
}
