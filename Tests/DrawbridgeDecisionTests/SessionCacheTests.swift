import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeIdentity
import Foundation
import Testing
@testable import DrawbridgeDecision

/// The per-worker cache of opened session cookies: it may only skip decoding; every rule still
/// applies to a cached session on every request.
@Suite struct SessionCacheTests {
    static let now: UInt64 = 1_800_000_000
    static let key1 = SessionKey.generate(id: 1)
    static let key2 = SessionKey.generate(id: 2)
    static let alice = User(id: "u-alice", email: "alice@acme.test",
                            memberships: [Membership(orgId: "acme", roles: ["admin", "dev"], groups: ["ops"])], sessionEpoch: 4)
    static let bob = User(id: "u-bob", email: "bob@acme.test", memberships: [Membership(orgId: "acme", roles: ["viewer"])])

    /// A configuration with an auth section (parsed like the gateway's own), in a temporary directory.
    static func config(orgs: String = #"{ acme: { name: "Acme", emailDomains: ["acme.test"] } }"#) throws -> GatewayConfig {
        let dir = NSTemporaryDirectory() + "drawbridge-session-cache-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in ["a.crt", "a.key"] { _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data("x\n".utf8)) }
        return try ConfigLoader.parse(json5: """
            { listen: { https: "127.0.0.1:8443" }, tls: { certificates: [ { cert: "a.crt", key: "a.key" } ] },
              upstreams: { app: { servers: ["127.0.0.1:9000"] } }, routes: [ { upstream: "app" } ],
              auth: { modes: ["password", "api_key"], auditLog: "off", session: { idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 3600 } },
              organizations: \(orgs) }
            """, file: "drawbridge.json5", baseDirectory: dir)
    }

    static func runtime(users: [User] = [alice, bob], keys: [SessionKey] = [key1],
                        cutoffs: ModeCutoffs = ModeCutoffs(), now: UInt64 = now) throws -> AuthRuntime {
        try AuthRuntime(config: try config(), users: users, sessionKeys: keys, previous: cutoffs, now: now)
    }

    static func cookie(_ user: User = alice, issuedAt: UInt64 = now, mode: AuthMode = .password, epoch: UInt64? = nil,
                       ring: SessionKeyRing) throws -> [UInt8] {
        let c = SessionClaims(userId: user.id, orgId: "acme", authMode: mode, mfa: false, issuedAt: issuedAt,
                              expiresAt: issuedAt + 3600, lastSeen: issuedAt, epoch: epoch ?? user.sessionEpoch, sessionId: .random())
        return Array(try SessionToken.seal(c, with: ring).utf8)
    }

    static func check(_ cookie: [UInt8], _ auth: AuthRuntime, _ r: Revocations, now: UInt64 = now) -> AuthResult {
        cookie.withUnsafeBytes { Authenticator.session($0, auth: auth, revocations: r, now: now) }
    }

    static func userId(_ r: AuthResult) -> String? {
        if case .user(let s, _) = r { return s.userId }
        return nil
    }

    static func reason(_ r: AuthResult) -> String? {
        if case .rejected(let reason, _, _) = r { return reason }
        return nil
    }

    @Test func secondRequestHitsAndGivesTheSameIdentityAndFields() throws {
        let auth = try Self.runtime()
        let r = Revocations()
        let cookie = try Self.cookie(ring: auth.ring)
        let first = Self.check(cookie, auth, r)
        #expect(r.openedSessions.misses == 1 && r.openedSessions.hits == 0)
        let second = Self.check(cookie, auth, r, now: Self.now + 5)
        #expect(r.openedSessions.hits == 1)
        guard case .user(let a, nil) = first, case .user(let b, nil) = second else {
            Issue.record("not accepted: \(first) \(second)"); return
        }
        #expect(a === b)   // the cached session, fields rendered once
        #expect(b.identity.roles == ["admin", "dev"] && b.identity.groups == ["ops"] && b.orgId == "acme")
        let fields = String(decoding: b.upstreamFields, as: UTF8.self)
        #expect(fields == "X-Drawbridge-User: u-alice\r\nX-Drawbridge-Email: alice@acme.test\r\nX-Drawbridge-Org: acme\r\n"
            + "X-Drawbridge-Roles: admin,dev\r\nX-Drawbridge-Groups: ops\r\nX-Drawbridge-Auth-Mode: password\r\nX-Drawbridge-MFA: false\r\n")
    }

    @Test func differentCookieBytesNeverHit() throws {
        let auth = try Self.runtime()
        let r = Revocations()
        let cookie = try Self.cookie(ring: auth.ring)
        #expect(Self.userId(Self.check(cookie, auth, r)) == "u-alice")
        // Every single-byte change (same length, so same-slot collisions are exercised too) is
        // a miss and is refused by the full open: never served from the cached entry.
        for i in cookie.indices {
            var t = cookie
            t[i] = t[i] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            let result = Self.check(t, auth, r)
            #expect(Self.userId(result) == nil, "byte \(i) changed, still accepted")
        }
        #expect(r.openedSessions.hits == 0)
        // A longer or shorter value with the same ending (same slot) misses too.
        #expect(Self.userId(Self.check(Array("AAAA".utf8) + cookie, auth, r)) == nil)
        #expect(Self.userId(Self.check(Array(cookie.dropFirst(4)), auth, r)) == nil)
        #expect(r.openedSessions.hits == 0)
        // Another valid cookie of the same user is its own entry.
        let other = try Self.cookie(ring: auth.ring)
        #expect(Self.userId(Self.check(other, auth, r)) == "u-alice")
        #expect(r.openedSessions.hits == 0)
        #expect(Self.userId(Self.check(cookie, auth, r)) == "u-alice")
        #expect(r.openedSessions.hits == 1)
    }

    @Test func reloadEmptiesTheCache() throws {
        let auth = try Self.runtime()
        let r = Revocations()
        let cookie = try Self.cookie(ring: auth.ring)
        _ = Self.check(cookie, auth, r)
        _ = Self.check(cookie, auth, r)
        #expect(r.openedSessions.hits == 1)
        // A reload with the same key and users: a new runtime, so the next request opens again.
        let reloaded = try Self.runtime()
        #expect(Self.userId(Self.check(cookie, reloaded, r)) == "u-alice")
        #expect(r.openedSessions.hits == 1 && r.openedSessions.misses == 2)
        #expect(r.openedSessions.owner === reloaded)
    }

    @Test func removedKeyEndsCachedSessions() throws {
        let auth = try Self.runtime(keys: [Self.key1])
        let r = Revocations()
        let cookie = try Self.cookie(ring: auth.ring)
        _ = Self.check(cookie, auth, r)
        _ = Self.check(cookie, auth, r)
        // Key 1 replaced by key 2: the cached entry must not survive the reload.
        let rotated = try Self.runtime(keys: [Self.key2])
        #expect(Self.reason(Self.check(cookie, rotated, r)) == "session: unknownKeyId(1)")
    }

    @Test func disabledUserOrBumpedEpochEndsCachedSessions() throws {
        let auth = try Self.runtime()
        let r = Revocations()
        let cookie = try Self.cookie(ring: auth.ring)
        _ = Self.check(cookie, auth, r)
        var disabled = Self.alice
        disabled.status = .disabled
        #expect(Self.reason(Self.check(cookie, try Self.runtime(users: [disabled]), r)) == "session: userDisabled")
        var bumped = Self.alice
        bumped.sessionEpoch += 1
        #expect(Self.reason(Self.check(cookie, try Self.runtime(users: [bumped]), r)) == "session: epochMismatch")
    }

    @Test func revokedSessionIsRefusedEvenWhenCached() throws {
        let auth = try Self.runtime()
        var r = Revocations()
        let cookie = try Self.cookie(ring: auth.ring)
        guard case .user(let s, _) = Self.check(cookie, auth, r) else { Issue.record("not accepted"); return }
        #expect(Self.userId(Self.check(cookie, auth, r)) == "u-alice")
        let signedOut = RevocationSet.empty.adding(.session(s.sessionId, expiresAt: Self.now + 3600), at: Self.now)
        r = Revocations(openedSessions: r.openedSessions, set: signedOut)
        #expect(Self.reason(Self.check(cookie, auth, r)) == "session: revoked (signed out)")
        #expect(r.openedSessions.hits == 2)   // it was found in the cache, and refused all the same
        // "Sign out everywhere" too.
        var all = Revocations()
        _ = Self.check(cookie, auth, all)
        let everywhere = RevocationSet.empty.adding(.allOfUser("u-alice", issuedAtOrBefore: Self.now), at: Self.now)
        all = Revocations(openedSessions: all.openedSessions, set: everywhere)
        #expect(Self.reason(Self.check(cookie, auth, all)) == "session: revoked (signed out)")
    }

    @Test func expiryAndTimeoutsApplyToCachedSessions() throws {
        let auth = try Self.runtime()
        let r = Revocations()
        let cookie = try Self.cookie(ring: auth.ring)
        #expect(Self.userId(Self.check(cookie, auth, r)) == "u-alice")
        // Idle window 600 s (no renewal reached the client in this test).
        #expect(Self.reason(Self.check(cookie, auth, r, now: Self.now + 600)) == "session: idleTimeout")
        // The token's own expiry (issued + 3600).
        #expect(Self.reason(Self.check(cookie, auth, r, now: Self.now + 3600)) == "session: expired")
        #expect(r.openedSessions.hits == 2)
        // Still fine before the limits, from the cache.
        #expect(Self.userId(Self.check(cookie, auth, r, now: Self.now + 200)) == "u-alice")
    }

    @Test func expiredUserIsRefusedWhenCached() throws {
        var alice = Self.alice
        alice.expiresAt = Self.now + 100
        let auth = try Self.runtime(users: [alice])
        let r = Revocations()
        let cookie = try Self.cookie(alice, ring: auth.ring)
        #expect(Self.userId(Self.check(cookie, auth, r)) == "u-alice")
        #expect(Self.reason(Self.check(cookie, auth, r, now: Self.now + 100)) == "session: userExpired")
        #expect(r.openedSessions.hits == 1)
    }

    @Test func renewalGivesANewCookieThatIsItsOwnEntry() throws {
        let auth = try Self.runtime()
        let r = Revocations()
        let cookie = try Self.cookie(ring: auth.ring)
        _ = Self.check(cookie, auth, r)
        // Past half the idle window (300 s): the cached session still renews.
        guard case .user(_, let renewal?) = Self.check(cookie, auth, r, now: Self.now + 301) else {
            Issue.record("no renewal"); return
        }
        #expect(r.openedSessions.hits == 1)
        // The whole Set-Cookie value, with the attributes of issue (Max-Age: the session's end, unmoved).
        let parts = renewal.split(separator: ";", maxSplits: 1)
        #expect(parts[0].hasPrefix("__Host-drawbridge=") && parts[1].contains("HttpOnly") && parts[1].contains("Max-Age="))
        let renewed = Array(parts[0].dropFirst("__Host-drawbridge=".count).utf8)
        #expect(renewed != cookie)
        guard case .user(_, nil) = Self.check(renewed, auth, r, now: Self.now + 302) else { Issue.record("renewed cookie refused"); return }
        #expect(r.openedSessions.misses == 2)   // the renewed cookie was opened, not matched
        // The renewed cookie's idle window starts again; the old one still ends at +600.
        #expect(Self.userId(Self.check(renewed, auth, r, now: Self.now + 700)) == "u-alice")
        #expect(Self.reason(Self.check(cookie, auth, r, now: Self.now + 700)) == "session: idleTimeout")
    }

    @Test func modeCutoffAppliesToCachedSessions() throws {
        let cutoffs = ModeCutoffs().updated(orgs: [Organization(id: "acme", displayName: "Acme", modePolicy: .disable([.password]))],
                                            knownModes: [.password, .apiKey], global: GlobalAuthSettings(enabledModes: [.password, .apiKey]),
                                            now: Self.now + 10)
        let auth = try Self.runtime()
        let r = Revocations()
        let cookie = try Self.cookie(ring: auth.ring)
        _ = Self.check(cookie, auth, r)
        // The same sessions after a reload whose cut-off table says password was off at now + 10.
        let reloaded = try Self.runtime(cutoffs: cutoffs, now: Self.now + 20)
        #expect(Self.reason(Self.check(cookie, reloaded, r, now: Self.now + 20))?.hasPrefix("session: issued before password") == true)
        #expect(Self.reason(Self.check(cookie, reloaded, r, now: Self.now + 21))?.hasPrefix("session: issued before password") == true)
        #expect(r.openedSessions.hits == 0)   // refused sessions are never cached
    }

    @Test func boundedSize() throws {
        let auth = try Self.runtime()
        let r = Revocations()
        for _ in 0..<(SessionCache.capacity + 200) {
            #expect(Self.userId(Self.check(try Self.cookie(ring: auth.ring), auth, r)) == "u-alice")
        }
        #expect(r.openedSessions.count <= SessionCache.capacity)
    }

    @Test func cookiesSharingASetStayCached() throws {
        let auth = try Self.runtime()
        let r = Revocations()
        // Four cookies that fall into the same set (a direct-mapped table kept only the last).
        var bySet: [Int: [[UInt8]]] = [:]
        var same: [[UInt8]] = []
        while same.count < SessionCache.ways {
            let c = try Self.cookie(ring: auth.ring)
            let set = c.withUnsafeBytes { SessionCache.set($0) }
            bySet[set, default: []].append(c)
            if bySet[set]!.count == SessionCache.ways { same = bySet[set]! }
        }
        for c in same { _ = Self.check(c, auth, r) }
        let before = r.openedSessions.hits
        for c in same { #expect(Self.userId(Self.check(c, auth, r)) == "u-alice") }
        #expect(r.openedSessions.hits == before + SessionCache.ways)
    }

    @Test func workersDoNotShareTheCache() {
        // Each worker's Revocations() has its own cache; copies within a worker share it.
        let a = Revocations(), b = Revocations()
        let copy = a
        #expect(a.openedSessions !== b.openedSessions)
        #expect(copy.openedSessions === a.openedSessions)
    }
}
