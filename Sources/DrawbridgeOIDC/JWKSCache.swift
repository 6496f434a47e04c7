import DrawbridgeCrypto
#if canImport(Glibc)
import Glibc
#endif

/// A fetched document and how long it may be used (from its Cache-Control).
public struct FetchedDocument: Sendable {
    public var body: [UInt8]
    /// Seconds of freshness the provider allows: `max-age`, 0 for `no-store`/`no-cache`, nil
    /// when it says nothing.
    public var maxAge: Int64?

    public init(body: [UInt8], maxAge: Int64?) {
        self.body = body
        self.maxAge = maxAge
    }
}

/// The provider's signing keys (its `jwks_uri` document).
///
/// - Keys expire by age: the document's Cache-Control `max-age` (no-store/no-cache: at once),
///   capped at `maxKeyAge` (one hour; also the lifetime when the provider says nothing). A key
///   the provider removed stops being trusted within that time, whatever tokens name.
/// - An unknown `kid` refetches, and so does a signature that fails with a key the token did
///   select (same kid, or no kid: new keys under old kids, kid-less rotation) — at most once per
///   `minRefreshInterval` seconds, so made-up tokens cannot make the gateway hammer the provider.
/// Thread-safe; a fetch happens under the lock, so concurrent callers wait for it instead of
/// fetching again. Expired keys are never used, even when a refetch fails (fail closed).
public final class JWKSCache: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let fetchDocument: (@Sendable () throws(OIDCError) -> FetchedDocument)?
    private let minRefreshInterval: Int64
    private let maxKeyAge: Int64
    private let clock: @Sendable () -> Int64
    private var entries: [JWK.Entry] = []
    private var expiresAt: Int64 = .max
    private var lastAttempt: Int64? = nil
    /// Why the last fetch failed (nil after a success): repeated while throttled.
    private var lastError: OIDCError? = nil

    /// Seconds on the monotonic clock (a wall-clock step neither freezes nor skips the limits).
    public static let monotonicSeconds: @Sendable () -> Int64 = {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec)
    }

    /// A cache of the keys at `jwksURI`, fetched with the provider's CA file and timeout.
    public convenience init(jwksURI: String, settings: OIDCProviderSettings, minRefreshInterval: Int64 = 30, maxKeyAge: Int64 = 3600,
                            clock: @escaping @Sendable () -> Int64 = JWKSCache.monotonicSeconds) {
        let caFile = settings.caFile, timeout = settings.timeout
        self.init(minRefreshInterval: minRefreshInterval, maxKeyAge: maxKeyAge, clock: clock, fetchDocument: { () throws(OIDCError) -> FetchedDocument in
            let r = try HTTPSClient.fetch(method: "GET", url: jwksURI, caFile: caFile, timeout: timeout, context: "jwks")
            return FetchedDocument(body: r.body, maxAge: CacheControl.maxAge(r.header("cache-control")))
        })
    }

    /// A cache whose JWK Set documents come from `fetch` (tests, or keys obtained elsewhere);
    /// they are kept `maxKeyAge` seconds.
    public convenience init(minRefreshInterval: Int64 = 30, maxKeyAge: Int64 = 3600,
                            clock: @escaping @Sendable () -> Int64 = JWKSCache.monotonicSeconds,
                            fetch: @escaping @Sendable () throws(OIDCError) -> [UInt8]) {
        self.init(minRefreshInterval: minRefreshInterval, maxKeyAge: maxKeyAge, clock: clock, fetchDocument: { () throws(OIDCError) -> FetchedDocument in
            FetchedDocument(body: try fetch(), maxAge: nil)
        })
    }

    public init(minRefreshInterval: Int64 = 30, maxKeyAge: Int64 = 3600, clock: @escaping @Sendable () -> Int64 = JWKSCache.monotonicSeconds,
                fetchDocument: @escaping @Sendable () throws(OIDCError) -> FetchedDocument) {
        mutex = Self.makeMutex()
        self.fetchDocument = fetchDocument
        self.minRefreshInterval = minRefreshInterval
        self.maxKeyAge = maxKeyAge
        self.clock = clock
    }

    /// A fixed set of keys that is never refetched.
    public init(preloaded: [JWK.Entry]) {
        mutex = Self.makeMutex()
        fetchDocument = nil
        minRefreshInterval = 0
        maxKeyAge = .max
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

    /// The keys for a token's `kid` (all keys when it has none). Fetches on first use and when the
    /// keys expired; on an unknown kid refetches if the last attempt is at least
    /// `minRefreshInterval` seconds old. Returns an empty array when the kid stays unknown. Throws
    /// when a needed fetch fails (or, while throttled, when the last one failed) and no usable
    /// cached key matches.
    public func keys(kid: String?) throws(OIDCError) -> [JWS.Key] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard let fetchDocument else { return JWK.select(entries, kid: kid) }
        let now = clock()
        if entries.isEmpty || now >= expiresAt {
            // Expired keys are dropped first: if the refetch fails they are not used any more.
            if !entries.isEmpty { entries = []; lastAttempt = nil }
            try fetch(fetchDocument, now: now, initial: true)
            return JWK.select(entries, kid: kid)
        }
        let cached = JWK.select(entries, kid: kid)
        if !cached.isEmpty { return cached }
        guard mayRefetch(now) else {
            if let lastError { throw lastError }
            return []
        }
        try fetch(fetchDocument, now: now, initial: false)
        return JWK.select(entries, kid: kid)
    }

    /// A signature failed with the keys the token selected (same kid, or no kid): the provider
    /// may have put a new key under an old kid, or rotated kid-less keys. Refetches once (same
    /// budget as an unknown kid); true when a new key set was loaded and the check is worth
    /// repeating.
    public func refreshAfterFailedSignature() -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard let fetchDocument else { return false }
        let now = clock()
        guard mayRefetch(now) else { return false }
        do { try fetch(fetchDocument, now: now, initial: false) } catch { return false }
        return true
    }

    private func mayRefetch(_ now: Int64) -> Bool {
        guard let last = lastAttempt else { return true }
        return now - last >= minRefreshInterval || now < last
    }

    private func fetch(_ fetchDocument: @Sendable () throws(OIDCError) -> FetchedDocument, now: Int64, initial: Bool) throws(OIDCError) {
        lastAttempt = now
        do throws(OIDCError) {
            let doc = try fetchDocument()
            let set: [JWK.Entry]
            do { set = try JWK.parseSet(doc.body) } catch { throw .invalidResponse(context: "jwks", reason: "not a JWK Set") }
            guard !set.isEmpty else { throw .invalidResponse(context: "jwks", reason: "no usable signing keys") }
            entries = set
            expiresAt = now + min(max(doc.maxAge ?? maxKeyAge, 0), maxKeyAge)
            lastError = nil
            // A (re)load after expiry does not count against the refetch budget: a key rotated
            // just after it must still be fetchable by the next token (made-up kids then cost one
            // fetch per interval).
            if initial { lastAttempt = nil }
        } catch {
            lastError = error
            throw error
        }
    }
}

/// The freshness a Cache-Control field grants (RFC 9111 §5.2.2): `no-store` or `no-cache` → 0,
/// `max-age=N` → N, otherwise nil.
public enum CacheControl {
    public static func maxAge(_ value: String?) -> Int64? {
        guard let value else { return nil }
        var age: Int64? = nil
        for part in value.lowercased().split(separator: ",") {
            let d = part.trimmingCharacters(in: " \t")
            if d == "no-store" || d == "no-cache" { return 0 }
            if d.hasPrefix("max-age=") {
                var v = d.dropFirst(8)
                if v.hasPrefix("\"") && v.hasSuffix("\"") && v.count >= 2 { v = v.dropFirst().dropLast() }
                guard !v.isEmpty, v.utf8.count <= 10, v.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int64(v) else { return 0 }
                age = n
            }
        }
        return age
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return s
    }
}
