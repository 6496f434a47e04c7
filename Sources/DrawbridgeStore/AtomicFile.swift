import DrawbridgeConfig
import Foundation
import Glibc

/// Crash-safe replacement of a data file, serialised between writers.
enum AtomicFile {
    struct Failure: Error, CustomStringConvertible {
        var path: String
        var message: String
        var description: String { "\(path): \(message)" }
    }

    /// Runs `body` while holding an exclusive `flock` on `<path>.lock`, so two CLI invocations
    /// cannot both read the old file and the second write lose the first one's change.
    static func withLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let lockPath = path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Failure(path: lockPath, message: "cannot open lock file: \(errnoText())") }
        defer { close(fd) }   // closing releases the lock
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw Failure(path: lockPath, message: "cannot lock: \(errnoText())") }
        }
        return try body()
    }

    /// Writes `contents` to a temporary file (mode 0600) in the same directory, fsyncs it, renames
    /// it over `path` and fsyncs the directory: readers see the old file or the new one, never a
    /// mix, also after a crash. The temporary file is removed on any error.
    static func write(_ path: String, contents: [UInt8]) throws {
        let directory = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        var template = Array("\(directory)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }   // creates with mode 0600
        guard fd >= 0 else { throw Failure(path: path, message: "cannot create a temporary file in \(directory): \(errnoText())") }
        let tempPath = String(cString: template)
        var committed = false
        defer { if !committed { unlink(tempPath) } }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        do {
            defer { close(fd) }
            // Secrets and hashes: owner only, whatever the umask.
            guard fchmod(fd, 0o600) == 0 else { throw Failure(path: tempPath, message: "chmod: \(errnoText())") }
            var offset = 0
            while offset < contents.count {
                let n = contents[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw Failure(path: tempPath, message: "write: \(errnoText())") }
                offset += n
            }
            guard fsync(fd) == 0 else { throw Failure(path: tempPath, message: "fsync: \(errnoText())") }
        }
        guard rename(tempPath, path) == 0 else { throw Failure(path: path, message: "rename: \(errnoText())") }
        committed = true
        let dirFd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFd >= 0 {
            defer { close(dirFd) }
            guard fsync(dirFd) == 0 else { throw Failure(path: directory, message: "fsync of the directory: \(errnoText())") }
        }
    }

    /// The file's text, or nil when it does not exist.
    static func read(_ path: String) throws(ConfigErrors) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw ConfigErrors(issues: [ConfigIssue(file: path, path: "", message: "cannot read: \(errnoText())")])
        }
        defer { close(fd) }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                throw ConfigErrors(issues: [ConfigIssue(file: path, path: "", message: "cannot read: \(errnoText())")])
            }
            if n == 0 { break }
            data += buffer[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
