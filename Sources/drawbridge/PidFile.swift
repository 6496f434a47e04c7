import DrawbridgeStore
import Foundation
import Glibc

/// The gateway's pid file (`serve --pid-file PATH`), read by the identity commands to SIGHUP it.
enum PidFile {
    /// Through the one atomic writer (temporary file, fsync, rename): a reader never sees a
    /// half-written pid. Mode 0644, like other pid files.
    static func write(_ path: String) {
        do {
            try AtomicFile.write(path, contents: Array("\(getpid())\n".utf8), mode: 0o644)
        } catch {
            fail("drawbridge: cannot write the pid file: \(error)", code: 1)
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
