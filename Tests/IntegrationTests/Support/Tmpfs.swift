import Foundation
import Glibc

/// A small tmpfs the test mounts itself, to run the gateway's state directory out of space.
/// Mounting needs root (CAP_SYS_ADMIN); where it is impossible the tests that need it are
/// skipped with `Tmpfs.unavailableReason` as the comment.
final class Tmpfs {
    let path: String
    private var fillers = 0

    /// Whether this machine lets the tests mount a tmpfs (tried once).
    static let unavailableReason: String? = {
        do { _ = try Tmpfs(sizeKiB: 64); return nil } catch { return "\(error)" }
    }()
    static var available: Bool { unavailableReason == nil }

    init(sizeKiB: Int) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("db-tmpfs-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(sizeKiB)k,mode=0755", "tmpfs", dir])
        guard r.status == 0 else {
            rmdir(dir)
            throw TestFailure("cannot mount a tmpfs for the full-disk tests (needs root): \(r.err.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        path = dir
    }

    deinit {
        _ = try? run("/bin/umount", ["-l", path])
        rmdir(path)
    }

    /// Writes filler files until the file system is full (ENOSPC). Files already there keep the
    /// free bytes of their last page: a write that stays within it still succeeds, one that
    /// needs another page is cut short.
    func fill() throws {
        fillers += 1
        let fd = open(path + "/filler-\(fillers)", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw TestFailure("cannot create a filler: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x78, count: 4096)
        while true {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                guard errno == ENOSPC else { throw TestFailure("filler: \(String(cString: strerror(errno)))") }
                break
            }
            if n < chunk.count { continue }
        }
    }

    /// Removes the fillers: the space is back.
    func free() {
        for i in 0...fillers { unlink(path + "/filler-\(i)") }
    }
}
