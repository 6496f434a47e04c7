/// Where the per-worker memos (`SessionCache`, `APIKeyCache`) keep an entry: 4-way sets, the set
/// picked by the key's last 8 bytes (of a random secret or an AES-GCM tag in every genuine key, so
/// uniform) multiplied to spread them; a new entry takes an empty way of its set, else the ways
/// in turn (a few keys that share a set no longer push each other out on every request, as in a
/// direct-mapped table). One rule for both memos.
struct FourWaySets {
    static let ways = 4
    private var victim = 0

    /// The set of `key` (at least 8 bytes) among `sets` (a power of two, at most 256).
    @inline(__always) static func set(_ key: UnsafeRawBufferPointer, sets: Int) -> Int {
        let tail = key.loadUnaligned(fromByteOffset: key.count - 8, as: UInt64.self)
        return Int(truncatingIfNeeded: (tail &* 0x9E37_79B9_7F4A_7C15) >> 56) & (sets - 1)
    }

    /// The slot a new entry takes in the set starting at `base`: the first empty way, else the next in turn.
    @inline(__always) mutating func slot(base: Int, isEmpty: (Int) -> Bool) -> Int {
        if let way = (0..<Self.ways).first(where: { isEmpty(base + $0) }) { return base + way }
        victim &+= 1
        return base + (victim & (Self.ways - 1))
    }
}
