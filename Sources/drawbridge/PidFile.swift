import Foundation
import Glibc

/// The gateway's pid file (`serve --pid-file PATH`), read by the identity commands to SIGHUP it.
/// Honest: written once the listeners are bound, locked (flock) for the life of the gateway,
/// removed at exit; a file left by a gateway that is gone (kill -9, power cut) holds no lock and
/// is replaced, while one locked by a running gateway is refused.
enum PidFile {
    /// The descriptor holding the lock, open until the process ends.
    nonisolated(unsafe) private static var lockFd: Int32 = -1

    static func acquire(_ path: String) throws {
        let existing = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if existing >= 0 {
            defer { close(existing) }
            if flock(existing, LOCK_SH | LOCK_NB) != 0 {
                throw PidFileError(description: "\(path) is locked by a running gateway (pid \(pidText(path))); "
                    + "stop it first, or give this one another --pid-file")
            }
            let old = pidText(path)
            if !old.isEmpty { stderrLog("drawbridge: replacing stale pid file \(path) (pid \(old) is not running)") }
        }
        // Written beside it, locked, then renamed over it: a reader sees the old content or the
        // whole new pid, never an empty or half-written file, and the lock is on the file at PATH.
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw PidFileError(description: "cannot write the pid file \(temp): \(String(cString: strerror(errno)))") }
        let text = Array("\(getpid())\n".utf8)
        guard fchmod(fd, 0o644) == 0, flock(fd, LOCK_EX | LOCK_NB) == 0, write(fd, text, text.count) == text.count, fsync(fd) == 0,
              rename(temp, path) == 0 else {
            let e = errno
            close(fd); unlink(temp)
            throw PidFileError(description: "cannot write the pid file \(path): \(String(cString: strerror(e)))")
        }
        lockFd = fd
    }

    private static func pidText(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Removes the file if it still holds this process's pid (a newer gateway may own it now).
    static func remove(_ path: String) {
        if pidText(path) == String(getpid()) { unlink(path) }
        if lockFd >= 0 { close(lockFd); lockFd = -1 }
    }
}

struct PidFileError: Error, CustomStringConvertible { let description: String }
