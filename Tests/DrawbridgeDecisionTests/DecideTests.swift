import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeHTTP
import DrawbridgeIdentity
import DrawbridgePolicy
import Foundation
import Testing
@testable import DrawbridgeDecision

/// `decide` without sockets: a table of request × snapshot → verdict. Every verdict appears.
@Suite struct DecideTests {
    static let now: UInt64 = 1_800_000_000
    static let alice = User(id: "u-alice", email: "alice@acme.test", memberships: [Membership(orgId: "acme", roles: ["reader"])])
    static let bob = User(id: "u-bob", email: "bob@acme.test", memberships: [Membership(orgId: "acme", roles: [])])
    static let carol = User(id: "u-carol", email: "carol@acme.test", memberships: [Membership(orgId: "acme", roles: ["admin"])])
    static let users = [alice, bob, carol]
    static let key = APIKey.generate(orgId: "acme", roles: ["reader"], now: now - 10)

    /// One configuration for every case; `auth: false` drops the auth section (all routes public).
    static func config(auth: Bool) throws -> GatewayConfig {
        let dir = NSTemporaryDirectory() + "drawbridge-decide-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in ["a.crt", "a.key"] { _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data("x\n".utf8)) }
        let authSection = auth ? """
            auth: { modes: ["password", "api_key"], auditLog: "off", session: { idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 3600 } },
            organizations: { acme: { name: "Acme", emailDomains: ["acme.test"] } },
            roles: { reader: { permissions: ["docs:read"] }, admin: { permissions: ["docs:read", "users:read:any"] } },
            """ : ""
        return try ConfigLoader.parse(json5: """
            { listen: { https: "127.0.0.1:8443" }, tls: { certificates: [ { cert: "a.crt", key: "a.key" } ] },
              upstreams: { app: { servers: ["127.0.0.1:9000"] } }, \(authSection)
              routes: [ { pathPrefix: "/pub/", upstream: "app", public: true },
                        { pathPrefix: "/docs/", upstream: "app", access: { methods: { GET: "docs:read", "*": "docs:write" } } },
                        { pathPrefix: "/audit/", upstream: "app", access: { methods: { GET: "docs:read" }, sensitive: true, audience: "auditors" } },
                        { pathPrefix: "/mfa/", upstream: "app", access: { methods: { GET: "docs:read" }, mfa: true } },
                        { pathPrefix: "/orgs/", upstream: "app",
                          access: { methods: { GET: "docs:read" }, bind: "/orgs/{org}/users/{user}/", ownerOverride: "users:read:any" } } ] }
            """, file: "drawbridge.json5", baseDirectory: dir)
    }

    static func table(auth: Bool = true, apiKeys: [APIKeyRecord] = [key.record]) throws -> DecisionTable {
        let config = try config(auth: true) // the loader refuses protected routes without auth: the table is built without it
        // The upstream as the decision knows it: a handle (no sockets, no TLS context).
        let upstream = UpstreamHandle(index: 0, name: "app")
        let routes = try CompiledRoute.compile(config, upstreams: [upstream], byName: ["app": 0], secrets: [:]) { _, path in
            throw AuthSetupError(description: "\(path): no OAuth 2.0 client in this test")
        }
        let runtime = auth ? try AuthRuntime(config: config, users: users, apiKeys: apiKeys, sessionKeys: [sessionKey],
                                             previous: ModeCutoffs(), now: now) : nil
        return DecisionTable(routeTable: config.routeTable, routes: routes, auth: runtime,
                             policy: PolicySnapshot(config: config, users: users))
    }

    static let sessionKey = SessionKey.generate(id: 1)

    static func session(_ user: User, mfa: Bool = false, ring: SessionKeyRing) -> String {
        let c = SessionClaims(userId: user.id, orgId: "acme", authMode: .password, mfa: mfa, issuedAt: now - 10,
                              expiresAt: now + 3600, lastSeen: now - 10, epoch: user.sessionEpoch, sessionId: .random())
        return try! SessionToken.seal(c, with: ring)
    }

    /// The view of a request as the connection builds it: parsed, admitted, target normalised.
    static func view(_ text: String) -> RequestView {
        let v = RequestView()
        var parser = RequestHeadParser()
        let bytes = Array(text.utf8)
        let parsed = bytes.withUnsafeBytes { parser.parse($0, into: &v.head) }
        guard case .complete = parsed else { fatalError("test request does not parse: \(text)") }
        #expect(v.admit(sni: RoutingHost.ServerName(), rules: AdmissionRules()) == nil)
        #expect(v.normalizeTarget(PathPolicy()) == nil)
        return v
    }

    /// The verdict in words, so a table row reads like the spec.
    static func describe(_ v: Verdict) -> String {
        switch v {
        case .forward(let p):
            var s = "forward \(p.route.label)"
            switch p.identity {
            case .user(let i)?: s += " as \(i.userId)"
            case .apiKey(let k)?: s += " as key \(k.keyId == key.record.keyId ? "k" : "?")"
            case nil: break
            }
            if p.identity != nil { s += " aud \(p.route.audience)" }
            // The audit record's rule (the method's permission) and reason.
            if let a = p.audit { s += " audited \(a.rule) (\(a.reason))" }
            return s
        case .gatewayEndpoint: return "gateway"
        case .addSlash(let status): return "slash \(status)"
        case .notFound(let always): return always ? "404 close" : "404"
        // A refusal names its route (the request counters count it there).
        case .unauthenticated(let route, let r): return (r == nil ? "401" : "401 rejected \(r!.kind)") + " on \(route.label)"
        case .denied(let r): return "deny \(r.denial.status)\(r.denial.stepUp ? " step-up" : "") on \(r.route.label) (\(r.denial.reason))"
        }
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String, request: String, auth: Bool, expected: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        .init(name: "public route, no credential", request: "GET /pub/x HTTP/1.1\r\nHost: a\r\n\r\n", auth: true, expected: "forward */pub/"),
        .init(name: "no route", request: "GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n", auth: true, expected: "404"),
        .init(name: "prefix without its slash, GET", request: "GET /docs HTTP/1.1\r\nHost: a\r\n\r\n", auth: true, expected: "slash 301"),
        .init(name: "prefix without its slash, POST", request: "POST /docs HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", auth: true, expected: "slash 308"),
        .init(name: "gateway path", request: "GET /.drawbridge/login HTTP/1.1\r\nHost: a\r\n\r\n", auth: true, expected: "gateway"),
        .init(name: "gateway path, encoded dot segments", request: "GET /docs/../.drawbridge/jwks.json HTTP/1.1\r\nHost: a\r\n\r\n", auth: true, expected: "gateway"),
        .init(name: "protected route without auth section", request: "GET /docs/x HTTP/1.1\r\nHost: a\r\n\r\n", auth: false, expected: "404 close"),
        .init(name: "protected route, no credential", request: "GET /docs/x HTTP/1.1\r\nHost: a\r\n\r\n", auth: true, expected: "401 on */docs/"),
        .init(name: "session allowed", request: "GET /docs/x HTTP/1.1\r\nHost: a\r\nCookie: __Host-drawbridge=ALICE\r\n\r\n", auth: true, expected: "forward */docs/ as u-alice aud app"),
        .init(name: "session, method not granted", request: "POST /docs/x HTTP/1.1\r\nHost: a\r\nCookie: __Host-drawbridge=ALICE\r\nContent-Length: 0\r\n\r\n", auth: true, expected: "deny 403 on */docs/ (missing permission docs:write)"),
        .init(name: "session without the role", request: "GET /docs/x HTTP/1.1\r\nHost: a\r\nCookie: __Host-drawbridge=BOB\r\n\r\n", auth: true, expected: "deny 403 on */docs/ (missing permission docs:read)"),
        .init(name: "session tampered", request: "GET /docs/x HTTP/1.1\r\nHost: a\r\nCookie: __Host-drawbridge=xALICE\r\n\r\n", auth: true, expected: "401 rejected session on */docs/"),
        .init(name: "api key allowed", request: "GET /docs/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer KEY\r\n\r\n", auth: true, expected: "forward */docs/ as key k aud app"),
        .init(name: "api key wrong secret", request: "GET /docs/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer KEYx\r\n\r\n", auth: true, expected: "401 rejected api_key on */docs/"),
        .init(name: "two Authorization fields", request: "GET /docs/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer KEY\r\nAuthorization: Bearer KEY\r\n\r\n", auth: true, expected: "401 rejected credential on */docs/"),
        .init(name: "sensitive route: audited, own audience", request: "GET /audit/x HTTP/1.1\r\nHost: a\r\nCookie: __Host-drawbridge=ALICE\r\n\r\n", auth: true, expected: "forward */audit/ as u-alice aud auditors audited docs:read (allowed)"),
        .init(name: "MFA route without a second factor", request: "GET /mfa/x HTTP/1.1\r\nHost: a\r\nCookie: __Host-drawbridge=ALICE\r\n\r\n", auth: true, expected: "deny 403 step-up on */mfa/ (route requires a second factor)"),
        .init(name: "MFA route, API key: refused without a step-up", request: "GET /mfa/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer KEY\r\n\r\n", auth: true, expected: "deny 403 on */mfa/ (route requires a second factor)"),
        .init(name: "api key, method not granted", request: "DELETE /docs/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer KEY\r\n\r\n", auth: true, expected: "deny 403 on */docs/ (missing permission docs:write)"),
        .init(name: "sensitive route, API key: audited", request: "GET /audit/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer KEY\r\n\r\n", auth: true, expected: "forward */audit/ as key k aud auditors audited docs:read (allowed)"),
        .init(name: "owner's own object: not audited", request: "GET /orgs/acme/users/u-alice/x HTTP/1.1\r\nHost: a\r\nCookie: __Host-drawbridge=ALICE\r\n\r\n", auth: true, expected: "forward */orgs/ as u-alice aud app"),
        .init(name: "another user's object", request: "GET /orgs/acme/users/u-carol/x HTTP/1.1\r\nHost: a\r\nCookie: __Host-drawbridge=ALICE\r\n\r\n", auth: true, expected: "deny 403 on */orgs/ (\(DenyReason.notOwner))"),
        .init(name: "owner override: audited", request: "GET /orgs/acme/users/u-alice/x HTTP/1.1\r\nHost: a\r\nCookie: __Host-drawbridge=CAROL\r\n\r\n", auth: true, expected: "forward */orgs/ as u-carol aud app audited docs:read (owner override)"),
        .init(name: "owner override, another organisation", request: "GET /orgs/beta/users/u-alice/x HTTP/1.1\r\nHost: a\r\nCookie: __Host-drawbridge=CAROL\r\n\r\n", auth: true, expected: "deny 403 on */orgs/ (\(DenyReason.wrongOrganization))"),
        .init(name: "API key on a user's object: no override", request: "GET /orgs/acme/users/u-alice/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer KEY\r\n\r\n", auth: true, expected: "deny 403 on */orgs/ (\(DenyReason.notOwner))"),
        .init(name: "MFA route with a second factor", request: "GET /mfa/x HTTP/1.1\r\nHost: a\r\nCookie: __Host-drawbridge=ALICEMFA\r\n\r\n", auth: true, expected: "forward */mfa/ as u-alice aud app"),
    ]

    @Test(arguments: cases) func verdict(_ c: Case) throws {
        let table = try Self.table(auth: c.auth)
        let ring = try Self.table().auth!.ring
        let text = c.request.replacingOccurrences(of: "ALICEMFA", with: Self.session(Self.alice, mfa: true, ring: ring))
            .replacingOccurrences(of: "ALICE", with: Self.session(Self.alice, ring: ring)).replacingOccurrences(of: "BOB", with: Self.session(Self.bob, ring: ring))
            .replacingOccurrences(of: "CAROL", with: Self.session(Self.carol, ring: ring))
            .replacingOccurrences(of: "KEY", with: Self.key.presented)
        let v = decide(Self.view(text), table, credentials: Revocations(), now: Self.now)
        #expect(Self.describe(v) == c.expected)
    }

    /// The time is an argument: the same session is refused once its absolute lifetime is over.
    @Test func timeIsAnArgument() throws {
        let table = try Self.table()
        let request = Self.view("GET /docs/x HTTP/1.1\r\nHost: a\r\nCookie: __Host-drawbridge=\(Self.session(Self.alice, ring: table.auth!.ring))\r\n\r\n")
        #expect(Self.describe(decide(request, table, credentials: Revocations(), now: Self.now)) == "forward */docs/ as u-alice aud app")
        #expect(Self.describe(decide(request, table, credentials: Revocations(), now: Self.now + 7200)) == "401 rejected session on */docs/")
    }

    /// A verified API key is remembered per snapshot: the second request skips verification and
    /// gets the same identity; another byte string, or another snapshot, is verified afresh.
    @Test func verifiedKeysAreRememberedPerSnapshot() throws {
        let table = try Self.table()
        let credentials = Revocations()
        let request = Self.view("GET /docs/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(Self.key.presented)\r\n\r\n")
        guard case .forward(let a) = decide(request, table, credentials: credentials, now: Self.now),
              case .forward(let b) = decide(request, table, credentials: credentials, now: Self.now),
              case .apiKey(let ka)? = a.identity, case .apiKey(let kb)? = b.identity else { Issue.record("not forwarded"); return }
        #expect(ka === kb && credentials.verifiedKeys.hits == 1)
        // One character of the secret changed (inside it: all of its bits are data), same length.
        var chars = Array(Self.key.presented)
        chars[chars.count - 10] = chars[chars.count - 10] == "A" ? "B" : "A"
        let wrong = String(chars)
        let forged = Self.view("GET /docs/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(wrong)\r\n\r\n")
        #expect(Self.describe(decide(forged, table, credentials: credentials, now: Self.now)) == "401 rejected api_key on */docs/")
        #expect(credentials.verifiedKeys.hits == 1)
        _ = decide(request, try Self.table(), credentials: credentials, now: Self.now) // a reload: verified again
        #expect(credentials.verifiedKeys.hits == 1)
    }

    /// A key revoked (`drawbridge apikey revoke`, then a reload) is refused on its next request,
    /// though this worker had verified and remembered it: the memo belongs to the old snapshot.
    @Test func revokedKeyIsNotRememberedAcrossTheReload() throws {
        let credentials = Revocations()
        let request = Self.view("GET /docs/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(Self.key.presented)\r\n\r\n")
        let before = try Self.table()
        _ = decide(request, before, credentials: credentials, now: Self.now)
        #expect(Self.describe(decide(request, before, credentials: credentials, now: Self.now)) == "forward */docs/ as key k aud app")
        #expect(credentials.verifiedKeys.hits == 1)
        var revoked = Self.key.record
        revoked.revoked = true
        let after = try Self.table(apiKeys: [revoked])
        #expect(Self.describe(decide(request, after, credentials: credentials, now: Self.now)) == "401 rejected api_key on */docs/")
        #expect(Self.describe(decide(request, after, credentials: credentials, now: Self.now)) == "401 rejected api_key on */docs/")
        #expect(credentials.verifiedKeys.hits == 1)
        // Gone from the directory altogether: refused too.
        #expect(Self.describe(decide(request, try Self.table(apiKeys: []), credentials: credentials, now: Self.now)) == "401 rejected api_key on */docs/")
    }

    /// Browsers get pages, API clients JSON: the view says which.
    @Test func apiClientOrBrowser() {
        #expect(!Self.view("GET /x HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\n\r\n").isAPIClient)
        #expect(Self.view("GET /x HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n\r\n").isAPIClient)
        #expect(Self.view("GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: Basic x\r\n\r\n").isAPIClient)
        #expect(Self.view("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n").isAPIClient)
    }
}
