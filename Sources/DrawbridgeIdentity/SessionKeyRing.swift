import DrawbridgeCrypto
import Glibc

public enum SessionKeyRingError: Error, Hashable, Sendable {
    case wrongKeyLength(id: UInt8)
    case duplicateKeyId(UInt8)
}

/// One AES-256-GCM session key and the 1-byte id written in front of every token it seals.
public struct SessionKey: Sendable {
    public let id: UInt8
    public let material: [UInt8]

    public init(id: UInt8, material: [UInt8]) throws(SessionKeyRingError) {
        guard material.count == AESGCM.keySize else { throw .wrongKeyLength(id: id) }
        self.id = id
        self.material = material
    }

    /// A fresh random key (for tests and first start; production keys come from config).
    public static func generate(id: UInt8) -> SessionKey {
        try! SessionKey(id: id, material: SecureRandom.bytes(AESGCM.keySize))
    }
}

/// The current key seals; older keys still open, so rotating the key logs nobody out. Dropping
/// a key from the ring invalidates every session sealed under it.
///
/// No session key seals anything itself: every seal uses a subkey derived for its purpose
/// (session, mfa, oidc state, return address) and a random 64-bit subkey id, replaced after a
/// bounded number of seals and at least daily (`SubkeySealer`). The token carries the subkey id,
/// so any holder of the ring re-derives the key that opens it.
public struct SessionKeyRing: Sendable {
    public let current: SessionKey
    private let byId: [UInt8: SessionKey]
    /// The subkeys this ring seals with (shared by every copy of the ring).
    public let sealer: SubkeySealer

    public init(current: SessionKey, previous: [SessionKey] = []) throws(SessionKeyRingError) {
        var byId = [current.id: current]
        for key in previous {
            // Two keys under one id would make the id ambiguous: which one opens?
            guard byId.updateValue(key, forKey: key.id) == nil else { throw .duplicateKeyId(key.id) }
        }
        self.current = current
        self.byId = byId
        sealer = SubkeySealer(key: current)
    }

    public func key(id: UInt8) -> SessionKey? { byId[id] }

    public var keyIds: [UInt8] { byId.keys.sorted() }
}

/// What a sealed value is for. Part of the subkey derivation and of the associated data, so a
/// value minted for one purpose never opens as another.
public enum SealPurpose: String, Sendable, CaseIterable {
    case session
    /// The pending second-factor step.
    case mfa
    /// The OIDC sign-in in flight (state, nonce, PKCE verifier).
    case oidc
    /// The page to return to after signing in.
    case returnAddress = "return"
}

extension SessionKey {
    /// The subkey of this key for `purpose` and an 8-byte subkey id:
    /// HKDF-SHA256(key, salt "drawbridge-subkey-v2", info purpose | 0 | id).
    public func subkey(_ purpose: SealPurpose, id: some Collection<UInt8>) -> [UInt8] {
        HKDF.sha256(ikm: material, salt: Array("drawbridge-subkey-v2".utf8), info: Array(purpose.rawValue.utf8) + [0] + Array(id))
    }
}

/// The key a seal uses: which session key, which subkey id, and the derived material.
public struct Subkey: Sendable {
    public let keyId: UInt8
    /// 8 random bytes, written into the sealed value.
    public let id: [UInt8]
    public let material: [UInt8]
}

/// Hands out the subkey for each seal. Random-nonce AES-GCM must stay well below 2^32 messages
/// per key (NIST SP 800-38D §8.3); a subkey seals at most `maxUses` values (2^24 by default) and
/// lives at most `maxAgeSeconds` (a day), then a new random subkey id is drawn. Ids are random
/// rather than counted so that several processes (or gateways) sharing the session key never
/// share a subkey's budget. Thread-safe (a short lock per seal; seals happen at sign-in and at
/// a session's sliding renewal, not per request).
public final class SubkeySealer: @unchecked Sendable {
    public static let idSize = 8
    public let maxUses: UInt64
    public let maxAgeSeconds: Double
    private let key: SessionKey
    private let clock: @Sendable () -> Double
    private var lock = pthread_mutex_t()
    private var current: [SealPurpose: (subkey: Subkey, uses: UInt64, born: Double)] = [:]

    public init(key: SessionKey, maxUses: UInt64 = 1 << 24, maxAgeSeconds: Double = 86_400,
                clock: @escaping @Sendable () -> Double = SubkeySealer.monotonicSeconds) {
        self.key = key
        self.maxUses = max(1, maxUses)
        self.maxAgeSeconds = maxAgeSeconds
        self.clock = clock
        pthread_mutex_init(&lock, nil)
    }

    public static let monotonicSeconds: @Sendable () -> Double = {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// The subkey for one more seal for `purpose` (counted).
    public func next(_ purpose: SealPurpose) -> Subkey {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        let now = clock()
        if var c = current[purpose], c.uses < maxUses, now - c.born < maxAgeSeconds {
            c.uses += 1
            current[purpose] = c
            return c.subkey
        }
        let id = SecureRandom.bytes(Self.idSize)
        let subkey = Subkey(keyId: key.id, id: id, material: key.subkey(purpose, id: id))
        current[purpose] = (subkey, 1, now)
        return subkey
    }
}
