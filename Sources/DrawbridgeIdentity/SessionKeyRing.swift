import DrawbridgeCrypto

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
public struct SessionKeyRing: Sendable {
    public let current: SessionKey
    private let byId: [UInt8: SessionKey]

    public init(current: SessionKey, previous: [SessionKey] = []) throws(SessionKeyRingError) {
        var byId = [current.id: current]
        for key in previous {
            // Two keys under one id would make the id ambiguous: which one opens?
            guard byId.updateValue(key, forKey: key.id) == nil else { throw .duplicateKeyId(key.id) }
        }
        self.current = current
        self.byId = byId
    }

    public func key(id: UInt8) -> SessionKey? { byId[id] }

    public var keyIds: [UInt8] { byId.keys.sorted() }
}
