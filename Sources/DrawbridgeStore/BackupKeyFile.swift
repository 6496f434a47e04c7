import DrawbridgeConfig
import DrawbridgeCrypto

/// The archives' data keys, apart from the archives (`backup.keyFile`):
///
///     { "version": 1, "keys": { "<archive id>": { "created": <unix>, "sealed": "<base64url>" } } }
///
/// Each data key is sealed as `1 | nonce | ciphertext | tag` under a key derived from the master
/// key for this one purpose (HMAC-SHA256(master, "drawbridge backup data keys v1")), with the
/// associated data `"drawbridge-backup-key-v1\0" + id + "\0" + created`: it opens only as the key
/// of that archive, and nothing sealed for another purpose opens here (nor this elsewhere).
/// Removing an entry is what destroys an archive: every copy of it becomes unreadable.
public struct BackupKeyFile: Sendable {
    public struct Entry: Sendable, Equatable {
        public let created: UInt64
        let sealed: [UInt8]
    }

    public var entries: [String: Entry] = [:]
    static let version: UInt8 = 1
    static let formatVersion: Int64 = 1
    static let purpose = Array("drawbridge backup data keys v1".utf8)
    static let aadPrefix = Array("drawbridge-backup-key-v1".utf8) + [0]

    public init() {}

    // MARK: - Sealing

    static func wrappingKey(_ master: MasterKey) -> [UInt8] { HMAC.sha256(key: master.bytes, data: purpose) }

    static func aad(id: String, created: UInt64) -> [UInt8] { aadPrefix + Array(id.utf8) + [0] + Array(String(created).utf8) }

    /// A new random data key for archive `id`, and its entry for this file.
    static func newKey(id: String, created: UInt64, master: MasterKey) throws -> (key: [UInt8], entry: Entry) {
        let key = SecureRandom.bytes(AESGCM.keySize)
        let sealed = [version] + (try AESGCM.sealCombined(key: wrappingKey(master), plaintext: key, aad: aad(id: id, created: created)))
        return (key, Entry(created: created, sealed: sealed))
    }

    /// The data key of archive `id`; a missing entry means the archive was destroyed (or is not ours).
    func dataKey(id: String, master: MasterKey, file: String) throws(BackupError) -> [UInt8] {
        guard let entry = entries[id] else {
            throw BackupError("archive \(id): its data key is not in \(file): it was destroyed when the archive left the "
                              + "retention window (or the archive comes from another gateway), so it cannot be read")
        }
        guard entry.sealed.count > 1, entry.sealed[0] == Self.version,
              let key = try? AESGCM.openCombined(key: Self.wrappingKey(master), combined: Array(entry.sealed[1...]),
                                                 aad: Self.aad(id: id, created: entry.created)),
              key.count == AESGCM.keySize else {
            throw BackupError("archive \(id): its data key in \(file) cannot be opened: wrong master key, or the entry was altered")
        }
        return key
    }

    // MARK: - The file

    /// The file's entries; an absent file has none.
    public static func read(_ path: String) throws(BackupError) -> BackupKeyFile {
        let text: String?
        do { text = try AtomicFile.read(path) } catch { throw BackupError(error.description) }
        guard let text else { return BackupKeyFile() }
        let issues = IssueCollector(file: path)
        var result = BackupKeyFile()
        if let root = JSON5.decode(text, issues: issues),
           let top = ObjectReader(root, path: "", known: ["version", "keys"], issues: issues) {
            if top.int64("version", default: -1, range: Int64.min...Int64.max) != formatVersion {
                issues.add("version", "unsupported key file version (this drawbridge reads version \(formatVersion))")
            }
            if let keys = top.required("keys") {
                if case .object(let members) = keys {
                    for (id, value) in members {
                        let path = join("keys", id)
                        guard BackupNames.isArchiveId(id) else { issues.add(path, "not an archive id"); continue }
                        guard let e = ObjectReader(value, path: path, known: ["created", "sealed"], issues: issues),
                              e.required("created") != nil, let text = e.requiredString("sealed") else { continue }
                        let created = UInt64(e.int64("created", default: 0, range: 0...Int64.max))
                        guard let sealed = Base64URL.decode(text) else { issues.add(e.fieldPath("sealed"), "not base64url"); continue }
                        result.entries[id] = Entry(created: created, sealed: sealed)
                    }
                } else {
                    issues.add("keys", "expected an object, got \(keys.kindDescription)")
                }
            }
        }
        guard issues.isEmpty else { throw BackupError(ConfigErrors(issues: issues.issues).description) }
        return result
    }

    func encode() -> String {
        JSONWriter.write(.object(["version": .int(Self.formatVersion), "keys": .object(entries.mapValues { e in
            .object(["created": .int(Int64(clamping: e.created)), "sealed": .string(Base64URL.encode(e.sealed))])
        })]))
    }

    /// Read-modify-write under the file's lock; a change is written atomically and fsynced (file
    /// and directory) before this returns, so a destroyed key is gone from disk when it returns.
    static func update<T>(_ path: String, _ body: (inout BackupKeyFile) throws -> T) throws -> T {
        try update(path, body) { _, result in result }
    }

    /// As `update`, then `after` runs with the file as written, still under the lock.
    static func update<T, U>(_ path: String, _ body: (inout BackupKeyFile) throws -> T,
                             then after: (BackupKeyFile, T) throws -> U) throws -> U {
        try AtomicFile.withLock(path) {
            var file = try read(path)
            let before = file.entries
            let result = try body(&file)
            if file.entries != before { try AtomicFile.write(path, contents: Array(file.encode().utf8)) }
            return try after(file, result)
        }
    }
}
