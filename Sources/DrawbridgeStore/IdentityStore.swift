import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeIdentity
import Foundation

/// Everything the gateway needs from the identity files, with every sealed value opened.
public struct IdentityData: Sendable {
    public var users: [User]
    public var apiKeys: [APIKeyRecord]
    /// Key id -> name (display only).
    public var apiKeyNames: [String: String]
    /// Opened secrets by name.
    public var secrets: [String: [UInt8]]
    /// User id -> opened TOTP seed.
    public var totpSecrets: [String: [UInt8]]
    /// From the secrets named "session-key-<n>", n in 1...255, 32 bytes each; sorted by id.
    public var sessionKeys: [SessionKey]
    /// From the secrets named "assertion-key-<n>" (P-256 private keys, PEM); sorted by id, the
    /// highest signs the identity assertions sent to upstreams, all are published.
    public var assertionKeys: [AssertionKey] = []

    public init(users: [User] = [], apiKeys: [APIKeyRecord] = [], apiKeyNames: [String: String] = [:],
                secrets: [String: [UInt8]] = [:], totpSecrets: [String: [UInt8]] = [:], sessionKeys: [SessionKey] = []) {
        self.users = users
        self.apiKeys = apiKeys
        self.apiKeyNames = apiKeyNames
        self.secrets = secrets
        self.totpSecrets = totpSecrets
        self.sessionKeys = sessionKeys
    }
}

/// An ES256 key for the gateway's signed identity assertions.
public struct AssertionKey: Sendable {
    public let id: UInt8
    public let key: ECPrivateKey
    /// RFC 7638 thumbprint of the public key.
    public let kid: String

    public init(id: UInt8, key: ECPrivateKey) {
        self.id = id
        self.key = key
        self.kid = key.publicKey.jwkThumbprint
    }
}

/// Loads the users, API key and secrets files named by the `auth` section, and changes them
/// (read-modify-write under a lock, atomic replace).
public enum IdentityStore {
    public static let sessionKeyPrefix = "session-key-"
    public static let assertionKeyPrefix = "assertion-key-"

    /// All three files, checked and opened with the master key. Throws `ConfigErrors` listing
    /// every problem ("file: json.path: problem"); nothing is returned half-loaded. An absent
    /// file is empty. The master key is always required (the session keys are sealed secrets).
    public static func load(_ auth: AuthConfig,
                            environment: [String: String]? = nil) throws -> IdentityData {
        var issues: [ConfigIssue] = []
        func attempt<T>(_ body: () throws(ConfigErrors) -> T) -> T? {
            do { return try body() } catch { issues += error.issues; return nil }
        }
        let users = attempt { () throws(ConfigErrors) in try readUsers(auth) }
        let keys = attempt { () throws(ConfigErrors) in try readAPIKeys(auth) }
        let sealedSecrets = attempt { () throws(ConfigErrors) in try readSecrets(auth) }
        let masterKey = attempt { () throws(ConfigErrors) in try MasterKey.load(auth, environment: environment) }

        var data = IdentityData()
        if let users, let masterKey {
            for (index, user) in users.enumerated() {
                guard let sealed = user.totpSecretSealed else { continue }
                do { data.totpSecrets[user.id] = try Sealed.open(sealed, kind: .totpSeed, name: Sealed.totpName(userId: user.id), key: masterKey) }
                catch { issues.append(ConfigIssue(file: auth.usersFile, path: "users[\(index)].totp", message: error.description)) }
            }
        }
        if let sealedSecrets, let masterKey {
            for name in sealedSecrets.keys.sorted() {
                let path = join("secrets", name)
                let value: [UInt8]
                do { value = try Sealed.open(sealedSecrets[name]!, name: name, key: masterKey) }
                catch { issues.append(ConfigIssue(file: auth.secretsFile, path: path, message: error.description)); continue }
                data.secrets[name] = value
                if name.hasPrefix(assertionKeyPrefix) {
                    guard let id = numberedName(name, prefix: assertionKeyPrefix) else {
                        issues.append(ConfigIssue(file: auth.secretsFile, path: path,
                                                  message: "assertion keys are named assertion-key-<n> with n in 1...255 (no leading zeros)"))
                        continue
                    }
                    guard let key = try? ECPrivateKey(pem: String(decoding: value, as: UTF8.self)) else {
                        issues.append(ConfigIssue(file: auth.secretsFile, path: path,
                                                  message: "an assertion key must be a P-256 private key in PEM "
                                                      + "(use `drawbridge secret set \(name) --p256`)"))
                        continue
                    }
                    data.assertionKeys.append(AssertionKey(id: id, key: key))
                    continue
                }
                guard name.hasPrefix(sessionKeyPrefix) else { continue }
                // A misspelt or wrong-sized session key is an error, not silently skipped: sessions would break.
                guard let id = sessionKeyId(name) else {
                    issues.append(ConfigIssue(file: auth.secretsFile, path: path,
                                              message: "session keys are named session-key-<n> with n in 1...255 (no leading zeros)"))
                    continue
                }
                guard let key = try? SessionKey(id: id, material: value) else {
                    issues.append(ConfigIssue(file: auth.secretsFile, path: path,
                                              message: "a session key must be \(AESGCM.keySize) bytes, got \(value.count) "
                                                  + "(use `drawbridge secret set \(name) --random`)"))
                    continue
                }
                data.sessionKeys.append(key)
            }
        }
        guard issues.isEmpty, let users, let keys else { throw ConfigErrors(issues: issues) }
        data.users = users
        data.apiKeys = keys.map(\.record)
        data.apiKeyNames = Dictionary(keys.map { ($0.record.keyId, $0.name) }, uniquingKeysWith: { a, _ in a })
        data.sessionKeys.sort { $0.id < $1.id }
        data.assertionKeys.sort { $0.id < $1.id }
        return data
    }

    /// `session-key-<n>` -> n, for n in 1...255 written without leading zeros.
    static func sessionKeyId(_ name: String) -> UInt8? { numberedName(name, prefix: sessionKeyPrefix) }

    /// `<prefix><n>` -> n, for n in 1...255 written without leading zeros.
    public static func numberedName(_ name: String, prefix: String) -> UInt8? {
        guard name.hasPrefix(prefix) else { return nil }
        let digits = name.dropFirst(prefix.count)
        guard !digits.isEmpty, !digits.hasPrefix("0"), digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let n = UInt8(digits), n >= 1 else { return nil }
        return n
    }

    // MARK: - Reading one file (no master key needed)

    public static func readUsers(_ auth: AuthConfig) throws(ConfigErrors) -> [User] {
        guard let text = try AtomicFile.read(auth.usersFile) else { return [] }
        return try StoreFiles.decodeUsers(text, file: auth.usersFile)
    }

    public static func readAPIKeys(_ auth: AuthConfig) throws(ConfigErrors) -> [APIKeyEntry] {
        guard let text = try AtomicFile.read(auth.apiKeysFile) else { return [] }
        return try StoreFiles.decodeAPIKeys(text, file: auth.apiKeysFile)
    }

    /// Secret name -> sealed value.
    public static func readSecrets(_ auth: AuthConfig) throws(ConfigErrors) -> [String: [UInt8]] {
        guard let text = try AtomicFile.read(auth.secretsFile) else { return [:] }
        return try StoreFiles.decodeSecrets(text, file: auth.secretsFile)
    }

    // MARK: - Read-modify-write

    /// Reads the users file under its lock, lets `body` change the list and writes the result
    /// back atomically (nothing is written when `body` throws or changes nothing).
    public static func updateUsers<T>(_ auth: AuthConfig, _ body: (inout [User]) throws -> T) throws -> T {
        try update(auth.usersFile, decode: StoreFiles.decodeUsers, empty: [], encode: StoreFiles.encodeUsers, body)
    }

    public static func updateAPIKeys<T>(_ auth: AuthConfig, _ body: (inout [APIKeyEntry]) throws -> T) throws -> T {
        try update(auth.apiKeysFile, decode: StoreFiles.decodeAPIKeys, empty: [], encode: StoreFiles.encodeAPIKeys, body)
    }

    /// `body` sees name -> sealed value; seal new values with `Sealed.seal(_:name:key:)`.
    public static func updateSecrets<T>(_ auth: AuthConfig, _ body: (inout [String: [UInt8]]) throws -> T) throws -> T {
        try update(auth.secretsFile, decode: StoreFiles.decodeSecrets, empty: [:], encode: StoreFiles.encodeSecrets, body)
    }

    static func update<V, T>(_ path: String, decode: (String, String) throws(ConfigErrors) -> V, empty: V,
                             encode: (V) -> String, _ body: (inout V) throws -> T) throws -> T {
        try AtomicFile.withLock(path) {
            let old = try AtomicFile.read(path)
            var value = try old.map { text throws(ConfigErrors) in try decode(text, path) } ?? empty
            let result = try body(&value)
            let text = encode(value)
            // Never write what the loader would refuse (a duplicate email, a bad name...).
            _ = try decode(text, path)
            if text != old { try AtomicFile.write(path, contents: Array(text.utf8)) }
            return result
        }
    }
}
