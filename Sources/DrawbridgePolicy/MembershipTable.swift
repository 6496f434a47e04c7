import DrawbridgeIdentity

/// Who is a member of which organisation (users.json), for the one question an object-level grant
/// asks: is the user named in the path a member of the caller's organisation?
///
/// Built once per configuration load; read without allocating or going through `Hasher`. A lookup
/// is the user id's hash (`NameTable.hash`), one slot (a tag of the hash and the entry's index, so
/// a miss rarely touches an entry), one entry holding the id's first 24 bytes and the user's first
/// organisation, and a byte comparison with the caller's org id: two cache lines for the usual user
/// id (`u_` + 16 hex) and a user in one organisation.
struct MembershipTable: Sendable {
    private struct Entry: Sendable {
        /// The id's first 24 bytes, zero-padded, little-endian words (`NameTable.chunk`).
        var w0: UInt64, w1: UInt64, w2: UInt64
        var length: Int32
        /// Bytes past the first 24: start in `tails` (words).
        var tail: Int32
        /// The first membership's org (index into `orgs`), or -1.
        var firstOrg: Int32
        /// Further memberships: `more[moreStart ..< moreStart + moreCount]`.
        var moreStart: Int32
        var moreCount: Int32
    }

    private struct Span: Sendable {
        var start: Int32
        var count: Int32
    }

    /// 0 = empty; else the hash's high 32 bits, then the entry index + 1 in the low 32 bits.
    private let slots: [UInt64]
    private let entries: [Entry]
    private let tails: [UInt64]
    private let more: [Int32]
    /// Org ids by index, as spans of `orgBytes`.
    private let orgs: [Span]
    private let orgBytes: [UInt8]

    /// A repeated user id keeps its first entry (the directory refuses duplicates anyway).
    init(_ users: [User]) {
        var capacity = 8
        while capacity < users.count * 2 { capacity <<= 1 }
        var slots = [UInt64](repeating: 0, count: capacity)
        var entries: [Entry] = []
        var tails: [UInt64] = []
        var more: [Int32] = []
        var orgs: [Span] = []
        var orgBytes: [UInt8] = []
        var orgIndex: [String: Int32] = [:]
        var seen: Set<String> = []
        func org(_ id: String) -> Int32 {
            if let known = orgIndex[id] { return known }
            let o = Int32(orgs.count)
            orgIndex[id] = o
            orgs.append(Span(start: Int32(orgBytes.count), count: Int32(id.utf8.count)))
            orgBytes.append(contentsOf: id.utf8)
            return o
        }
        for user in users where seen.insert(user.id).inserted {
            let id = Array(user.id.utf8)
            var entry = Entry(w0: 0, w1: 0, w2: 0, length: Int32(id.count), tail: Int32(tails.count),
                              firstOrg: -1, moreStart: Int32(more.count), moreCount: 0)
            var hash: UInt64 = 0
            id.withUnsafeBytes { raw in
                entry.w0 = NameTable.chunk(raw, 0)
                if raw.count > 8 { entry.w1 = NameTable.chunk(raw, 8) }
                if raw.count > 16 { entry.w2 = NameTable.chunk(raw, 16) }
                var offset = 24
                while offset < raw.count { tails.append(NameTable.chunk(raw, offset)); offset += 8 }
                hash = NameTable.hash(raw)
            }
            for (k, membership) in user.memberships.enumerated() {
                if k == 0 { entry.firstOrg = org(membership.orgId) } else { more.append(org(membership.orgId)); entry.moreCount += 1 }
            }
            var slot = Int(truncatingIfNeeded: hash) & (capacity - 1)
            while slots[slot] != 0 { slot = (slot + 1) & (capacity - 1) }
            slots[slot] = (hash & 0xFFFF_FFFF_0000_0000) | UInt64(entries.count + 1)
            entries.append(entry)
        }
        self.slots = slots
        self.entries = entries
        self.tails = tails
        self.more = more
        self.orgs = orgs
        self.orgBytes = orgBytes
    }

    /// Whether the user spelled by `user` is a member of the organisation spelled by `org`.
    @inline(__always)
    func isMember(user: UnsafeRawBufferPointer, of org: UnsafeRawBufferPointer) -> Bool {
        guard !entries.isEmpty else { return false }
        let n = user.count
        let hash = NameTable.hash(user)
        let tag = hash & 0xFFFF_FFFF_0000_0000
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let s = slots[slot]
            if s == 0 { return false }
            if s & 0xFFFF_FFFF_0000_0000 == tag {
                let e = entries[Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1]
                if Int(e.length) == n && sameId(e, user) { return memberOf(e, org) }
            }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always)
    private func sameId(_ e: Entry, _ user: UnsafeRawBufferPointer) -> Bool {
        let n = user.count
        guard NameTable.chunk(user, 0) == e.w0 else { return false }
        if n > 8 { guard NameTable.chunk(user, 8) == e.w1 else { return false } }
        if n > 16 { guard NameTable.chunk(user, 16) == e.w2 else { return false } }
        var offset = 24, w = Int(e.tail)
        while offset < n {
            guard NameTable.chunk(user, offset) == tails[w] else { return false }
            offset += 8; w += 1
        }
        return true
    }

    @inline(__always)
    private func memberOf(_ e: Entry, _ org: UnsafeRawBufferPointer) -> Bool {
        if e.firstOrg < 0 { return false }
        if sameOrg(e.firstOrg, org) { return true }
        var k = Int(e.moreStart)
        let end = k + Int(e.moreCount)
        while k < end {
            if sameOrg(more[k], org) { return true }
            k += 1
        }
        return false
    }

    @inline(__always)
    private func sameOrg(_ o: Int32, _ org: UnsafeRawBufferPointer) -> Bool {
        let span = orgs[Int(o)]
        guard Int(span.count) == org.count else { return false }
        var i = 0, j = Int(span.start)
        while i < org.count {
            if orgBytes[j] != org[i] { return false }
            i += 1; j += 1
        }
        return true
    }
}
