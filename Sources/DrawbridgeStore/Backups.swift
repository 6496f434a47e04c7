import DrawbridgeConfig
import DrawbridgeCrypto
import Foundation
import Glibc

/// Where one gateway's backups live and what they cover.
public struct BackupSite: Sendable {
    public let configDirectory: String
    public let auth: AuthConfig
    public let settings: BackupConfig

    public init(configDirectory: String, auth: AuthConfig, settings: BackupConfig) {
        self.configDirectory = configDirectory
        self.auth = auth
        self.settings = settings
    }

    public var stateFiles: [StateFile] { StateFiles.all(configDirectory: configDirectory, auth: auth) }

    public func archivePath(id: String) -> String { settings.directory + "/" + BackupNames.fileName(id: id) }

    /// An archive named by id, or by path.
    public func resolve(_ archive: String) -> String {
        BackupNames.isArchiveId(archive) ? archivePath(id: archive) : archive
    }
}

/// One archive as `list` shows it: its key entry, its file, or both.
public struct BackupListing: Sendable {
    public let id: String
    public let created: UInt64
    /// nil: no file in the directory (copied elsewhere, or removed by hand).
    public let bytes: UInt64?
    /// false: the data key was destroyed, the archive is unreadable.
    public let hasKey: Bool
}

/// create, list, verify and prune (restore: `StateRestore`).
public enum Backups {
    public struct Created: Sendable {
        public let id: String
        public let path: String
        public let bytes: Int
        public let files: Int
    }

    /// Archives the state files: a new data key goes into the key file (fsynced) first, then the
    /// archive is written atomically; an archive never exists without its key.
    public static func create(_ site: BackupSite, master: MasterKey, now: UInt64,
                              chunkSize: Int = BackupArchive.defaultChunkSize) throws -> Created {
        try makeDirectory(site.settings.directory)
        let id = archiveId(now)
        // The CLI's locks: a `user add` running now lands wholly before or after this snapshot.
        let members = try withLocks(site.stateFiles) {
            try site.stateFiles.map { StatePayload.Member(name: $0.name, bytes: try StateFiles.readBytes($0.path)) }
        }
        let payload = StatePayload.encode(members)
        let (key, entry) = try BackupKeyFile.newKey(id: id, created: now, master: master)
        let archive = try BackupArchive.seal(payload: payload, key: key, id: id, created: now, chunkSize: chunkSize)
        try BackupKeyFile.update(site.settings.keyFile) { $0.entries[id] = entry }
        let path = site.archivePath(id: id)
        do {
            try AtomicFile.write(path, contents: archive)
        } catch {
            _ = try? BackupKeyFile.update(site.settings.keyFile) { $0.entries[id] = nil }
            throw error
        }
        return Created(id: id, path: path, bytes: archive.count, files: members.filter { $0.bytes != nil }.count)
    }

    /// Every archive known by key or by file, oldest first.
    public static func list(_ site: BackupSite) throws -> [BackupListing] {
        let keys = try BackupKeyFile.read(site.settings.keyFile)
        var files: [String: UInt64] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: site.settings.directory)) ?? [] {
            guard let id = BackupNames.id(fileName: name) else { continue }
            var st = stat()
            if lstat(site.settings.directory + "/" + name, &st) == 0 { files[id] = UInt64(st.st_size) }
        }
        var result: [BackupListing] = []
        for id in Set(keys.entries.keys).union(files.keys).sorted() {
            var created = keys.entries[id]?.created
            if created == nil, let source = try? ByteSource(path: site.archivePath(id: id)),
               let header = try? BackupArchive.readHeader(source, file: id) { created = header.created }
            result.append(BackupListing(id: id, created: created ?? 0, bytes: files[id], hasKey: keys.entries[id] != nil))
        }
        return result
    }

    /// Opens the archive at `path` completely (every chunk authenticated, the file list whole) and
    /// hands each file to `onMember`; throws on the first problem.
    /// A file named for an archive id must hold that archive (not an older one renamed over it).
    public static func open(_ site: BackupSite, master: MasterKey, path: String,
                            onMember: @escaping (StatePayload.Member) throws -> Void) throws -> BackupArchive.Header {
        let source = try ByteSource(path: path)
        let header = try BackupArchive.readHeader(source, file: path)
        if let named = BackupNames.id(fileName: (path as NSString).lastPathComponent), named != header.id {
            throw BackupError("\(path): the file is named for archive \(named) but holds archive \(header.id): refused "
                              + "(an archive renamed over another)")
        }
        var key = try BackupKeyFile.read(site.settings.keyFile).dataKey(id: header.id, master: master, file: site.settings.keyFile)
        defer { key.wipeBytes() }
        let parser = StatePayload.Parser(file: path, onMember: onMember)
        try BackupArchive.open(source, header: header, key: key, file: path) { try parser.feed($0) }
        try parser.finish()
        return header
    }

    /// Destroys every archive past the window: its data key first (the key file rewritten and
    /// fsynced: from then on no copy of the archive anywhere can be read), then its file. Files
    /// whose key is already gone are removed too (they are unreadable). Returns the ids destroyed.
    public static func prune(_ site: BackupSite, now: UInt64) throws -> [String] {
        let window = UInt64(site.settings.keepDays) * 86_400
        // One hold of the key file's lock throughout: a key added by a concurrent `create` is
        // in the file before its archive exists, so no fresh archive is taken for an orphan.
        return try BackupKeyFile.update(site.settings.keyFile) { file -> [String] in
            let expired = file.entries.filter { $0.value.created &+ window <= now }.map(\.key).sorted()
            for id in expired { file.entries[id] = nil }
            return expired
        } then: { file, expired in
            var removed: [String] = []
            for name in (try? FileManager.default.contentsOfDirectory(atPath: site.settings.directory)) ?? [] {
                guard let id = BackupNames.id(fileName: name), file.entries[id] == nil else { continue }
                if unlink(site.settings.directory + "/" + name) == 0 || errno == ENOENT { removed.append(id) }
                else { throw BackupError("\(site.settings.directory)/\(name): cannot remove: \(String(cString: strerror(errno)))") }
            }
            if !removed.isEmpty { try StateFiles.syncDirectory(site.settings.directory) }
            return Array(Set(expired).union(removed)).sorted()
        }
    }

    /// The newest archive's creation time (from the key file), nil when there is none.
    public static func newest(_ site: BackupSite) throws -> UInt64? {
        try BackupKeyFile.read(site.settings.keyFile).entries.values.map(\.created).max()
    }

    /// The oldest key's creation time: when the next one leaves the window.
    public static func oldest(_ site: BackupSite) throws -> UInt64? {
        try BackupKeyFile.read(site.settings.keyFile).entries.values.map(\.created).min()
    }

    // MARK: - Helpers

    /// `YYYYMMDDTHHMMSSZ-` + 64 random bits.
    static func archiveId(_ now: UInt64) -> String {
        var t = time_t(now)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let stamp = pad(parts.tm_year + 1900, 4) + pad(parts.tm_mon + 1, 2) + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + pad(parts.tm_min, 2) + pad(parts.tm_sec, 2) + "Z"
        return stamp + "-" + MasterKey.hexEncode(SecureRandom.bytes(8))
    }

    /// Creates the directory (owner only) when missing; refuses one that others can write to.
    static func makeDirectory(_ path: String) throws(BackupError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw BackupError("\(path): cannot create the backup directory: \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw BackupError("\(path): the backup directory is not a directory")
        }
        // Others who can write here can swap an archive for theirs (it still has to authenticate) or delete them.
        guard st.st_mode & 0o022 == 0 else {
            throw BackupError("\(path): the backup directory is writable by group or others (run `chmod 700 \(path)`)")
        }
    }

    /// Runs `body` holding the CLI's lock of every locked file, taken in path order (no deadlock).
    static func withLocks<T>(_ files: [StateFile], _ body: () throws -> T) throws -> T {
        let paths = files.filter(\.locked).map(\.path).sorted()
        func nest(_ rest: ArraySlice<String>) throws -> T {
            guard let first = rest.first else { return try body() }
            return try AtomicFile.withLock(first) { try nest(rest.dropFirst()) }
        }
        return try nest(paths[...])
    }
}
