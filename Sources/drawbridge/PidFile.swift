import Foundation
import Glibc

/// The gateway's pid file (`serve --pid-file PATH`), read by the identity commands to SIGHUP it.
enum PidFile {
    /// Temp file + rename: a reader never sees a half-written pid. Mode 0644, like other pid files.
    static func write(_ path: String) {
        let temp = path + ".tmp-\(getpid())"
        let text = Array("\(getpid())\n".utf8)
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        var ok = fd >= 0
        if ok {
            ok = fchmod(fd, 0o644) == 0 && text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == text.count
            close(fd)
        }
        guard ok, rename(temp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            fail("drawbridge: cannot write the pid file \(path): \(reason)", code: 1)
        }
    }

    /// Removes the file if it still holds this process's pid (a newer gateway may own it now).
    static func remove(_ path: String) {
        if let text = try? String(contentsOfFile: path, encoding: .utf8),
           text.trimmingCharacters(in: .whitespacesAndNewlines) == String(getpid()) {
            unlink(path)
        }
    }
}
