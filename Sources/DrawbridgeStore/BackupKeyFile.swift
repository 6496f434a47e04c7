import DrawbridgeConfig
import DrawbridgeCrypto

/// The archives' data keys, apart from the archives (`backup.keyFile`):
///
///     { "version": 1, "keys": { "<archive id>": { "created": <unix>, "sealed": "<base64url>",
///                                                  "masterKey": "<base64url>" (optional) } } }
///
/// Each data key is sealed as `1 | nonce | ciphertext | tag` under a key derived from the master
/// key for this one purpose (HMAC-SHA256(master, "drawbridge backup data keys v1")), with the
/// associated data `"drawbridge-backup-key-v1\0" + id + "\0" + created`: it opens only as the key
/// of that archive, and nothing sealed for another purpose opens here (nor this elsewhere).
/// Removing an entry is what destroys an archive: every copy of it becomes unreadable.
///
/// `masterKey`, written by a master key rotation (`drawbridge master-key rotate`): the earlier
/// master key that the archive's sealed values (TOTP seeds, secrets) are sealed under, itself
/// sealed the same way with the associated data `"drawbridge-backup-master-v1\0" + id + "\0" +
/// created`. A restore re-seals the archive's values from it to the current key. It lives exactly
/// as long as the archive's data key: destroying the archive erases it too, so the earlier key
/// is gone for good once the last archive made under it has left the window.
public struct BackupKeyFile: Sendable {
    public struct Entry: Sendable, Equatable {
        public let created: UInt64
        let sealed: [UInt8]
        /// The earlier master key sealed under the current one (nil: the archive's values are
        /// sealed under the current master key).
        var masterKey: [UInt8]? = nil
    }

    public var entries: [String: Entry] = [:]
    static let version: UInt8 = 1
    static let formatVersion: Int64 = 1
    static let purpose = Array("drawbridge backup data keys v1".utf8)
    static let aadPrefix = Array("drawbridge-backup-key-v1".utf8) + [0]
    static let masterAADPrefix = Array("drawbridge-backup-master-v1".utf8) + [0]

    public init() {}

    // MARK: - Sealing

    static func wrappingKey(_ master: MasterKey) -> [UInt8] { HMAC.sha256(key: master.bytes, data: purpose) }

    static func aad(id: String, created: UInt64, prefix: [UInt8] = aadPrefix) -> [UInt8] {
        prefix + Array(id.utf8) + [0] + Array(String(created).utf8)
    }

    static func seal(_ key: [UInt8], id: String, created: UInt64, prefix: [UInt8] = aadPrefix, master: MasterKey) throws -> [UInt8] {
        var wrapping = wrappingKey(master)
        defer { wrapping.wipeBytes() }
        return [version] + (try AESGCM.sealCombined(key: wrapping, plaintext: key, aad: aad(id: id, created: created, prefix: prefix)))
    }

    static func open(_ sealed: [UInt8], id: String, created: UInt64, prefix: [UInt8] = aadPrefix, master: MasterKey) -> [UInt8]? {
        guard sealed.count > 1, sealed[0] == version else { return nil }
        var wrapping = wrappingKey(master)
        defer { wrapping.wipeBytes() }
        guard let key = try? AESGCM.openCombined(key: wrapping, combined: Array(sealed[1...]), aad: aad(id: id, created: created, prefix: prefix)),
              key.count == AESGCM.keySize else { return nil }
        return key
    }

    /// A new random data key for archive `id`, and its entry for this file.
    static func newKey(id: String, created: UInt64, master: MasterKey) throws -> (key: [UInt8], entry: Entry) {
        let key = SecureRandom.bytes(AESGCM.keySize)
        return (key, Entry(created: created, sealed: try seal(key, id: id, created: created, master: master)))
    }

    /// The data key of archive `id`; a missing entry means the archive was destroyed (or is not ours).
    func dataKey(id: String, master: MasterKey, file: String) throws(BackupError) -> [UInt8] {
        guard let entry = entries[id] else {
            throw BackupError("archive \(id): its data key is not in \(file): it was destroyed when the archive left the "
                              + "retention window (or the archive comes from another gateway), so it cannot be read")
        }
        guard let key = Self.open(entry.sealed, id: id, created: entry.created, master: master) else {
            throw BackupError("archive \(id): its data key in \(file) cannot be opened: wrong master key, or the entry was altered")
        }
        return key
    }

    /// The master key the archive's sealed values were sealed under, when it is not `master`
    /// (the archive was made before a rotation); nil when it is `master`.
    func archiveMasterKey(id: String, master: MasterKey, file: String) throws(BackupError) -> MasterKey? {
        guard let entry = entries[id], let sealed = entry.masterKey else { return nil }
        guard var bytes = Self.open(sealed, id: id, created: entry.created, prefix: Self.masterAADPrefix, master: master) else {
            throw BackupError("archive \(id): the earlier master key in \(file) cannot be opened: wrong master key, or the entry was altered")
        }
        defer { bytes.wipeBytes() }
        return try? MasterKey(bytes: bytes, origin: "the master key of archive \(id) (before a rotation)")
    }

    /// Refuses a master key that does not open every entry: sealing a new data key under another
    /// key than the others' would leave an archive that no single key restores (a process still
    /// holding the key from before a rotation, say).
    func checkOpens(_ master: MasterKey, file: String) throws(BackupError) {
        for id in entries.keys.sorted() where Self.open(entries[id]!.sealed, id: id, created: entries[id]!.created, master: master) == nil {
            throw BackupError("\(file): the data key of archive \(id) does not open with \(master.origin): the key file is sealed under "
                              + "another master key (rotated since this process read its key? restart it with the new key; docs/KEYS.md), "
                              + "or the entry was altered; no backup was made")
        }
    }

    /// Every entry re-sealed from `old` to `new` (rotation): the data key, and the master key the
    /// archive's values are sealed under (`old` itself, or the one an earlier rotation recorded).
    /// Returns how many entries. Throws, changing nothing, when one does not open with `old`.
    mutating func reseal(from old: MasterKey, to new: MasterKey, file: String) throws -> Int {
        var result: [String: Entry] = [:]
        for (id, entry) in entries {
            guard var dataKey = Self.open(entry.sealed, id: id, created: entry.created, master: old) else {
                throw BackupError("\(file): keys.\(id): the data key does not open with the current master key (\(old.origin)); nothing was changed")
            }
            defer { dataKey.wipeBytes() }
            var earlier = try archiveMasterKey(id: id, master: old, file: file)?.bytes ?? old.bytes
            defer { earlier.wipeBytes() }
            var rekeyed = Entry(created: entry.created, sealed: try Self.seal(dataKey, id: id, created: entry.created, master: new))
            if earlier != new.bytes {
                rekeyed.masterKey = try Self.seal(earlier, id: id, created: entry.created, prefix: Self.masterAADPrefix, master: new)
            }
            result[id] = rekeyed
        }
        entries = result
        return result.count
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
                        guard let e = ObjectReader(value, path: path, known: ["created", "sealed", "masterKey"], issues: issues),
                              e.required("created") != nil, let text = e.requiredString("sealed") else { continue }
                        let created = UInt64(e.int64("created", default: 0, range: 0...Int64.max))
                        guard let sealed = Base64URL.decode(text) else { issues.add(e.fieldPath("sealed"), "not base64url"); continue }
                        var entry = Entry(created: created, sealed: sealed)
                        if let text = e.string("masterKey") {
                            guard let master = Base64URL.decode(text) else { issues.add(e.fieldPath("masterKey"), "not base64url"); continue }
                            entry.masterKey = master
                        }
                        result.entries[id] = entry
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
            var fields: [String: JSONValue] = ["created": .int(Int64(clamping: e.created)), "sealed": .string(Base64URL.encode(e.sealed))]
            if let m = e.masterKey { fields["masterKey"] = .string(Base64URL.encode(m)) }
            return .object(fields)
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
