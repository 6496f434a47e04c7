import DrawbridgeCrypto
import DrawbridgeDecision
import DrawbridgeIdentity
import DrawbridgeStore

/// Signed identity assertions for upstreams: a compact JWS (ES256, by the highest-numbered
/// `assertion-key-<n>`) stating who is asking, for one audience, valid for a minute. An app can
/// verify it with the keys the gateway publishes at `/.drawbridge/jwks.json` instead of trusting
/// bare headers.
///
/// One signer per worker (single-threaded, no locks). An ECDSA signature costs tens of
/// microseconds, so an assertion is signed once per (credential, audience) and reused while it
/// has more than half its lifetime left; a new configuration snapshot starts a new signer (roles,
/// groups or keys may have changed).
final class AssertionSigner {
    /// A session by its 16-byte id (as two words: hashing integers, no array or String), an API
    /// key by its id; with the audience's number in the snapshot (`Snapshot.routeAudience`).
    struct CacheKey: Hashable {
        let a: UInt64, b: UInt64
        let apiKey: String?
        let audience: Int
    }
    private struct Entry {
        let token: [UInt8]
        let expiresAt: UInt64
    }

    let key: AssertionKey
    let issuer: String
    static let lifetime: UInt64 = 60
    /// Entries kept at most; past it expired ones go, and if none had, all.
    static let capacity = 4096
    private var cache: [CacheKey: Entry] = [:]

    init(key: AssertionKey, issuer: String) {
        self.key = key
        self.issuer = issuer
    }

    /// The assertion for `identity` towards `audience`, signed now or reused. `pseudonyms`: the
    /// route's (every route of one audience agrees, so the cache key need not say).
    func assertion(for identity: RequestIdentity, audienceNumber: Int, audience: String, now: UInt64,
                   pseudonyms: Pseudonymizer? = nil) -> [UInt8]? {
        let ck: CacheKey
        switch identity {
        case .user(let i):
            let (a, b) = i.sessionId.bytes.withUnsafeBytes { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
            ck = CacheKey(a: a, b: b, apiKey: nil, audience: audienceNumber)
        case .apiKey(let k): ck = CacheKey(a: 0, b: 0, apiKey: k.keyId, audience: audienceNumber)
        }
        // Reused while more than half its life is left: upstreams always get ≥ 30 s of validity.
        if let e = cache[ck], now + Self.lifetime / 2 < e.expiresAt { return e.token }
        guard let token = sign(identity, audience: audience, now: now, pseudonyms: pseudonyms) else { return nil }
        if cache.count >= Self.capacity {
            cache = cache.filter { now < $0.value.expiresAt }
            if cache.count >= Self.capacity { cache.removeAll(keepingCapacity: true) }
        }
        cache[ck] = Entry(token: token, expiresAt: now + Self.lifetime)
        return token
    }

    private func sign(_ identity: RequestIdentity, audience: String, now: UInt64, pseudonyms: Pseudonymizer?) -> [UInt8]? {
        var claims = "{\"iss\":\(JSONString.quote(issuer)),\"aud\":\(JSONString.quote(audience)),\"iat\":\(now),\"exp\":\(now + Self.lifetime)"
        claims += ",\"jti\":\"\(Base64URL.encode(SecureRandom.bytes(12)))\""
        // A pseudonymous route: the pairwise subject and sid, no email or API key id (IDENTITY.md).
        switch identity {
        case .user(let i):
            let sub = pseudonyms?.subject(i.userId) ?? i.userId
            let sid = pseudonyms?.sessionId(i.sessionId)
                ?? Base64URL.encode(SHA256.hash(Array(i.sessionId.text.utf8))).prefix(22).description
            claims += ",\"sub\":\(JSONString.quote(sub))"
            if pseudonyms == nil { claims += ",\"email\":\(JSONString.quote(i.email))" }
            claims += ",\"org\":\(JSONString.quote(i.orgId))"
            claims += ",\"roles\":[\(i.roles.map(JSONString.quote).joined(separator: ","))]"
            claims += ",\"groups\":[\(i.groups.map(JSONString.quote).joined(separator: ","))]"
            claims += ",\"auth_mode\":\(JSONString.quote(i.authMode.description)),\"mfa\":\(i.mfa)"
            claims += ",\"sid\":\(JSONString.quote(sid))"
        case .apiKey(let k):
            claims += ",\"sub\":\(JSONString.quote(pseudonyms?.subject("apikey:" + k.keyId) ?? "apikey:" + k.keyId))"
            if pseudonyms == nil { claims += ",\"api_key\":\(JSONString.quote(k.keyId))" }
            claims += ",\"org\":\(JSONString.quote(k.orgId))"
            claims += ",\"roles\":[\(k.roles.map(JSONString.quote).joined(separator: ","))],\"auth_mode\":\"api_key\",\"mfa\":false"
        }
        if pseudonyms != nil { claims += ",\"pseudonymous\":true" }
        claims += "}"
        guard let jws = try? JWS.signES256(payloadJSON: Array(claims.utf8), kid: key.kid, key: key.key) else { return nil }
        return Array(jws.utf8)
    }

    /// `{"keys":[…]}` for every configured assertion key (old ones stay published while listed,
    /// so assertions signed before a rotation still verify).
    static func jwks(_ keys: [AssertionKey]) -> String {
        "{\"keys\":[" + keys.map { $0.key.publicKey.jwkJSON(kid: $0.kid) }.joined(separator: ",") + "]}"
    }
}

/// A worker's signer for the newest snapshot it has seen. Requests still on an older snapshot
/// (during a reload) get a signer of their own that is not kept.
struct AssertionSigners {
    private var current: AssertionSigner?
    private var generation = -1

    mutating func signer(for snapshot: Snapshot) -> AssertionSigner? {
        guard let key = snapshot.assertionKeys.last else { return nil }
        if snapshot.generation == generation { return current }
        let s = AssertionSigner(key: key, issuer: "drawbridge")
        if snapshot.generation > generation {
            current = s
            generation = snapshot.generation
        }
        return s
    }
}
