import DrawbridgeIdentity

/// The sign-outs in force, as every worker reads them: immutable once published, shared by all
/// workers (one copy in memory, not one per worker).
///
/// Two tables, so a sign-out does not copy the whole list: `large` (rebuilt rarely, shared from
/// one generation to the next) and `small` (the latest additions, copied on each change). When
/// `small` grows past an eighth of `large` they are merged: a sign-out costs O(1) amortised.
public final class RevocationSet: @unchecked Sendable {
    /// Increases with every published change (reclamation in `PublishedRevocations` relies on it).
    public let generation: UInt64
    let large: RevocationTable
    let small: RevocationTable
    /// Read on every request with a session: nothing else is touched while no one signed out.
    let isEmpty: Bool
    /// The earliest `end` of any entry (UInt64.max when empty): maintenance has nothing to drop
    /// before it.
    public let earliestEnd: UInt64

    public init(generation: UInt64, large: RevocationTable, small: RevocationTable) {
        self.generation = generation
        self.large = large
        self.small = small
        isEmpty = large.isEmpty && small.isEmpty
        earliestEnd = min(large.earliestEnd, small.earliestEnd)
    }

    public static let empty = RevocationSet(generation: 0, large: RevocationTable(), small: RevocationTable())

    public var count: Int { large.count + small.count }

    @inline(__always) func isRevoked(_ c: SessionClaims) -> Bool {
        if isEmpty { return false }
        return large.isRevoked(c) || small.isRevoked(c)
    }

    /// Whether the set already ends at least what `r` ends (for as long).
    public func covers(_ r: Revocation) -> Bool { large.covers(r) || small.covers(r) }

    /// This set plus `r`, recorded at `at` (the trusted time of the sign-out).
    public func adding(_ r: Revocation, at: UInt64) -> RevocationSet {
        var next = small
        next.add(r, at: at)
        if next.count > 64 && next.count > large.count / 8 {
            var merged = large
            merged.merge(next)
            return RevocationSet(generation: generation + 1, large: merged, small: RevocationTable())
        }
        return RevocationSet(generation: generation + 1, large: large, small: next)
    }

    /// Without the entries whose `end` is at or before `cutoff` (one table again).
    public func dropping(endingBy cutoff: UInt64) -> (set: RevocationSet, dropped: Int) {
        var merged = large
        merged.merge(small)
        let before = merged.count
        merged.removeAll(endingBy: cutoff)
        return (RevocationSet(generation: generation + 1, large: merged, small: RevocationTable()), before - merged.count)
    }

    /// Every entry with the time it was recorded, oldest record first (for the file).
    public func entries() -> [(revocation: Revocation, at: UInt64)] {
        var merged = large
        merged.merge(small)
        return merged.entries().sorted { $0.at < $1.at }
    }
}

/// 128-bit session id as two words: no allocation per key, hashed without touching an array.
struct SessionIDBits: Hashable {
    let high: UInt64, low: UInt64

    init(_ id: SessionID) {
        (high, low) = id.bytes.withUnsafeBytes { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
    }

    var id: SessionID {
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: high, as: UInt64.self); $0.storeBytes(of: low, toByteOffset: 8, as: UInt64.self) }
        return SessionID(bytes: bytes)!
    }
}

/// A plain value table of sign-outs (copy-on-write dictionaries).
public struct RevocationTable {
    struct Stamp { var time: UInt64; var at: UInt64 }
    /// Session -> its token's expiry.
    private(set) var sessions: [SessionIDBits: Stamp] = [:]
    /// User -> every session issued at or before this time is ended.
    private(set) var users: [String: Stamp] = [:]
    private(set) var earliestEnd: UInt64 = .max

    public init() {}

    var isEmpty: Bool { sessions.isEmpty && users.isEmpty }
    public var count: Int { sessions.count + users.count }

    @inline(__always) func isRevoked(_ c: SessionClaims) -> Bool {
        if !sessions.isEmpty && sessions[SessionIDBits(c.sessionId)] != nil { return true }
        if !users.isEmpty, let t = users[c.userId], c.issuedAt <= t.time { return true }
        return false
    }

    func covers(_ r: Revocation) -> Bool {
        switch r {
        case .session(let id, let expiresAt): return (sessions[SessionIDBits(id)]?.time ?? 0) >= expiresAt
        case .allOfUser(let user, let before): return (users[user]?.time ?? 0) >= before
        }
    }

    public mutating func add(_ r: Revocation, at: UInt64) {
        switch r {
        case .session(let id, let expiresAt): insertSession(SessionIDBits(id), Stamp(time: expiresAt, at: at))
        case .allOfUser(let user, let before): insertUser(user, Stamp(time: before, at: at))
        }
    }

    mutating func merge(_ other: RevocationTable) {
        for (k, s) in other.sessions { insertSession(k, s) }
        for (u, s) in other.users { insertUser(u, s) }
    }

    /// The same session signed out twice keeps the later expiry; a user's "all sessions" entry
    /// keeps the later time.
    private mutating func insertSession(_ key: SessionIDBits, _ s: Stamp) {
        let old = sessions[key]
        sessions[key] = Stamp(time: max(old?.time ?? 0, s.time), at: max(old?.at ?? 0, s.at))
        earliestEnd = min(earliestEnd, s.time)
    }

    private mutating func insertUser(_ user: String, _ s: Stamp) {
        let old = users[user]
        users[user] = Stamp(time: max(old?.time ?? 0, s.time), at: max(old?.at ?? 0, s.at))
        earliestEnd = min(earliestEnd, s.time &+ Revocation.maxSessionSeconds)
    }

    public mutating func removeAll(endingBy cutoff: UInt64) {
        sessions = sessions.filter { $0.value.time > cutoff }
        users = users.filter { $0.value.time &+ Revocation.maxSessionSeconds > cutoff }
        earliestEnd = min(sessions.values.map(\.time).min() ?? .max,
                          users.values.map { $0.time &+ Revocation.maxSessionSeconds }.min() ?? .max)
    }

    public func entries() -> [(revocation: Revocation, at: UInt64)] {
        sessions.map { (.session($0.key.id, expiresAt: $0.value.time), $0.value.at) }
            + users.map { (.allOfUser($0.key, issuedAtOrBefore: $0.value.time), $0.value.at) }
    }
}
