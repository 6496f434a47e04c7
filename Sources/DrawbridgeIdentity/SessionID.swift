import DrawbridgeCrypto

/// 16 random bytes naming one session (for single logout and the audit log).
public struct SessionID: Hashable, Sendable {
    public static let size = 16
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.size else { return nil }
        self.bytes = bytes
    }

    /// 128 bits from the system DRBG: unguessable, and collisions are negligible.
    public static func random() -> SessionID { SessionID(bytes: SecureRandom.bytes(size))! }

    /// Base64URL, for revocation lists and logs.
    public var text: String { Base64URL.encode(bytes) }
}
