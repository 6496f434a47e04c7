import DrawbridgeCrypto
@testable import DrawbridgeOIDC
import Testing

@Suite struct PKCETests {
    @Test func rfc7636AppendixB() {
        // The RFC's value (also: printf %s VERIFIER | openssl dgst -sha256 -binary | base64url).
        #expect(PKCE.challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }

    @Test func generated() {
        let a = PKCE.generate(), b = PKCE.generate()
        #expect(a.verifier.utf8.count == 43)
        #expect(Base64URL.decode(a.verifier)?.count == 32)
        #expect(a.challenge == PKCE.challenge(for: a.verifier))
        #expect(a.verifier != b.verifier)
    }
}

@Suite struct AuthorizationRequestTests {
    static let endpoints = OIDCEndpoints(issuer: "https://accounts.example", authorizationEndpoint: "https://accounts.example/o/auth",
                                         tokenEndpoint: "https://accounts.example/token", jwksURI: "https://accounts.example/certs")

    static func query(_ url: String) -> [(String, String)] {
        let q = url.split(separator: "?", maxSplits: 1)[1]
        return q.split(separator: "&").map { p in
            let kv = p.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(kv[0]), String(kv[1]))
        }
    }

    @Test func parametersAndEncoding() {
        let s = OIDCProviderSettings(name: "g", issuer: "https://accounts.example", clientId: "id with space&=",
                                     clientSecret: "x", redirectURI: "https://gw.example/_auth/cb?a=1&b=2",
                                     hostedDomain: "example.com")
        let url = AuthorizationRequest.url(endpoints: Self.endpoints, settings: s, state: "st/+=", nonce: "nö",
                                           codeChallenge: "E9Melhoa2OwvFrEMTJguCHoeoH3SD4JjX8vXnS2pmPM",
                                           loginHint: "alice+test@example.com")
        #expect(url.hasPrefix("https://accounts.example/o/auth?"))
        let q = Self.query(url)
        #expect(q.map(\.0) == ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
                               "code_challenge_method", "login_hint", "hd"])
        #expect(q.map(\.1) == ["code", "id%20with%20space%26%3D", "https%3A%2F%2Fgw.example%2F_auth%2Fcb%3Fa%3D1%26b%3D2",
                               "openid%20email%20profile", "st%2F%2B%3D", "n%C3%B6", "E9Melhoa2OwvFrEMTJguCHoeoH3SD4JjX8vXnS2pmPM",
                               "S256", "alice%2Btest%40example.com", "example.com"])
    }

    @Test func optionalParametersAndExistingQuery() {
        let s = OIDCProviderSettings(name: "g", issuer: "https://a.example", clientId: "c", clientSecret: "x",
                                     redirectURI: "https://gw/cb", scopes: ["openid", "email"])
        let e = OIDCEndpoints(issuer: "https://a.example", authorizationEndpoint: "https://a.example/auth?prompt=select_account",
                              tokenEndpoint: "https://a.example/t", jwksURI: "https://a.example/j")
        let url = AuthorizationRequest.url(endpoints: e, settings: s, state: "s", nonce: "n", codeChallenge: "c", loginHint: nil)
        #expect(url == "https://a.example/auth?prompt=select_account&response_type=code&client_id=c&redirect_uri=https%3A%2F%2Fgw%2Fcb"
                + "&scope=openid%20email&state=s&nonce=n&code_challenge=c&code_challenge_method=S256")
    }
}

@Suite struct TokenExchangeTests {
    @Test func basicCredentialsAreFormEncoded() {
        let s = OIDCProviderSettings(name: "g", issuer: "https://a", clientId: "my:client", clientSecret: "p@ss wörd", redirectURI: "https://gw/cb")
        // base64("my%3Aclient:p%40ss%20w%C3%B6rd")
        #expect(TokenExchange.basicAuthorization(clientId: s.clientId, clientSecret: s.clientSecret) == "Basic " + Base64.encode(Array("my%3Aclient:p%40ss%20w%C3%B6rd".utf8)))
        #expect(Base64.encode(Array("drawbridge-test:test-secret".utf8)) == "ZHJhd2JyaWRnZS10ZXN0OnRlc3Qtc2VjcmV0")
        #expect(Base64.encode([0xff]) == "/w==")
        #expect(Base64.encode([0xfb, 0xef]) == "++8=")
    }

    @Test func responses() throws {
        #expect(try TokenExchange.parse(Array(#"{"access_token":"a","token_type":"bearer","id_token":"x.y.z"}"#.utf8)).idToken == "x.y.z")
        #expect(throws: OIDCError.invalidResponse(context: "token endpoint", reason: "token_type is not Bearer")) {
            try TokenExchange.parse(Array(#"{"token_type":"mac","id_token":"x.y.z"}"#.utf8))
        }
        #expect(throws: OIDCError.invalidResponse(context: "token endpoint", reason: "no id_token")) {
            try TokenExchange.parse(Array(#"{"token_type":"Bearer","access_token":"a"}"#.utf8))
        }
        #expect(throws: OIDCError.invalidResponse(context: "token endpoint", reason: "response is not a JSON object")) {
            try TokenExchange.parse(Array("id_token=x".utf8))
        }
    }

    @Test func errorDescriptions() {
        #expect(OIDCError.httpStatus(context: "token endpoint", status: 400, oauthError: "invalid_grant").description == "token endpoint: HTTP 400 invalid_grant")
        #expect(OIDCError.invalidResponse(context: "discovery", reason: "issuer mismatch").description == "discovery: issuer mismatch")
        #expect(HTTPSClient.oauthErrorCode(Array(#"{"error":"invalid_grant","error_description":"Bad code"}"#.utf8)) == "invalid_grant")
        #expect(HTTPSClient.oauthErrorCode(Array(#"{"error":"a\"b"}"#.utf8)) == nil)
        #expect(HTTPSClient.oauthErrorCode(Array("<html>".utf8)) == nil)
    }
}

@Suite struct DiscoveryDocumentTests {
    static func doc(_ issuer: String = "https://accounts.example", token: String = "https://accounts.example/token") -> [UInt8] {
        Array("""
        {"issuer":"\(issuer)","authorization_endpoint":"https://accounts.example/auth","token_endpoint":"\(token)",
         "jwks_uri":"https://keys.example/certs","response_types_supported":["code"]}
        """.utf8)
    }

    @Test func good() throws {
        let e = try OIDCDiscovery.endpoints(document: Self.doc(), issuer: "https://accounts.example")
        #expect(e == OIDCEndpoints(issuer: "https://accounts.example", authorizationEndpoint: "https://accounts.example/auth",
                                   tokenEndpoint: "https://accounts.example/token", jwksURI: "https://keys.example/certs"))
    }

    @Test func refused() {
        #expect(throws: OIDCError.invalidResponse(context: "discovery", reason: "issuer mismatch")) {
            try OIDCDiscovery.endpoints(document: Self.doc("https://accounts.example/"), issuer: "https://accounts.example")
        }
        #expect(throws: OIDCError.self) {
            try OIDCDiscovery.endpoints(document: Self.doc(token: "http://accounts.example/token"), issuer: "https://accounts.example")
        }
        #expect(throws: OIDCError.self) { try OIDCDiscovery.endpoints(document: Array("[]".utf8), issuer: "https://accounts.example") }
    }
}

@Suite struct HTTPSURLTests {
    @Test func accepted() throws {
        let a = try HTTPSURL.parse("https://Accounts.Google.com/.well-known/openid-configuration").get()
        #expect(a == HTTPSURL(host: "accounts.google.com", port: 443, target: "/.well-known/openid-configuration", isIPLiteral: false))
        #expect(a.hostHeader == "accounts.google.com")
        let b = try HTTPSURL.parse("HTTPS://127.0.0.1:8443?x=1").get()
        #expect(b == HTTPSURL(host: "127.0.0.1", port: 8443, target: "/?x=1", isIPLiteral: true))
        #expect(b.hostHeader == "127.0.0.1:8443")
        let c = try HTTPSURL.parse("https://[::1]:9000/p").get()
        #expect(c == HTTPSURL(host: "::1", port: 9000, target: "/p", isIPLiteral: true))
        #expect(c.hostHeader == "[::1]:9000")
    }

    @Test(arguments: ["http://a.example/", "https://user@a.example/", "https://a.example/#frag", "https://a.example:0/",
                      "https://a.example:65536/", "https://a.example:/", "https://", "https:///path", "https://a b/",
                      "https://a.example/\u{e9}", "https://[::1/", "https://[nothex]/", "https://a.example:12x/", "ftp://a/",
                      "https://a.example/\r\nX: y"])
    func refused(_ url: String) {
        #expect(throws: URLRefusal.self) { try HTTPSURL.parse(url).get() }
    }
}

@Suite struct JWKSCacheTests {
    final class Box: @unchecked Sendable {
        var now: Int64 = 1000
        var fetches = 0
        var doc = ""
    }

    @Test func refetchOnUnknownKidIsThrottled() throws {
        let k1 = try TokenFactory(kid: "k1"), k2 = try TokenFactory(kid: "k2")
        let box = Box()
        box.doc = "{\"keys\":[\(k1.jwk)]}"
        let cache = JWKSCache(minRefreshInterval: 30, clock: { box.now }) { () throws(OIDCError) -> [UInt8] in
            box.fetches += 1
            return Array(box.doc.utf8)
        }
        #expect(try cache.keys(kid: "k1").count == 1)
        #expect(box.fetches == 1)
        #expect(try cache.keys(kid: "k1").count == 1)
        #expect(box.fetches == 1)
        // The provider rotates: k2 appears. The first unknown kid after the initial load is fetched at once.
        box.doc = "{\"keys\":[\(k2.jwk)]}"
        box.now += 10
        #expect(try cache.keys(kid: "k2").count == 1)
        #expect(box.fetches == 2)
        // A made-up kid within the interval after that refetch costs nothing.
        box.now += 10
        #expect(try cache.keys(kid: "made-up").isEmpty)
        #expect(box.fetches == 2)
        box.now += 20
        #expect(try cache.keys(kid: "made-up").isEmpty)
        #expect(box.fetches == 3)
        // k1 was dropped from the set.
        box.now += 1
        #expect(try cache.keys(kid: "k1").isEmpty)
        #expect(box.fetches == 3)
        #expect(try cache.keys(kid: nil).count == 1)
    }

    @Test func failedFetchKeepsKeysAndIsReported() throws {
        let k1 = try TokenFactory(kid: "k1")
        let box = Box()
        box.doc = "{\"keys\":[\(k1.jwk)]}"
        let cache = JWKSCache(minRefreshInterval: 30, clock: { box.now }) { () throws(OIDCError) -> [UInt8] in
            box.fetches += 1
            if box.doc.isEmpty { throw .network(context: "jwks", reason: "connection refused") }
            return Array(box.doc.utf8)
        }
        #expect(try cache.keys(kid: "k1").count == 1)
        box.doc = ""
        box.now += 60
        #expect(throws: OIDCError.network(context: "jwks", reason: "connection refused")) { try cache.keys(kid: "k9") }
        #expect(try cache.keys(kid: "k1").count == 1)   // still cached
        #expect(throws: OIDCError.self) { try cache.keys(kid: "k9") }   // throttled, last error repeated
        #expect(box.fetches == 2)
    }

    @Test func notAJWKSet() {
        let cache = JWKSCache(minRefreshInterval: 30, clock: { 0 }) { () throws(OIDCError) -> [UInt8] in Array("{}".utf8) }
        #expect(throws: OIDCError.invalidResponse(context: "jwks", reason: "not a JWK Set")) { try cache.keys(kid: nil) }
    }
}
