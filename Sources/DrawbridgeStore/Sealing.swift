import DrawbridgeCrypto

/// Why a sealed value could not be opened. The description names the secret, never its value.
public struct SealingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var reason: String
    public var description: String { "secret \"\(name)\": \(reason)" }
}

/// What a value sealed at rest is. The kind is part of the associated data and of the key, so a
/// value sealed as one kind never opens as another: a TOTP seed copied into the secrets file
/// (and named there as an OIDC client secret) fails authentication instead of being sent out.
public enum SealedKind: String, Sendable, CaseIterable {
    /// A user's TOTP seed, in the users file.
    case totpSeed = "totp-seed"
    /// An entry of the secrets file: session keys, assertion keys, OIDC client secrets, upstream credentials.
    case secret
}

/// One value sealed on its own under the master key:
///
///     base64url( version 2 | nonce 12 | ciphertext | tag 16 )
///
/// AES-256-GCM under a per-kind subkey `HKDF-SHA256(master key, info "drawbridge at-rest v2 " + kind)`,
/// with associated data `"drawbridge-sealed-v2\0" + kind + "\0" + name`: a sealed value opens
/// only as the kind and under the name it was sealed for (it cannot be copied into another
/// field, another secret or another file).
///
/// Version 1 (no kind; AAD `"drawbridge-secret-v1\0" + name` under the master key itself) is not
/// opened by the gateway: `drawbridge secret reseal` converts a configuration once (see IDENTITY.md).
public enum Sealed {
    public static let version: UInt8 = 2
    /// The format of earlier releases, read only by `drawbridge secret reseal`.
    public static let legacyVersion: UInt8 = 1
    static let legacyAADPrefix = Array("drawbridge-secret-v1".utf8) + [0]
    /// Smallest sealed value: version, nonce and tag around an empty plaintext.
    static let minimumLength = 1 + AESGCM.nonceSize + AESGCM.tagSize

    /// The AAD name of a user's TOTP seed. Secret names may not start with "user/" (reserved),
    /// so no entry of the secrets file can ever be named like a seed, whatever the user id.
    public static func totpName(userId: String) -> String { "user/\(userId)/totp" }

    static func aad(_ kind: SealedKind, _ name: String) -> [UInt8] {
        Array("drawbridge-sealed-v2".utf8) + [0] + Array(kind.rawValue.utf8) + [0] + Array(name.utf8)
    }

    static func subkey(_ kind: SealedKind, _ key: MasterKey) -> [UInt8] {
        HKDF.sha256(ikm: key.bytes, info: Array("drawbridge at-rest v2 \(kind.rawValue)".utf8))
    }

    public static func seal(_ plaintext: [UInt8], kind: SealedKind = .secret, name: String, key: MasterKey) throws -> [UInt8] {
        var k = subkey(kind, key)
        defer { k.wipeBytes() }
        return [version] + (try AESGCM.sealCombined(key: k, plaintext: plaintext, aad: aad(kind, name)))
    }

    public static func open(_ sealed: [UInt8], kind: SealedKind = .secret, name: String, key: MasterKey) throws(SealingError) -> [UInt8] {
        guard sealed.count >= minimumLength else {
            throw SealingError(name: name, reason: "sealed value is truncated (\(sealed.count) bytes)")
        }
        if sealed[0] == legacyVersion {
            throw SealingError(name: name, reason: "sealed in the format of an earlier version (1), which does not bind the kind of value; "
                                   + "run `drawbridge secret reseal` once to convert the identity files (docs/IDENTITY.md, \"Upgrading\")")
        }
        guard sealed[0] == version else {
            throw SealingError(name: name, reason: "unknown sealing version \(sealed[0]) (expected \(version))")
        }
        var k = subkey(kind, key)
        defer { k.wipeBytes() }
        do {
            return try AESGCM.openCombined(key: k, combined: Array(sealed[1...]), aad: aad(kind, name))
        } catch {
            // One message for every cause: which one it was would only help an attacker probing.
            throw SealingError(name: name, reason: "cannot be opened: wrong master key, or the value was altered or moved from another name or kind")
        }
    }

    /// Opens a version-1 value (for `drawbridge secret reseal` only): nil when `sealed` is not version 1.
    public static func openLegacy(_ sealed: [UInt8], name: String, key: MasterKey) throws(SealingError) -> [UInt8]? {
        guard sealed.count >= minimumLength, sealed[0] == legacyVersion else { return nil }
        do {
            return try AESGCM.openCombined(key: key.bytes, combined: Array(sealed[1...]), aad: legacyAADPrefix + Array(name.utf8))
        } catch {
            throw SealingError(name: name, reason: "cannot be opened (version 1): wrong master key, or the value was altered or moved from another name")
        }
    }

    public static func sealString(_ plaintext: [UInt8], kind: SealedKind = .secret, name: String, key: MasterKey) throws -> String {
        Base64URL.encode(try seal(plaintext, kind: kind, name: name, key: key))
    }

    public static func open(string: String, kind: SealedKind = .secret, name: String, key: MasterKey) throws(SealingError) -> [UInt8] {
        guard let bytes = Base64URL.decode(string) else {
            throw SealingError(name: name, reason: "sealed value is not valid base64url")
        }
        return try open(bytes, kind: kind, name: name, key: key)
    }
}
