import DrawbridgeConfig
import DrawbridgeCrypto
import Foundation
import Glibc

/// Going from master key A to master key B (`drawbridge master-key rotate`, docs/KEYS.md): every
/// value sealed under A is opened and sealed again under B — the TOTP seeds in the users file,
/// every entry of the secrets file, the backups' data keys (and, with each, the master key its
/// archive's values are sealed under, so an archive made before the rotation still restores
/// with B alone) — and, for a key kept in `auth.masterKeyFile`, B replaces A in that file.
///
/// All or nothing, with the restore's journal: every new file is staged next to its target and
/// checked (it must load with B); the journal is the commit point; the renames follow (and are
/// completed by the next start, reload or command after a crash). Before the commit nothing has
/// changed. The plaintexts (seeds, secrets, data keys) are the same after as before: sessions,
/// API keys, TOTP authenticators and OIDC client secrets all keep working.
public enum MasterKeyRotation {
    public struct Outcome: Sendable {
        public let seeds: Int
        public let secrets: Int
        public let dataKeys: Int
        /// The key file that now holds the new key (its old contents overwritten), if any.
        public let keyFile: String?
        /// False when the old key file could not be overwritten in place (it was replaced all the same).
        public let oldKeyOverwritten: Bool
    }

    /// `backupKeyFile`: the backups' key file (re-sealed when it exists). `keyFile`: write `new`
    /// there (replacing `old`, which is then overwritten), for a key kept in `auth.masterKeyFile`.
    public static func rotate(configDirectory: String, auth: AuthConfig, backupKeyFile: String?,
                              from old: MasterKey, to new: MasterKey, keyFile: String?) throws -> Outcome {
        _ = try StateRestore.completeInterrupted(configDirectory: configDirectory)
        guard old.bytes != new.bytes else {
            throw BackupError("the new master key is the current one (\(old.origin)); nothing was changed")
        }
        let files = StateFiles.all(configDirectory: configDirectory, auth: auth)
        // The CLI's locks and the gateway's writes to the users file: none lands between our read and our rename.
        return try Backups.withLocks(files) {
            try withLock(backupKeyFile) {
                var staged: [(target: String, bytes: [UInt8])] = []
                defer { for i in staged.indices { staged[i].bytes.wipeBytes() } }
                var seeds = 0, secrets = 0, dataKeys = 0
                if let text = try AtomicFile.read(auth.usersFile) {
                    let r = try resealUsers(text, file: auth.usersFile, from: old, to: new)
                    seeds = r.count
                    if r.count > 0 { staged.append((auth.usersFile, Array(r.text.utf8))) }
                }
                if let text = try AtomicFile.read(auth.secretsFile) {
                    let r = try resealSecrets(text, file: auth.secretsFile, from: old, to: new)
                    secrets = r.count
                    if r.count > 0 { staged.append((auth.secretsFile, Array(r.text.utf8))) }
                }
                if let path = backupKeyFile, access(path, F_OK) == 0 {
                    var keys = try BackupKeyFile.read(path)
                    dataKeys = try keys.reseal(from: old, to: new, file: path)
                    if dataKeys > 0 { staged.append((path, Array(keys.encode().utf8))) }
                }
                // The old key file's inode, to overwrite once the new one has replaced it.
                var oldKeyFd: Int32 = -1
                if let keyFile {
                    staged.append((keyFile, Array((MasterKey.hexEncode(new.bytes) + "\n").utf8)))
                    oldKeyFd = openForOverwrite(keyFile)
                }
                defer { if oldKeyFd >= 0 { close(oldKeyFd) } }
                do {
                    for s in staged { try AtomicFile.write(StateRestore.stagedPath(s.target), contents: s.bytes) }
                    try checkLoads(auth, staged: staged.map(\.target), with: new)
                    // The commit point: from here on the rotation completes, whatever happens next.
                    try StateRestore.commit(staged.map { .init(target: $0.target, action: .replace) }, label: "master key rotation",
                                            configDirectory: configDirectory)
                } catch {
                    if !FileManager.default.fileExists(atPath: StateRestore.journalPath(configDirectory)) {
                        for s in staged { unlink(StateRestore.stagedPath(s.target)) }
                    }
                    throw error
                }
                let overwritten = oldKeyFd >= 0 && overwrite(oldKeyFd)
                return Outcome(seeds: seeds, secrets: secrets, dataKeys: dataKeys, keyFile: keyFile, oldKeyOverwritten: overwritten)
            }
        }
    }

    // MARK: - Re-sealing one file (also used by a restore of an archive made before a rotation)

    /// The users file with every TOTP seed re-sealed from `old` to `new`, and how many there were.
    static func resealUsers(_ text: String, file: String, from old: MasterKey, to new: MasterKey) throws -> (text: String, count: Int) {
        var users = try StoreFiles.decodeUsers(text, file: file)
        var count = 0
        for i in users.indices {
            guard let sealed = users[i].totpSecretSealed else { continue }
            let name = Sealed.totpName(userId: users[i].id)
            var seed = try openValue(sealed, kind: .totpSeed, name: name, key: old, file: file, path: "users[\(i)].totp")
            defer { seed.wipeBytes() }
            users[i].totpSecretSealed = try Sealed.seal(seed, kind: .totpSeed, name: name, key: new)
            count += 1
        }
        return (StoreFiles.encodeUsers(users), count)
    }

    /// The secrets file with every entry re-sealed from `old` to `new`, and how many there were.
    static func resealSecrets(_ text: String, file: String, from old: MasterKey, to new: MasterKey) throws -> (text: String, count: Int) {
        var secrets = try StoreFiles.decodeSecrets(text, file: file)
        for name in secrets.keys.sorted() {
            var value = try openValue(secrets[name]!, kind: .secret, name: name, key: old, file: file, path: join("secrets", name))
            defer { value.wipeBytes() }
            secrets[name] = try Sealed.seal(value, kind: .secret, name: name, key: new)
        }
        return (StoreFiles.encodeSecrets(secrets), secrets.count)
    }

    /// Opens a value in the current format, or in the format of earlier releases (converted on
    /// the way, as `drawbridge secret reseal` would).
    private static func openValue(_ sealed: [UInt8], kind: SealedKind, name: String, key: MasterKey,
                             file: String, path: String) throws(ConfigErrors) -> [UInt8] {
        do {
            if let legacy = try Sealed.openLegacy(sealed, name: name, key: key) { return legacy }
            return try Sealed.open(sealed, kind: kind, name: name, key: key)
        } catch {
            throw ConfigErrors(issues: [ConfigIssue(file: file, path: path,
                                                    message: "\(error.description) (with \(key.origin)); nothing was changed")])
        }
    }

    // MARK: - Steps

    /// The staged identity files must load with the new key, as the gateway will load them.
    private static func checkLoads(_ auth: AuthConfig, staged: [String], with key: MasterKey) throws {
        var check = auth
        for t in staged {
            if t == auth.usersFile { check.usersFile = StateRestore.stagedPath(t) }
            if t == auth.secretsFile { check.secretsFile = StateRestore.stagedPath(t) }
        }
        do { _ = try IdentityStore.load(check, key: key) } catch {
            throw BackupError("the re-sealed identity files do not load with the new key; nothing was changed:\n\(error)")
        }
    }

    private static func withLock<T>(_ path: String?, _ body: () throws -> T) throws -> T {
        guard let path else { return try body() }
        return try AtomicFile.withLock(path, body)
    }

    /// A descriptor to write the old key file's contents through after the rename (-1: none).
    private static func openForOverwrite(_ path: String) -> Int32 {
        var fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 && errno == EACCES {
            // A key file of mode 0400: ours (the loader checked), so we may make it writable first.
            let ro = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            if ro >= 0 {
                if fchmod(ro, 0o600) == 0 { fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC) }
                close(ro)
            }
        }
        return fd
    }

    /// Zeros over the whole old key, then fsync: the unlinked inode no longer holds it (on a
    /// filesystem that writes in place; copy-on-write and flash may keep old blocks, docs/KEYS.md).
    private static func overwrite(_ fd: Int32) -> Bool {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return false }
        let zeros = [UInt8](repeating: 0, count: Int(st.st_size))
        let n = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return n == zeros.count && fsync(fd) == 0
    }
}
