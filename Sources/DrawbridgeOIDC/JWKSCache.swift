import DrawbridgeCrypto
#if canImport(Glibc)
import Glibc
#endif

/// The provider's signing keys (its `jwks_uri` document), fetched on first use and refetched when
/// a token names a kid the cache does not have (key rotation) — at most once per
/// `minRefreshInterval` seconds, so tokens with made-up kids cannot make the gateway hammer the
/// provider. Thread-safe; a fetch happens under the lock, so concurrent callers wait for it
/// instead of fetching again.
public final class JWKSCache: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let fetchDocument: (@Sendable () throws(OIDCError) -> [UInt8])?
    private let minRefreshInterval: Int64
    private let clock: @Sendable () -> Int64
    private var entries: [JWK.Entry] = []
    private var lastAttempt: Int64? = nil
    /// Why the last fetch failed (nil after a success): repeated while throttled.
    private var lastError: OIDCError? = nil

    /// A cache of the keys at `jwksURI`, fetched with the provider's CA file and timeout.
    public convenience init(jwksURI: String, settings: OIDCProviderSettings, minRefreshInterval: Int64 = 30,
                            clock: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }) {
        let caFile = settings.caFile, timeout = settings.timeout
        self.init(minRefreshInterval: minRefreshInterval, clock: clock) { () throws(OIDCError) -> [UInt8] in
            try HTTPSClient.fetch(method: "GET", url: jwksURI, caFile: caFile, timeout: timeout, context: "jwks").body
        }
    }

    /// A cache whose JWK Set documents come from `fetch` (tests, or keys obtained elsewhere).
    public init(minRefreshInterval: Int64 = 30, clock: @escaping @Sendable () -> Int64 = { Int64(time(nil)) },
                fetch: @escaping @Sendable () throws(OIDCError) -> [UInt8]) {
        mutex = Self.makeMutex()
        fetchDocument = fetch
        self.minRefreshInterval = minRefreshInterval
        self.clock = clock
    }

    /// A fixed set of keys that is never refetched.
    public init(preloaded: [JWK.Entry]) {
        mutex = Self.makeMutex()
        fetchDocument = nil
        minRefreshInterval = 0
        clock = { 0 }
        entries = preloaded
        lastAttempt = 0
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    private static func makeMutex() -> UnsafeMutablePointer<pthread_mutex_t> {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }

    /// The keys for a token's `kid` (all keys when it has none). Fetches on first use; on an
    /// unknown kid refetches if the last attempt is at least `minRefreshInterval` seconds old.
    /// Returns an empty array when the kid stays unknown. Throws when a needed fetch fails (or,
    /// while throttled, when the last one failed) and no cached key matches; the cached keys are
    /// kept when a refetch fails.
    public func keys(kid: String?) throws(OIDCError) -> [JWS.Key] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let cached = JWK.select(entries, kid: kid)
        if !cached.isEmpty { return cached }
        guard let fetchDocument else { return [] }
        let now = clock()
        if let last = lastAttempt, now - last < minRefreshInterval, now >= last {
            if let lastError { throw lastError }
            return []
        }
        lastAttempt = now
        let initial = entries.isEmpty
        do throws(OIDCError) {
            let doc = try fetchDocument()
            let set: [JWK.Entry]
            do { set = try JWK.parseSet(doc) } catch { throw .invalidResponse(context: "jwks", reason: "not a JWK Set") }
            guard !set.isEmpty else { throw .invalidResponse(context: "jwks", reason: "no usable signing keys") }
            entries = set
            lastError = nil
            // The first load does not count against the refetch budget: a key rotated just after
            // it must still be fetchable by the next token (made-up kids then cost one fetch per interval).
            if initial { lastAttempt = nil }
        } catch {
            lastError = error
            throw error
        }
        return JWK.select(entries, kid: kid)
    }
}
