/// A stored API key. The secret itself is never stored, only `hash` (see `APIKey.hash(secret:)`).
public struct APIKeyRecord: Hashable, Sendable {
    /// 16 lowercase hex characters; the lookup handle, not a secret.
    public var keyId: String
    public var orgId: String
    public var roles: [String]
    /// Unix seconds.
    public var createdAt: UInt64
    public var revoked: Bool
    public var hash: [UInt8]

    public init(keyId: String, orgId: String, roles: [String], createdAt: UInt64, revoked: Bool = false, hash: [UInt8]) {
        self.keyId = keyId
        self.orgId = orgId
        self.roles = roles
        self.createdAt = createdAt
        self.revoked = revoked
        self.hash = hash
    }
}
