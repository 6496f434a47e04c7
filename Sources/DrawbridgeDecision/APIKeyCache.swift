import DrawbridgeIdentity
import DrawbridgePolicy

/// An API key that checked out: who it is, its credential as the policy sees it, and its
/// X-Drawbridge-* fields for the upstream, rendered once. Immutable: a cached one is handed to
/// every request presenting the same key.
public final class AuthenticatedAPIKey: Sendable {
    let key: APIKeyIdentity
    let credential: Credential
    public let upstreamFields: [UInt8]

    init(_ key: APIKeyIdentity) {
        self.key = key
        credential = .apiKey(key)
        upstreamFields = IdentityFields.render(key)
    }

    public var keyId: String { key.keyId }
    public var orgId: String { key.orgId }
    public var roles: [String] { key.roles }
}

/// The API keys one worker has verified, so a key presented again skips the verification work
/// (parsing, SHA-256, the directory lookups, the mode and cut-off checks) and the rendering of
/// its identity fields. Every input of that verification lives in one `AuthRuntime` (directory,
/// revocations of keys, org modes, cut-offs), so an entry is valid exactly as long as its runtime:
/// a reload empties the cache.
///
/// - Key: the exact presented bytes, compared in full in constant time (`SessionCache.equal`);
///   the slot only picks where to look. Only keys that passed every check are stored (every valid
///   key is `APIKey.length` bytes: the slots hold that many, side by side in one array, so a
///   lookup copies and retains nothing but the key it returns).
/// - A bounded table (256 entries in 4-way sets); one per worker thread (no locks).
public final class APIKeyCache {
    static let capacity = 256
    static let ways = FourWaySets.ways
    static let keyLength = APIKey.length
    /// Slot i's presented bytes: `presented[i * keyLength ..< (i + 1) * keyLength]` when `keys[i]` is set.
    private var presented: [UInt8] = []
    private var keys: [AuthenticatedAPIKey?] = []
    private(set) var owner: AuthRuntime?
    private var placement = FourWaySets()
    private(set) var hits = 0

    public init() {}

    func lookup(_ p: UnsafeRawBufferPointer, auth: AuthRuntime) -> AuthenticatedAPIKey? {
        guard owner === auth, p.count == Self.keyLength, !keys.isEmpty else {
            if owner != nil && owner !== auth { clear() } // another snapshot now: nothing verified under the old one counts
            return nil
        }
        let base = Self.set(p) * Self.ways
        let slot = presented.withUnsafeBytes { all in
            keys.withUnsafeBufferPointer { keys in
                for w in 0..<Self.ways where keys[base + w] != nil {
                    let start = (base + w) * Self.keyLength
                    if SessionCache.equal(UnsafeRawBufferPointer(rebasing: all[start..<start + Self.keyLength]), p) { return base + w }
                }
                return -1
            }
        }
        guard slot >= 0 else { return nil }
        hits &+= 1
        return keys[slot]
    }

    func insert(_ p: UnsafeRawBufferPointer, _ key: AuthenticatedAPIKey, auth: AuthRuntime) {
        guard p.count == Self.keyLength else { return }
        if owner !== auth || keys.isEmpty {
            presented = [UInt8](repeating: 0, count: Self.capacity * Self.keyLength)
            keys = [AuthenticatedAPIKey?](repeating: nil, count: Self.capacity)
            owner = auth
        }
        let slot = placement.slot(base: Self.set(p) * Self.ways) { keys[$0] == nil }
        let start = slot * Self.keyLength
        presented.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: start).copyMemory(from: p.baseAddress!, byteCount: Self.keyLength) }
        keys[slot] = key
    }

    func clear() {
        presented = []
        keys = []
        owner = nil
    }

    /// The set of a key (`FourWaySets`; internal: tests find keys that share a set).
    @inline(__always) static func set(_ p: UnsafeRawBufferPointer) -> Int { FourWaySets.set(p, sets: capacity / ways) }
}
