import DrawbridgeConfig
import Foundation
import Glibc

/// One file of the gateway's state, as a backup archives it (its bytes, never parsed).
public struct StateFile: Sendable, Equatable {
    /// How a restore puts the archived bytes back.
    public enum RestorePolicy: Sendable, Equatable {
        /// The archived file replaces the current one (an archived absence removes it).
        case replace
        /// An append-only list of revocations: the archived lines are appended to the current file
        /// in place (the running gateway keeps appending to the file it has open), so a restore
        /// never undoes a sign-out made since the backup. Restored whole where the file is gone.
        case appendLines
        /// Written by the gateway and only ever stricter with time (mode cut-offs): the current
        /// file is kept; the archived one comes back only where the file is gone.
        case restoreIfMissing
    }

    /// Stable name inside an archive (never a path: the archive says what, the configuration where).
    public let name: String
    /// Absolute path on this gateway.
    public let path: String
    public let policy: RestorePolicy
    /// Written by the CLI under `AtomicFile.withLock` (backup and restore take the same lock).
    public let locked: Bool
}

/// THE set of files that make up the gateway's state: what `drawbridge backup` archives and
/// restores. A new state file is one line here.
public enum StateFiles {
    /// Directory of the secrets file; the gateway keeps its own state files next to it.
    public static func stateDirectory(_ auth: AuthConfig) -> String {
        (auth.secretsFile as NSString).deletingLastPathComponent
    }

    public static func all(configDirectory: String, auth: AuthConfig) -> [StateFile] {
        let state = stateDirectory(auth)
        let config = URL(fileURLWithPath: configDirectory).standardizedFileURL.path
        return [
            // Organisations, their modes and MFA rule, roles and groups, the auth and backup settings.
            StateFile(name: "drawbridge.json5", path: config + "/" + ConfigLoader.mainFileName, policy: .replace, locked: false),
            StateFile(name: "users.json", path: auth.usersFile, policy: .replace, locked: true),
            StateFile(name: "apikeys.json", path: auth.apiKeysFile, policy: .replace, locked: true),
            StateFile(name: "secrets.json", path: auth.secretsFile, policy: .replace, locked: true),
            StateFile(name: "auth-state.json", path: state + "/auth-state.json", policy: .restoreIfMissing, locked: false),
            StateFile(name: "signouts.jsonl", path: state + "/signouts.jsonl", policy: .appendLines, locked: false),
        ]
    }
}

extension StateFiles {
    /// The file's bytes as they are (never decoded), or nil when it does not exist. A symlink is
    /// refused: a backup must archive the file the gateway reads, not wherever a link points.
    public static func readBytes(_ path: String) throws(BackupError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            let reason = errno == ELOOP ? "is a symbolic link (refused)" : String(cString: strerror(errno))
            throw BackupError("\(path): cannot read: \(reason)")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw BackupError("\(path): not a regular file") }
        var data = [UInt8](repeating: 0, count: Int(st.st_size))
        var count = 0
        while true {
            if count == data.count { data += [UInt8](repeating: 0, count: max(4096, data.count)) }
            let n = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw BackupError("\(path): read error: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            count += n
        }
        data.removeSubrange(count...)
        return data
    }

    /// fsync of a directory, so renames and unlinks in it survive a power cut.
    static func syncDirectory(_ directory: String) throws(BackupError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw BackupError("\(directory): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw BackupError("\(directory): fsync: \(String(cString: strerror(errno)))") }
    }
}
