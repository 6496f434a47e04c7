import DrawbridgeConfig
import Foundation
import Glibc

/// All-or-nothing restore of the state files from an archive.
///
/// 1. The archive is opened completely (every chunk authenticated) while each file is staged as
///    `.<name>.restore` next to its target (written with the atomic writer, fsynced).
/// 2. The staged state must load: the configuration parses, names the same state files, and the
///    identity files open with the master key. Otherwise the staged files are removed: nothing changed.
/// 3. The journal `<config dir>/.drawbridge-restore.journal` is written atomically: from here on
///    the restore is committed.
/// 4. Each staged file is renamed over its target (or the target removed, for a file that did not
///    exist at backup time; or, for the sign-out list, its lines appended to the current file),
///    the directories fsynced, the journal removed.
///
/// A crash (kill -9, power cut) before 3 leaves the old state and stray staged files, removed at
/// the next restore; after 3, the next start of the gateway, reload, identity command or backup
/// command completes step 4 before reading anything (`completeInterrupted`): no mix of old and
/// new files is ever read.
public enum StateRestore {
    public static let journalName = ".drawbridge-restore.journal"
    /// Test hook: SIGKILL this process after that many renames (tests of the crash case).
    static let crashAfterVariable = "DRAWBRIDGE_TEST_RESTORE_CRASH_AFTER"

    public struct Outcome: Sendable {
        public let id: String
        public let created: UInt64
        /// Names of the files replaced, removed, and kept as they were (not in the archive).
        public let replaced: [String]
        public let removed: [String]
        public let kept: [String]
    }

    static func stagedPath(_ target: String) -> String {
        let directory = (target as NSString).deletingLastPathComponent
        return directory + "/." + (target as NSString).lastPathComponent + ".restore"
    }

    static func journalPath(_ configDirectory: String) -> String {
        URL(fileURLWithPath: configDirectory).standardizedFileURL.path + "/" + journalName
    }

    public static func restore(_ site: BackupSite, master: MasterKey, path: String) throws -> Outcome {
        _ = try completeInterrupted(configDirectory: site.configDirectory)
        let files = site.stateFiles
        return try Backups.withLocks(files) {
            discardStaged(files)
            var staged: [String: [UInt8]?] = [:]   // name -> new bytes (nil: remove)
            var appended: Set<String> = []          // names whose staged bytes are appended in place
            do {
                let header = try Backups.open(site, master: master, path: path) { member in
                    guard let file = files.first(where: { $0.name == member.name }) else {
                        throw BackupError("\(path): the archive holds \"\(member.name)\", which this drawbridge does not know "
                                          + "(made by a newer version?); nothing was changed")
                    }
                    let exists = access(file.path, F_OK) == 0
                    if file.policy == .restoreIfMissing && exists { return }
                    var content = member.bytes
                    if content == nil && !exists { return }   // absent then and now: nothing to do
                    if file.policy == .appendLines && exists {
                        // Revocations only accumulate: the archived lines are appended to the current
                        // file in place (the running gateway keeps appending to the file it has open).
                        guard let lines = member.bytes, !lines.isEmpty else { return }
                        content = [UInt8(ascii: "\n")] + lines + (lines.last == UInt8(ascii: "\n") ? [] : [UInt8(ascii: "\n")])
                        appended.insert(file.name)
                    }
                    if let content { try AtomicFile.write(stagedPath(file.path), contents: content) }
                    staged[file.name] = .some(content)
                }
                try checkLoads(site, files: files, staged: staged, archive: path)
                let entries = files.compactMap { f -> JournalEntry? in
                    guard let content = staged[f.name] else { return nil }
                    return JournalEntry(target: f.path, action: content == nil ? .remove : appended.contains(f.name) ? .append : .replace)
                }
                // The commit point: once the journal is on disk, the restore completes, whatever happens next.
                try AtomicFile.write(journalPath(site.configDirectory), contents: Array(encode(entries, archive: header.id).utf8))
                try apply(entries, configDirectory: site.configDirectory)
                return Outcome(id: header.id, created: header.created,
                               replaced: files.filter { staged[$0.name] != nil && staged[$0.name]! != nil }.map(\.name),
                               removed: files.filter { staged[$0.name] != nil && staged[$0.name]! == nil }.map(\.name),
                               kept: files.filter { staged[$0.name] == nil }.map(\.name))
            } catch {
                if !FileManager.default.fileExists(atPath: journalPath(site.configDirectory)) { discardStaged(files) }
                throw error
            }
        }
    }

    /// Completes a restore whose journal is on disk (true when there was one).
    public static func completeInterrupted(configDirectory: String) throws -> Bool {
        let path = journalPath(configDirectory)
        guard let text = try StateFiles.readBytes(path) else { return false }
        try apply(try decode(String(decoding: text, as: UTF8.self), file: path), configDirectory: configDirectory)
        return true
    }

    // MARK: - Steps

    /// The restored state as the gateway would load it, from the staged files.
    private static func checkLoads(_ site: BackupSite, files: [StateFile], staged: [String: [UInt8]?], archive: String) throws {
        func after(_ f: StateFile) -> [UInt8]? {
            if let content = staged[f.name] { return content }
            return try? StateFiles.readBytes(f.path)
        }
        let nothing = "; nothing was changed"
        guard let configFile = files.first(where: { $0.path.hasSuffix("/" + ConfigLoader.mainFileName) }),
              let configBytes = after(configFile) else {
            throw BackupError("\(archive): the restored state would have no \(ConfigLoader.mainFileName)\(nothing)")
        }
        let config: GatewayConfig
        do {
            config = try ConfigLoader.parse(json5: String(decoding: configBytes, as: UTF8.self), file: configFile.path,
                                            baseDirectory: site.configDirectory)
        } catch {
            throw BackupError("\(archive): the archived configuration is not valid here\(nothing):\n\(error)")
        }
        guard let auth = config.auth else { throw BackupError("\(archive): the archived configuration has no auth section\(nothing)") }
        // The archive's files go where today's configuration keeps them; the archived one must agree.
        let restored = StateFiles.all(configDirectory: site.configDirectory, auth: auth)
        guard restored.map(\.path) == files.map(\.path) else {
            let differ = zip(restored, files).filter { $0.path != $1.path }.map { "\($1.name): \($0.path) instead of \($1.path)" }
            throw BackupError("\(archive): the archived configuration keeps its state elsewhere (\(differ.joined(separator: ", ")))"
                              + "\(nothing); restore it by hand, or point the configuration there first")
        }
        func stagedOrCurrent(_ path: String) -> String {
            guard let f = files.first(where: { $0.path == path }), let content = staged[f.name] else { return path }
            return content == nil ? stagedPath(path) + ".absent" : stagedPath(path)
        }
        var check = auth
        check.usersFile = stagedOrCurrent(auth.usersFile)
        check.apiKeysFile = stagedOrCurrent(auth.apiKeysFile)
        check.secretsFile = stagedOrCurrent(auth.secretsFile)
        do { _ = try IdentityStore.load(check) } catch {
            throw BackupError("\(archive): the archived identity files do not load with this master key\(nothing):\n\(error)")
        }
    }

    struct JournalEntry: Equatable {
        enum Action: String { case replace, remove, append }
        let target: String
        let action: Action
    }

    /// Renames every staged file over its target (a missing staged file was renamed already),
    /// removes the targets to remove, fsyncs the directories, then removes the journal.
    private static func apply(_ entries: [JournalEntry], configDirectory: String) throws {
        let crashAfter = ProcessInfo.processInfo.environment[crashAfterVariable].flatMap { Int($0) }
        var directories: Set<String> = []
        var renames = 0
        for e in entries {
            let staged = stagedPath(e.target)
            directories.insert((e.target as NSString).deletingLastPathComponent)
            if e.action == .remove {
                guard unlink(e.target) == 0 || errno == ENOENT else {
                    throw BackupError("\(e.target): cannot remove: \(String(cString: strerror(errno))) (the restore completes at the next try)")
                }
            } else if e.action == .append, let lines = try StateFiles.readBytes(staged) {
                // Repeated after a crash, lines are only duplicated: harmless in a revocation list.
                try appendInPlace(lines, to: e.target)
                unlink(staged)
            } else if access(staged, F_OK) == 0 {
                guard rename(staged, e.target) == 0 else {
                    throw BackupError("\(e.target): cannot replace: \(String(cString: strerror(errno))) (the restore completes at the next try)")
                }
                renames += 1
                if renames == crashAfter { kill(getpid(), SIGKILL) }
            }
        }
        for d in directories.sorted() { try StateFiles.syncDirectory(d) }
        let journal = journalPath(configDirectory)
        guard unlink(journal) == 0 || errno == ENOENT else { throw BackupError("\(journal): cannot remove: \(String(cString: strerror(errno)))") }
        try StateFiles.syncDirectory((journal as NSString).deletingLastPathComponent)
    }

    /// One `write(2)` with O_APPEND, then fsync: lands after whatever the gateway appended.
    private static func appendInPlace(_ bytes: [UInt8], to path: String) throws(BackupError) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw BackupError("\(path): cannot open to append: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw BackupError("\(path): cannot append: \(String(cString: strerror(errno)))") }
            offset += n
        }
        guard fsync(fd) == 0 else { throw BackupError("\(path): fsync: \(String(cString: strerror(errno)))") }
    }

    private static func discardStaged(_ files: [StateFile]) {
        for f in files { unlink(stagedPath(f.path)) }
    }

    // MARK: - Journal format

    static func encode(_ entries: [JournalEntry], archive: String) -> String {
        JSONWriter.write(.object(["version": .int(1), "archive": .string(archive), "files": .array(entries.map { e in
            .object(["target": .string(e.target), "action": .string(e.action.rawValue)])
        })]))
    }

    static func decode(_ text: String, file: String) throws -> [JournalEntry] {
        let issues = IssueCollector(file: file)
        var entries: [JournalEntry] = []
        if let root = JSON5.decode(text, issues: issues),
           let top = ObjectReader(root, path: "", known: ["version", "archive", "files"], issues: issues) {
            _ = top.int64("version", default: 1, range: 1...1)
            if case .array(let list)? = top.required("files") {
                for (i, value) in list.enumerated() {
                    guard let e = ObjectReader(value, path: "files[\(i)]", known: ["target", "action"], issues: issues),
                          let target = e.requiredString("target"), let actionText = e.requiredString("action") else { continue }
                    guard let action = JournalEntry.Action(rawValue: actionText) else {
                        issues.add(e.fieldPath("action"), "unknown action \"\(actionText)\""); continue
                    }
                    // Only absolute paths, renamed from their own staged name: a journal cannot move anything else.
                    guard target.hasPrefix("/"), !target.contains("/../"), !target.hasSuffix("/..") else {
                        issues.add(e.fieldPath("target"), "not an absolute path"); continue
                    }
                    entries.append(JournalEntry(target: target, action: action))
                }
            }
        }
        guard issues.isEmpty else {
            throw BackupError("an interrupted restore cannot be completed: its journal is damaged:\n"
                              + ConfigErrors(issues: issues.issues).description + "\nrestore again from the archive")
        }
        return entries
    }
}
