import DrawbridgeConfig
import Foundation
import Glibc

/// The one way Drawbridge replaces a state file (users, API keys, secrets, mode cut-offs, the
/// compacted sign-out list, the pid file): crash-safe, owner-only, never through a symbolic link,
/// serialised between writers.
public enum AtomicFile {
    public struct Failure: Error, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }
    }

    /// How long a command waits for another one's lock before giving up (`--lock-timeout`).
    nonisolated(unsafe) public static var lockTimeoutSeconds: Double = 30
    /// Told once when a lock is busy, before waiting ("waiting for …"); nil: wait silently.
    nonisolated(unsafe) public static var lockWaitNotice: ((String) -> Void)?

    /// Runs `body` while holding an exclusive `flock` on `<path>.lock`, so two CLI invocations
    /// cannot both read the old file and the second write lose the first one's change. When the
    /// lock is busy, says so through `lockWaitNotice` (naming the holder's pid when /proc/locks
    /// tells it) and gives up after `lockTimeoutSeconds` with an error that says what to do.
    public static func withLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let lockPath = path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Failure(path: lockPath, message: "cannot open lock file: \(errnoText())") }
        defer { close(fd) }   // closing releases the lock
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw Failure(path: lockPath, message: "cannot lock: \(errnoText())") }
            let holder = lockHolder(fd).map { " (held by pid \($0))" } ?? ""
            lockWaitNotice?("waiting for the lock on \(lockPath)\(holder): another drawbridge command is changing \((path as NSString).lastPathComponent); giving up after \(formatSeconds(lockTimeoutSeconds))")
            let deadline = monotonicSeconds() + lockTimeoutSeconds
            while flock(fd, LOCK_EX | LOCK_NB) != 0 {
                guard errno == EWOULDBLOCK || errno == EINTR else { throw Failure(path: lockPath, message: "cannot lock: \(errnoText())") }
                guard monotonicSeconds() < deadline else {
                    throw Failure(path: lockPath, message: "timed out after \(formatSeconds(lockTimeoutSeconds)) waiting for the lock\(lockHolder(fd).map { " held by pid \($0)" } ?? ""); "
                        + "nothing was changed. Wait for the other command to finish (or stop it) and try again, or give more time with --lock-timeout SECONDS")
                }
                usleep(20_000)
            }
        }
        return try body()
    }

    /// Writes `contents` to a temporary file (owner-only) in the same directory, fsyncs it,
    /// renames it over `path` and fsyncs the directory: readers see the old file or the new one,
    /// never a mix, also after a crash or a power cut. The temporary file is removed on any error
    /// (and by `removeLeftovers` after a kill). A `path` that is a symbolic link is refused: the
    /// change would land elsewhere than the operator believes.
    public static func write(_ path: String, contents: [UInt8], mode: mode_t = 0o600) throws {
        let directory = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        var st = stat()
        if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK {
            throw Failure(path: path, message: "is a symbolic link; refusing to replace it (state files must be regular files where the configuration names them)")
        }
        var template = Array("\(directory)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }   // created with mode 0600
        guard fd >= 0 else { throw Failure(path: path, message: "cannot create a temporary file in \(directory): \(errnoText())") }
        let tempPath = String(cString: template)
        var committed = false
        defer { if !committed { unlink(tempPath) } }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        do {
            defer { close(fd) }
            // Secrets and hashes: owner only, whatever the umask.
            guard fchmod(fd, mode) == 0 else { throw Failure(path: tempPath, message: "chmod: \(errnoText())") }
            var offset = 0
            while offset < contents.count {
                let n = contents[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw Failure(path: path, message: "cannot write (\(errnoText())); the file is unchanged") }
                offset += n
            }
            guard fsync(fd) == 0 else { throw Failure(path: path, message: "cannot save (fsync: \(errnoText())); the file is unchanged") }
        }
        guard rename(tempPath, path) == 0 else { throw Failure(path: path, message: "rename: \(errnoText())") }
        committed = true
        try syncDirectory(directory)
    }

    /// fsync of a directory: makes a create, rename or unlink in it durable.
    public static func syncDirectory(_ directory: String) throws {
        let dirFd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFd >= 0 else { throw Failure(path: directory, message: "cannot open the directory to save it: \(errnoText())") }
        defer { close(dirFd) }
        guard fsync(dirFd) == 0 else { throw Failure(path: directory, message: "fsync of the directory: \(errnoText())") }
    }

    /// The file's text, or nil when it does not exist.
    public static func read(_ path: String) throws(ConfigErrors) -> String? {
        try readBytes(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The file's bytes, or nil when it does not exist. Any other failure (a symbolic link, not
    /// a regular file, EACCES, EIO…) is an error naming the file: an unreadable state file is
    /// never taken for an empty one.
    public static func readBytes(_ path: String) throws(ConfigErrors) -> [UInt8]? {
        func failure(_ message: String) -> ConfigErrors { ConfigErrors(issues: [ConfigIssue(file: path, path: "", message: message)]) }
        // O_NONBLOCK: a FIFO planted here must not hang the start.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            if errno == ELOOP { throw failure("is a symbolic link; refused (state files must be regular files where the configuration names them)") }
            throw failure("cannot read: \(errnoText())")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw failure("cannot read: \(errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw failure("cannot read: not a regular file") }
        var data = [UInt8]()
        data.reserveCapacity(Int(st.st_size))
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw failure("cannot read: \(errnoText())") }
            if n == 0 { break }
            data += buffer[0..<n]
        }
        return data
    }

    /// Removes the temporary files a killed writer of `path` left behind: `.<name>.tmp-XXXXXX`
    /// (this writer) and `<name>.tmp-<pid>` (older versions). Skipped while a command holds the
    /// file's lock (its temporary file is in use). Returns the names removed.
    @discardableResult
    public static func removeLeftovers(of path: String) -> [String] {
        let directory = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let lockFd = open(path + ".lock", O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        if lockFd >= 0 {
            defer { close(lockFd) }
            guard flock(lockFd, LOCK_EX | LOCK_NB) == 0 else { return [] }
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        for name in names where isLeftover(name, of: base) {
            if unlink(directory + "/" + name) == 0 { removed.append(name) }
        }
        return removed
    }

    static func isLeftover(_ name: String, of base: String) -> Bool {
        if name.hasPrefix(".\(base).tmp-") { return name.utf8.count == base.utf8.count + 12 }
        if name.hasPrefix("\(base).tmp-") {
            let rest = name.dropFirst(base.count + 5)
            return !rest.isEmpty && rest.allSatisfy { $0.isASCII && $0.isNumber }
        }
        return false
    }

    /// The pid holding a flock on `fd`'s file, from /proc/locks (nil when it cannot tell).
    static func lockHolder(_ fd: Int32) -> Int32? {
        var st = stat()
        guard fstat(fd, &st) == 0, let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        let inode = ":\(st.st_ino)"
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
            guard parts.count >= 6, parts[1] == "FLOCK", parts[5].hasSuffix(inode), let pid = Int32(parts[4]), pid != getpid() else { continue }
            return pid
        }
        return nil
    }

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func formatSeconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
