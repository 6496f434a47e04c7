/// FNV-1a 64-bit, fed incrementally; used to fingerprint request bodies so tests can compare
/// what the upstream received with what the client sent without storing the body.
struct FNV1a64 {
    static let offsetBasis: UInt64 = 14_695_981_039_346_656_037
    static let prime: UInt64 = 1_099_511_628_211

    private(set) var value: UInt64 = FNV1a64.offsetBasis
    private(set) var count: UInt64 = 0

    mutating func update(_ bytes: UnsafeBufferPointer<UInt8>) {
        var h = value
        for b in bytes { h = (h ^ UInt64(b)) &* FNV1a64.prime }
        value = h
        count += UInt64(bytes.count)
    }
}
