import DrawbridgeCrypto

/// Why a sealed value could not be opened. The description names the secret, never its value.
public struct SealingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var reason: String
    public var description: String { "secret \"\(name)\": \(reason)" }
}

/// One value sealed on its own under the master key:
///
///     base64url( version 1 | nonce 12 | ciphertext | tag 16 )
///
/// with associated data `"drawbridge-secret-v1\0" + name`, so a sealed value opens only under
/// the name it was sealed for (it cannot be copied into another field or secret).
public enum Sealed {
    public static let version: UInt8 = 1
    static let aadPrefix = Array("drawbridge-secret-v1".utf8) + [0]
    /// Smallest sealed value: version, nonce and tag around an empty plaintext.
    static let minimumLength = 1 + AESGCM.nonceSize + AESGCM.tagSize

    /// The AAD name of a user's TOTP seed. User ids contain "_", which secret names cannot, so
    /// no entry of the secrets file can ever open as (or be opened by) a TOTP seed.
    public static func totpName(userId: String) -> String { "user/\(userId)/totp" }

    public static func seal(_ plaintext: [UInt8], name: String, key: MasterKey) throws -> [UInt8] {
        [version] + (try AESGCM.sealCombined(key: key.bytes, plaintext: plaintext, aad: aadPrefix + Array(name.utf8)))
    }

    public static func open(_ sealed: [UInt8], name: String, key: MasterKey) throws(SealingError) -> [UInt8] {
        guard sealed.count >= minimumLength else {
            throw SealingError(name: name, reason: "sealed value is truncated (\(sealed.count) bytes)")
        }
        guard sealed[0] == version else {
            throw SealingError(name: name, reason: "unknown sealing version \(sealed[0]) (expected \(version))")
        }
        do {
            return try AESGCM.openCombined(key: key.bytes, combined: Array(sealed[1...]), aad: aadPrefix + Array(name.utf8))
        } catch {
            // One message for every cause: which one it was would only help an attacker probing.
            throw SealingError(name: name, reason: "cannot be opened: wrong master key, or the value was altered or moved from another name")
        }
    }

    public static func sealString(_ plaintext: [UInt8], name: String, key: MasterKey) throws -> String {
        Base64URL.encode(try seal(plaintext, name: name, key: key))
    }

    public static func open(string: String, name: String, key: MasterKey) throws(SealingError) -> [UInt8] {
        guard let bytes = Base64URL.decode(string) else {
            throw SealingError(name: name, reason: "sealed value is not valid base64url")
        }
        return try open(bytes, name: name, key: key)
    }
}
