import DrawbridgeCrypto
import DrawbridgeIdentity

/// Pairwise pseudonymous subjects (`identity: "pseudonymous"` on a route; OpenID Connect Core
/// §8.1 calls them pairwise identifiers): the upstream learns a stable subject for the user that
/// is different for every audience, so two applications cannot join their users by identifier.
///
///     subject = base64url( HMAC-SHA256( pseudonym-key, "drawbridge-pairwise-v1" 0x00 len(audience) audience user id ) )
///
/// with len(audience) its UTF-8 length as 4 bytes big-endian (so no two (audience, user) pairs
/// give the same input).
///
/// The key is the sealed secret `pseudonym-key` (`drawbridge secret set pseudonym-key --random`);
/// a configuration with a pseudonymous route and no key is refused. The same user gets the same
/// subject across sign-ins, sessions and restarts; changing the key changes every subject.
public final class Pseudonymizer: @unchecked Sendable {
    static let secretName = "pseudonym-key"
    let key: PseudonymKey
    let audience: String
    /// The audience's number in its snapshot (`CompiledRoute.audienceNumber`): the cache key.
    let audienceNumber: Int

    init(key: PseudonymKey, audience: String, audienceNumber: Int) {
        self.key = key
        self.audience = audience
        self.audienceNumber = audienceNumber
    }

    /// The pairwise subject of a user id (API keys: "apikey:<id>").
    public func subject(_ local: String) -> String {
        key.derive("pairwise", audience, local)
    }

    /// A session id for the assertion's `sid` that is pairwise too (the raw one would link audiences).
    public func sessionId(_ id: SessionID) -> String {
        String(key.derive("sid", audience, id.text).prefix(22))
    }
}

/// The opened `pseudonym-key`, one object per snapshot (worker caches are tied to it).
final class PseudonymKey: @unchecked Sendable {
    private let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func derive(_ purpose: String, _ audience: String, _ local: String) -> String {
        let a = Array(audience.utf8), n = UInt32(a.count)
        let input = Array("drawbridge-\(purpose)-v1\u{0}".utf8) + [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
            + a + Array(local.utf8)
        return Base64URL.encode(HMAC.sha256(key: bytes, data: input))
    }

    /// The snapshot's key: nil when no route asks for pseudonyms; throws when one does and the
    /// secret is missing or too short to be a key.
    static func load(_ secrets: [String: [UInt8]], neededBy path: String?) throws -> PseudonymKey? {
        guard let path else { return nil }
        let name = Pseudonymizer.secretName
        guard let bytes = secrets[name] else {
            throw AuthSetupError(description: "\(path): pseudonymous identity needs the secret \"\(name)\": create it once with "
                                 + "`drawbridge secret set \(name) --random` (and keep it: a new key changes every pseudonym)")
        }
        guard bytes.count >= 16 else {
            throw AuthSetupError(description: "\(path): secret \"\(name)\" is \(bytes.count) bytes; at least 16 (use --random)")
        }
        return PseudonymKey(bytes)
    }
}

/// The pseudonymous identity fields, rendered once per (session, audience) on each worker.
/// Keyed by the session object itself (immutable: a renewed or stepped-up session is a new
/// object) or the API key id; emptied when a new snapshot's key object appears, or when full.
public struct PseudonymCache {
    private struct Key: Hashable {
        let session: ObjectIdentifier?
        let apiKey: String?
        let audience: Int
    }
    private struct Entry {
        let session: AuthenticatedSession? // held: its ObjectIdentifier cannot be reused while cached
        let fields: [UInt8]
    }
    static let capacity = 4096
    private var entries: [Key: Entry] = [:]
    private var owner: PseudonymKey?

    public init() {}

    public mutating func fields(_ identity: RequestIdentity, _ p: Pseudonymizer) -> [UInt8] {
        if owner !== p.key {
            entries.removeAll(keepingCapacity: true)
            owner = p.key
        }
        let key: Key
        switch identity {
        case .user(let s): key = Key(session: ObjectIdentifier(s), apiKey: nil, audience: p.audienceNumber)
        case .apiKey(let k): key = Key(session: nil, apiKey: k.keyId, audience: p.audienceNumber)
        }
        if let e = entries[key] { return e.fields }
        let fields = IdentityFields.renderPseudonymous(identity, p)
        if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
        if case .user(let s) = identity { entries[key] = Entry(session: s, fields: fields) } else { entries[key] = Entry(session: nil, fields: fields) }
        return fields
    }
}

extension IdentityFields {
    /// A pairwise subject instead of the user id (or API key id); no email; org, roles, groups,
    /// mode and MFA as they are (what the app authorises on, and not personal by themselves).
    static func renderPseudonymous(_ identity: RequestIdentity, _ p: Pseudonymizer) -> [UInt8] {
        var out: [UInt8] = []
        switch identity {
        case .user(let s):
            line(&out, "X-Drawbridge-User: ", p.subject(s.userId))
            line(&out, "X-Drawbridge-Org: ", s.orgId)
            line(&out, "X-Drawbridge-Roles: ", s.roles.joined(separator: ","))
            line(&out, "X-Drawbridge-Groups: ", s.groups.joined(separator: ","))
            line(&out, "X-Drawbridge-Auth-Mode: ", s.authMode.description)
            line(&out, "X-Drawbridge-MFA: ", s.mfa ? "true" : "false")
        case .apiKey(let k):
            line(&out, "X-Drawbridge-API-Key: ", p.subject("apikey:" + k.keyId))
            line(&out, "X-Drawbridge-Org: ", k.orgId)
            line(&out, "X-Drawbridge-Roles: ", k.roles.joined(separator: ","))
            line(&out, "X-Drawbridge-Auth-Mode: ", "api_key")
        }
        line(&out, "X-Drawbridge-Identity: ", "pseudonymous")
        return out
    }
}
