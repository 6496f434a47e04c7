import CLinux
import Glibc

/// The log files the gateway writes (access log, audit log), reopened on SIGUSR1 after logrotate
/// has renamed them, as nginx does on USR1. The new file is opened and `dup2`'d onto the old
/// descriptor number: every writer (workers, job threads) keeps its fd, and each write goes
/// whole to the old file or whole to the new one, with no lock on the request path.
struct LogReopen {
    struct File {
        let path: String
        let fd: Int32
        let what: String
    }
    private(set) var files: [File] = []

    mutating func add(path: String, fd: Int32, what: String) {
        files.append(File(path: path, fd: fd, what: what))
    }

    /// Reopens every file; a file that cannot be opened keeps its old descriptor (lines go on to
    /// the renamed file rather than nowhere). Returns one log line per file.
    func reopen() -> [String] {
        files.map { f in
            // O_NOFOLLOW: as at start, a log path replaced by a symlink is refused.
            let fd = open(f.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o640)
            if fd < 0 {
                let e = CLinux_errno()
                return "drawbridge: error: cannot reopen \(f.what) \(f.path) (\(String(cString: strerror(e)))); still writing to the old file"
            }
            defer { close(fd) }
            if dup2(fd, f.fd) < 0 {
                let e = CLinux_errno()
                return "drawbridge: error: cannot reopen \(f.what) \(f.path) (dup2: \(String(cString: strerror(e)))); still writing to the old file"
            }
            _ = fcntl(f.fd, F_SETFD, FD_CLOEXEC)   // dup2 clears it
            return "drawbridge: reopened \(f.what) \(f.path)"
        }
    }
}
