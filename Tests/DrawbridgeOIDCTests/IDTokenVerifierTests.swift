import DrawbridgeCrypto
import DrawbridgeOIDC
import Testing

/// Locally made tokens: an ES256 key in a preloaded JWKS cache, claims built as JSON text.
struct TokenFactory {
    static let now: Int64 = 1_700_000_000
    static let issuer = "https://issuer.example"
    static let clientId = "client-123"
    static let nonce = "n-0S6_WzA2Mj"

    let key: ECPrivateKey
    let kid: String

    init(kid: String = "k1") throws {
        key = try ECPrivateKey.generate()
        self.kid = kid
    }

    var jwk: String {
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\(JSONString.quote(kid)),\"use\":\"sig\","
            + "\"x\":\"\(Base64URL.encode(key.publicKey.x))\",\"y\":\"\(Base64URL.encode(key.publicKey.y))\"}"
    }

    var entry: JWK.Entry { JWK.parseKey(Array(jwk.utf8))! }

    static func settings(hostedDomain: String? = nil) -> OIDCProviderSettings {
        OIDCProviderSettings(name: "test", issuer: issuer, clientId: clientId, clientSecret: "s3cret",
                             redirectURI: "https://gw.example/_auth/oidc/callback", hostedDomain: hostedDomain)
    }

    /// The standard claims with `overrides` applied (value = raw JSON text; nil removes the claim).
    static func claims(_ overrides: [String: String?] = [:]) -> String {
        var members: [(String, String)] = [
            ("iss", JSONString.quote(issuer)), ("aud", JSONString.quote(clientId)), ("sub", "\"1234567890\""),
            ("email", "\"alice@example.com\""), ("email_verified", "true"), ("iat", String(now - 10)),
            ("exp", String(now + 3600)), ("nonce", JSONString.quote(nonce)),
        ]
        for (k, v) in overrides.sorted(by: { $0.key < $1.key }) {
            members.removeAll { $0.0 == k }
            if let v { members.append((k, v)) }
        }
        return "{" + members.map { "\(JSONString.quote($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    func token(_ overrides: [String: String?] = [:]) throws -> String {
        try JWS.signES256(payloadJSON: Array(Self.claims(overrides).utf8), kid: kid, key: key)
    }

    /// A token with a hand-made header and signature.
    static func unsigned(header: String, claims: String, signature: (String) -> String) -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        return input + "." + signature(input)
    }
}

@Suite struct IDTokenVerifierTests {
    let factory: TokenFactory
    let jwks: JWKSCache

    init() throws {
        factory = try TokenFactory()
        jwks = JWKSCache(preloaded: [factory.entry])
    }

    func verify(_ token: String, settings: OIDCProviderSettings = TokenFactory.settings(), nonce: String = TokenFactory.nonce,
                cache: JWKSCache? = nil) -> Result<IDTokenClaims, IDTokenRejection> {
        IDTokenVerifier.verify(idToken: token, settings: settings, jwks: cache ?? jwks, nonce: nonce, now: TokenFactory.now)
    }

    @Test func goodToken() throws {
        let r = verify(try factory.token(["hd": "\"example.com\""]), settings: TokenFactory.settings(hostedDomain: "example.com"))
        #expect(r == .success(IDTokenClaims(subject: "1234567890", email: "alice@example.com", emailVerified: true,
                                            hostedDomain: "example.com", issuedAt: TokenFactory.now - 10,
                                            expiresAt: TokenFactory.now + 3600)))
    }

    struct ClaimCase: CustomTestStringConvertible, Sendable {
        let name: String
        let overrides: [String: String?]
        let hostedDomain: String?
        let expected: IDTokenRejection?
        var testDescription: String { name }
        init(_ name: String, _ overrides: [String: String?], hd: String? = nil, _ expected: IDTokenRejection?) {
            self.name = name; self.overrides = overrides; self.hostedDomain = hd; self.expected = expected
        }
    }

    static let claimCases: [ClaimCase] = [
        ClaimCase("wrong iss", ["iss": "\"https://evil.example\""], .issuer),
        ClaimCase("iss with trailing slash", ["iss": "\"https://issuer.example/\""], .issuer),
        ClaimCase("missing iss", ["iss": nil], .issuer),
        ClaimCase("wrong aud", ["aud": "\"other-client\""], .audience),
        ClaimCase("missing aud", ["aud": nil], .audience),
        ClaimCase("aud array of one", ["aud": "[\"client-123\"]"], nil),
        ClaimCase("aud array without us", ["aud": "[\"a\",\"b\"]"], .audience),
        ClaimCase("aud array without azp", ["aud": "[\"client-123\",\"other\"]"], .audience),
        ClaimCase("aud array with wrong azp", ["aud": "[\"client-123\",\"other\"]", "azp": "\"other\""], .audience),
        ClaimCase("aud array with azp", ["aud": "[\"client-123\",\"other\"]", "azp": "\"client-123\""], nil),
        ClaimCase("single aud with wrong azp", ["azp": "\"other\""], .audience),
        ClaimCase("expired", ["exp": String(TokenFactory.now - 61)], .expired),
        ClaimCase("expired within skew", ["exp": String(TokenFactory.now - 30)], nil),
        ClaimCase("exp as string", ["exp": "\"1700003600\""], .malformed),
        ClaimCase("missing exp", ["exp": nil], .malformed),
        ClaimCase("iat in the future", ["iat": String(TokenFactory.now + 120)], .issuedInFuture),
        ClaimCase("iat within skew", ["iat": String(TokenFactory.now + 30)], nil),
        ClaimCase("nbf in the future", ["nbf": String(TokenFactory.now + 120)], .issuedInFuture),
        ClaimCase("bad nonce", ["nonce": "\"wrong\""], .nonce),
        ClaimCase("missing nonce", ["nonce": nil], .nonce),
        ClaimCase("nonce prefix", ["nonce": "\"n-0S6\""], .nonce),
        ClaimCase("email_verified false", ["email_verified": "false"], .emailNotVerified),
        ClaimCase("email_verified missing", ["email_verified": nil], .emailNotVerified),
        ClaimCase("email_verified string true", ["email_verified": "\"true\""], nil),
        ClaimCase("email_verified string false", ["email_verified": "\"false\""], .emailNotVerified),
        ClaimCase("missing email", ["email": nil], .noEmail),
        ClaimCase("empty email", ["email": "\"\""], .noEmail),
        ClaimCase("missing sub", ["sub": nil], .malformed),
        ClaimCase("hd mismatch", ["hd": "\"evil.com\""], hd: "example.com", .hostedDomain),
        ClaimCase("hd missing", [:], hd: "example.com", .hostedDomain),
        ClaimCase("hd differs in case", ["hd": "\"Example.COM\""], hd: "example.com", nil),
        ClaimCase("hd not configured", ["hd": "\"other.com\""], nil),
    ]

    @Test(arguments: claimCases) func claims(_ c: ClaimCase) throws {
        let r = verify(try factory.token(c.overrides), settings: TokenFactory.settings(hostedDomain: c.hostedDomain))
        switch (r, c.expected) {
        case (.success, nil): break
        case (.failure(let got), let want?): #expect(got == want)
        default: Issue.record("\(c.name): got \(r), expected \(String(describing: c.expected))")
        }
    }

    @Test func algNone() {
        let t = TokenFactory.unsigned(header: "{\"alg\":\"none\",\"kid\":\"k1\"}", claims: TokenFactory.claims()) { _ in "" }
        #expect(verify(t) == .failure(.malformed) || verify(t) == .failure(.signature))
        let t2 = TokenFactory.unsigned(header: "{\"alg\":\"none\",\"kid\":\"k1\"}", claims: TokenFactory.claims()) { _ in "AAAA" }
        #expect(verify(t2) == .failure(.signature))
    }

    @Test func hs256WithThePublicKeyAsSecret() {
        let secrets: [[UInt8]] = [Array(factory.jwk.utf8), [4] + factory.key.publicKey.x + factory.key.publicKey.y,
                                  Array(factory.key.publicKey.x)]
        for secret in secrets {
            let t = TokenFactory.unsigned(header: "{\"alg\":\"HS256\",\"kid\":\"k1\"}", claims: TokenFactory.claims()) {
                Base64URL.encode(HMAC.sha256(key: secret, data: Array($0.utf8)))
            }
            #expect(verify(t) == .failure(.signature))
        }
    }

    @Test func wrongKey() throws {
        let other = try TokenFactory(kid: "k1")
        #expect(verify(try other.token()) == .failure(.signature))
    }

    @Test func unknownKid() throws {
        let other = try TokenFactory(kid: "k2")
        #expect(verify(try other.token()) == .failure(.signature))
    }

    @Test func truncated() throws {
        let t = try factory.token()
        for n in 1...8 {   // depending on the cut, the base64url is invalid (malformed) or the signature short
            let r = verify(String(t.dropLast(n)))
            #expect(r == .failure(.signature) || r == .failure(.malformed))
        }
        let twoParts = t.split(separator: ".").prefix(2).joined(separator: ".")
        #expect(verify(twoParts) == .failure(.malformed))
        #expect(verify("") == .failure(.malformed))
        #expect(verify("not a token") == .failure(.malformed))
    }

    @Test func tamperedPayload() throws {
        let parts = try factory.token().split(separator: ".").map(String.init)
        let evil = Base64URL.encode(Array(TokenFactory.claims(["email": "\"mallory@example.com\""]).utf8))
        #expect(verify([parts[0], evil, parts[2]].joined(separator: ".")) == .failure(.signature))
    }

    @Test func payloadNotAnObject() throws {
        // Signed, but the payload is not a JSON object: JWS.signES256 refuses that, so sign by hand.
        let header = "{\"alg\":\"ES256\",\"kid\":\"k1\"}"
        let t = TokenFactory.unsigned(header: header, claims: "[1,2]") { input in
            Base64URL.encode(try! factory.key.signES256(Array(input.utf8)))
        }
        #expect(verify(t) == .failure(.malformed))
    }

    @Test func keysUnavailable() throws {
        let failing = JWKSCache(minRefreshInterval: 30, clock: { 0 }) { () throws(OIDCError) -> [UInt8] in
            throw .network(context: "jwks", reason: "connection refused")
        }
        #expect(verify(try factory.token(), cache: failing) == .failure(.keysUnavailable))
    }
}
