import DrawbridgeCrypto

/// Why a presented API key was refused (audit log only; the client gets 401).
public enum APIKeyRejection: Error, Hashable, Sendable {
    case malformed
    case unknownKey
    case wrongSecret
    case revoked
    case unknownOrganization
    /// The key's org (or the gateway) has the `apiKey` mode switched off.
    case modeDisabled
}

/// Who is calling with an API key: keys belong to an org, not to a user.
public struct APIKeyIdentity: Hashable, Sendable {
    public var keyId: String
    public var orgId: String
    public var roles: [String]
}

/// API keys of the form `db_<keyid>_<secret>`: `keyid` is 16 lowercase hex characters (8 random
/// bytes, the lookup handle), `secret` is 32 random bytes in unpadded Base64URL (43 characters,
/// which may themselves contain `_`, so the key id has a fixed length rather than a delimiter).
public enum APIKey {
    public static let prefix = "db_"
    public static let keyIdBytes = 8
    public static let secretBytes = 32
    static let keyIdLength = keyIdBytes * 2
    static let secretLength = 43
    public static let length = 3 + keyIdLength + 1 + secretLength
    static let hashContext = Array("drawbridge-api-key-v1".utf8)

    /// A new key: hand `presented` to the user once; store only `record`.
    public static func generate(orgId: String, roles: [String], now: UInt64) -> (presented: String, record: APIKeyRecord) {
        let keyId = hex(SecureRandom.bytes(keyIdBytes))
        let secret = SecureRandom.bytes(secretBytes)
        let record = APIKeyRecord(keyId: keyId, orgId: orgId, roles: roles, createdAt: now, hash: hash(secret: secret))
        return (prefix + keyId + "_" + Base64URL.encode(secret), record)
    }

    /// Splits a presented key into its id and secret bytes; nil unless exactly well-formed.
    public static func parse(_ presented: String) -> (keyId: String, secret: [UInt8])? {
        let u = Array(presented.utf8)
        guard u.count == length, u.starts(with: prefix.utf8), u[3 + keyIdLength] == UInt8(ascii: "_") else { return nil }
        let id = u[3..<(3 + keyIdLength)]
        guard id.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }),
              let secret = Base64URL.decode(String(decoding: u[(4 + keyIdLength)...], as: UTF8.self)),
              secret.count == secretBytes else { return nil }
        return (String(decoding: id, as: UTF8.self), secret)
    }

    /// SHA-256 over a domain label and the secret. A fast hash is enough here, unlike for
    /// passwords: the secret has 256 bits of entropy, so a leaked hash cannot be brute-forced,
    /// and a slow KDF would only hand unauthenticated clients a CPU lever against the gateway.
    public static func hash(secret: [UInt8]) -> [UInt8] {
        SHA256.hash(hashContext + secret)
    }

    public static func verify(_ presented: String, directory: Directory, global: GlobalAuthSettings) -> Result<APIKeyIdentity, APIKeyRejection> {
        guard let (keyId, secret) = parse(presented) else { return .failure(.malformed) }
        let computed = hash(secret: secret)
        guard let record = directory.apiKey(id: keyId) else {
            // Same work as a known id, so timing does not tell which key ids exist.
            _ = ConstantTime.equals(computed, computed)
            return .failure(.unknownKey)
        }
        // Constant-time: the stored hash must not leak byte by byte through early exit.
        guard ConstantTime.equals(computed, record.hash) else { return .failure(.wrongSecret) }
        // Revocation is checked only after the secret proved possession: no revocation oracle for guessers.
        guard !record.revoked else { return .failure(.revoked) }
        guard let org = directory.organization(id: record.orgId) else { return .failure(.unknownOrganization) }
        guard AuthModeResolver.isEnabled(.apiKey, in: org, global: global) else { return .failure(.modeDisabled) }
        return .success(APIKeyIdentity(keyId: record.keyId, orgId: org.id, roles: record.roles))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xf)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
