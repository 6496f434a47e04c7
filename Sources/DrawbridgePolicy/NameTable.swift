/// Interned names (roles, groups) → dense ids, looked up from the UTF-8 bytes of a String without
/// allocating or going through `Hasher`: names are read 8 bytes at a time, hashed with a
/// multiply-xor mix and compared word by word against the stored, zero-padded copy; open addressing.
struct NameTable: Sendable {
    private struct Entry: Sendable {
        /// Start in `words`.
        var start: Int32
        /// Length in bytes.
        var count: Int32
    }

    /// Every name, zero-padded to a multiple of 8 bytes, little-endian words.
    private let words: [UInt64]
    private let entries: [Entry]
    /// Entry index or -1; count is a power of two, at least twice the number of names.
    private let slots: [Int32]

    var count: Int { entries.count }

    /// Ids are indices into `names`; a repeated name keeps its first id.
    init(_ names: [String]) {
        var words: [UInt64] = []
        var entries: [Entry] = []
        var capacity = 8
        while capacity < names.count * 2 { capacity <<= 1 }
        var slots = [Int32](repeating: -1, count: capacity)
        for name in names {
            let bytes = Array(name.utf8)
            let entry = Entry(start: Int32(words.count), count: Int32(bytes.count))
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count { words.append(NameTable.chunk(raw, offset)); offset += 8 }
            }
            entries.append(entry)
            let hash = bytes.withUnsafeBytes { NameTable.hash($0) }
            var slot = Int(truncatingIfNeeded: hash) & (capacity - 1)
            var duplicate = false
            while slots[slot] >= 0 {
                let other = entries[Int(slots[slot])]
                if other.count == entry.count
                    && words[Int(other.start)..<Int(other.start) + (bytes.count + 7) / 8]
                        .elementsEqual(words[Int(entry.start)..<Int(entry.start) + (bytes.count + 7) / 8]) {
                    duplicate = true
                    break
                }
                slot = (slot + 1) & (capacity - 1)
            }
            if !duplicate { slots[slot] = Int32(entries.count - 1) }
        }
        self.words = words
        self.entries = entries
        self.slots = slots
    }

    /// The id of `name`, or -1.
    @inline(__always)
    func id(of name: String) -> Int {
        if let found = name.utf8.withContiguousStorageIfAvailable({ id(bytes: UnsafeRawBufferPointer($0)) }) {
            return found
        }
        var copy = name   // not native UTF-8 (bridged): never on Linux
        return copy.withUTF8 { id(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// The id of the name spelled by `bytes`, or -1.
    @inline(__always)
    func id(bytes: UnsafeRawBufferPointer) -> Int {
        if entries.isEmpty { return -1 }
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: NameTable.hash(bytes)) & mask
        while true {
            let e = slots[slot]
            if e < 0 { return -1 }
            let entry = entries[Int(e)]
            if Int(entry.count) == bytes.count {
                var offset = 0, w = Int(entry.start)
                while offset < bytes.count && words[w] == NameTable.chunk(bytes, offset) { offset += 8; w += 1 }
                if offset >= bytes.count { return Int(e) }
            }
            slot = (slot + 1) & mask
        }
    }

    /// Bytes `offset ..< offset + 8` (zero-padded past the end) as a little-endian word.
    @inline(__always)
    static func chunk(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        let remaining = bytes.count - offset
        if remaining >= 8 { return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        // A short tail without a byte loop: two overlapping loads, each shifted to where its bytes
        // belong (where they overlap they carry the same bytes, so OR is exact).
        if remaining >= 4 {
            let low = UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            let high = UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + remaining - 4, as: UInt32.self)))
            return low | high << UInt64(8 * (remaining - 4))
        }
        if remaining > 0 {
            let middle = remaining / 2
            return UInt64(bytes[offset]) | UInt64(bytes[offset + middle]) << UInt64(8 * middle)
                | UInt64(bytes[offset + remaining - 1]) << UInt64(8 * (remaining - 1))
        }
        return 0
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let k: UInt64 = 0x9E37_79B9_7F4A_7C15
        var h = UInt64(bytes.count) &* k
        var offset = 0
        while offset < bytes.count {
            h = (h ^ chunk(bytes, offset)) &* k   // a bijection per step: nothing is lost, but
            offset += 8                           // the low bits do not see the high ones yet
        }
        // MurmurHash3's finaliser: every input bit reaches the low bits the slot index uses.
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h = h &* 0xC4CE_B9FE_1A85_EC53
        return h ^ (h >> 33)
    }
}

/// Whether the String's UTF-8 equals `bytes`, without allocating; `fold`: ASCII case-insensitively.
@inline(__always)
func equals(_ s: String, _ bytes: UnsafeRawBufferPointer, fold: Bool = false) -> Bool {
    if let result = s.utf8.withContiguousStorageIfAvailable({ p -> Bool in
        guard p.count == bytes.count else { return false }
        var i = 0
        if fold {
            while i < p.count && lowerASCII(p[i]) == lowerASCII(bytes[i]) { i += 1 }
        } else {
            while i < p.count && p[i] == bytes[i] { i += 1 }
        }
        return i == p.count
    }) {
        return result
    }
    return fold ? s.utf8.map(lowerASCII).elementsEqual(bytes.map(lowerASCII)) : s.utf8.elementsEqual(bytes)
}

@inline(__always) func lowerASCII(_ b: UInt8) -> UInt8 { (b &- 0x41) < 26 ? b | 0x20 : b }
