/// Interned names (roles, groups) → dense ids, looked up from the UTF-8 bytes of a String without
/// allocating or hashing through `Hasher`: FNV-1a and open addressing over one byte buffer.
struct NameTable: Sendable {
    private struct Entry: Sendable {
        var start: Int32
        var count: Int32
    }

    private let storage: [UInt8]
    private let entries: [Entry]
    /// Entry index or -1; count is a power of two, at least twice the number of names.
    private let slots: [Int32]

    var count: Int { entries.count }

    /// Ids are indices into `names`; a repeated name keeps its first id.
    init(_ names: [String]) {
        var storage: [UInt8] = []
        var entries: [Entry] = []
        var capacity = 8
        while capacity < names.count * 2 { capacity <<= 1 }
        var slots = [Int32](repeating: -1, count: capacity)
        for name in names {
            let bytes = Array(name.utf8)
            let entry = Entry(start: Int32(storage.count), count: Int32(bytes.count))
            storage.append(contentsOf: bytes)
            entries.append(entry)
            let id = Int32(entries.count - 1)
            var slot = Int(bytes.withUnsafeBytes { NameTable.hash($0) }) & (capacity - 1)
            var duplicate = false
            while slots[slot] >= 0 {
                let other = entries[Int(slots[slot])]
                if other.count == entry.count
                    && storage[Int(other.start)..<Int(other.start + other.count)].elementsEqual(bytes) {
                    duplicate = true
                    break
                }
                slot = (slot + 1) & (capacity - 1)
            }
            if !duplicate { slots[slot] = id }
        }
        self.storage = storage
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
    func id(bytes: UnsafeRawBufferPointer) -> Int {
        if entries.isEmpty { return -1 }
        let mask = slots.count - 1
        var slot = Int(NameTable.hash(bytes)) & mask
        while true {
            let e = slots[slot]
            if e < 0 { return -1 }
            let entry = entries[Int(e)]
            if Int(entry.count) == bytes.count {
                var j = 0
                let start = Int(entry.start)
                while j < bytes.count && storage[start + j] == bytes[j] { j += 1 }
                if j == bytes.count { return Int(e) }
            }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for b in bytes { h = (h ^ UInt32(b)) &* 16_777_619 }
        return h
    }
}

/// Whether the String's UTF-8 equals `bytes`, without allocating.
@inline(__always)
func equals(_ s: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
    if let result = s.utf8.withContiguousStorageIfAvailable({ p -> Bool in
        guard p.count == bytes.count else { return false }
        var i = 0
        while i < p.count && p[i] == bytes[i] { i += 1 }
        return i == p.count
    }) {
        return result
    }
    return s.utf8.elementsEqual(bytes)
}
