@testable import DrawbridgeIdentity
import Testing
@testable import DrawbridgeDecision

/// `APIKeyCache` on its own: a hit needs every presented byte (the set only picks where to look),
/// returns the identity stored for exactly those bytes, and never outlives its runtime.
@Suite struct APIKeyCacheTests {
    /// A presented key of the one valid length; `mark` at byte 10 tells keys of one set apart
    /// (the set is picked by the last 8 bytes only).
    static func presented(_ mark: UInt8) -> [UInt8] {
        var p = (0..<APIKeyCache.keyLength).map { UInt8(0x30 + $0 % 40) }
        p[10] = mark
        return p
    }

    static func identity(_ id: String) -> AuthenticatedAPIKey {
        AuthenticatedAPIKey(APIKeyIdentity(keyId: id, orgId: "acme", roles: []))
    }

    static func lookup(_ cache: APIKeyCache, _ p: [UInt8], _ auth: AuthRuntime) -> AuthenticatedAPIKey? {
        p.withUnsafeBytes { cache.lookup($0, auth: auth) }
    }

    /// Four keys in one set (every way full): each finds its own identity; a key differing in any
    /// one byte, including the last ones (past the compare's 8-byte words) with the same set, finds
    /// nothing or the identity of exactly those bytes.
    @Test func aHitNeedsEveryByteAndReturnsThatKeysIdentity() throws {
        let auth = try DecideTests.table().auth!
        let cache = APIKeyCache()
        let keys = (0..<4).map { (bytes: Self.presented(0x61 + UInt8($0)), identity: Self.identity("k\($0)")) }
        #expect(Set(keys.map { $0.bytes.withUnsafeBytes { APIKeyCache.set($0) } }).count == 1)
        for k in keys { k.bytes.withUnsafeBytes { cache.insert($0, k.identity, auth: auth) } }
        for k in keys { #expect(Self.lookup(cache, k.bytes, auth) === k.identity) }
        func owner(_ p: [UInt8]) -> AuthenticatedAPIKey? { keys.first { $0.bytes == p }?.identity }
        var sameSetTails = 0
        for k in keys {
            for i in k.bytes.indices {
                var flipped = k.bytes
                flipped[i] ^= 0x01
                #expect(Self.lookup(cache, flipped, auth) === owner(flipped), "byte \(i) flipped")
                // A value that keeps the set (for a byte of the last 8), so the compare alone must refuse it.
                let set = k.bytes.withUnsafeBytes { APIKeyCache.set($0) }
                for v in 0...255 where UInt8(v) != k.bytes[i] {
                    var other = k.bytes
                    other[i] = UInt8(v)
                    guard i < k.bytes.count - 8 || other.withUnsafeBytes { APIKeyCache.set($0) } == set else { continue }
                    #expect(Self.lookup(cache, other, auth) === owner(other), "byte \(i) = \(v)")
                    if i >= k.bytes.count - 8 { sameSetTails += 1 }
                }
            }
        }
        #expect(sameSetTails > 0)
        // Other lengths are never found (the slots hold keyLength bytes).
        for p in [Array(keys[0].bytes.dropLast()), keys[0].bytes + [0x30], []] { #expect(Self.lookup(cache, p, auth) == nil) }
        // A fifth key in the full set replaces one way; every key still finds its own identity or nothing.
        let fifth = (bytes: Self.presented(0x7A), identity: Self.identity("k4"))
        fifth.bytes.withUnsafeBytes { cache.insert($0, fifth.identity, auth: auth) }
        #expect(Self.lookup(cache, fifth.bytes, auth) === fifth.identity)
        let found = keys.filter { k in
            let hit = Self.lookup(cache, k.bytes, auth)
            #expect(hit == nil || hit === k.identity)
            return hit != nil
        }
        #expect(found.count == 3)
    }

    /// Entries belong to the runtime they were verified under: another one empties the cache,
    /// and going back to the first finds nothing either.
    @Test func anotherRuntimeEmptiesTheCache() throws {
        let first = try DecideTests.table().auth!, second = try DecideTests.table().auth!
        let cache = APIKeyCache()
        let k = Self.presented(0x61), id = Self.identity("k")
        k.withUnsafeBytes { cache.insert($0, id, auth: first) }
        #expect(Self.lookup(cache, k, first) === id)
        #expect(Self.lookup(cache, k, second) == nil)
        #expect(cache.owner == nil)
        #expect(Self.lookup(cache, k, first) == nil)
        k.withUnsafeBytes { cache.insert($0, id, auth: second) }
        #expect(Self.lookup(cache, k, second) === id)
        #expect(Self.lookup(cache, k, first) == nil)
        #expect(Self.lookup(cache, k, second) == nil)
    }
}
