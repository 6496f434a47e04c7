import Foundation
import Glibc

/// A file that grows by whole records, each one durable before it is acknowledged: the sign-out
/// list. Not thread-safe (its owner serialises the calls).
///
/// - Opened with `O_APPEND | O_NOFOLLOW`; created owner-only, and then the directory is fsynced
///   so that the new name itself survives a power cut.
/// - `append` writes all of a record or none of it: a failed or short write (a full disk) is cut
///   off again with `ftruncate`, so the next record never glues onto a torn one. If even that
///   fails the file is `damaged`: its owner must replace it whole (`AtomicFile.write`).
/// - `sync` is `fdatasync`: the record's bytes and the file size reach the disk.
/// - A torn last record (no final newline: a power cut during an unacknowledged write) is cut off
///   when the file is opened.
public final class AppendOnlyFile {
    public let path: String
    private let fd: Int32
    /// Bytes of whole records this object knows of (those it found, and those it appended).
    public private(set) var size: Int

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        /// The file may end in a torn record: replace it whole before appending again.
        public let damaged: Bool
    }

    /// Opens `path` for appending, creating it (mode 0600) if needed. `validLength`: how many
    /// leading bytes hold whole records (anything after is cut off), nil to keep it all.
    public init(path: String, validLength: Int? = nil) throws {
        self.path = path
        var created = false
        var fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 && errno == ENOENT {
            fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            created = fd >= 0
        }
        guard fd >= 0 else {
            throw Failure(description: "\(path): cannot open for appending: \(String(cString: strerror(errno)))", damaged: false)
        }
        self.fd = fd
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw Failure(description: "\(path): not a regular file", damaged: false)
        }
        size = Int(st.st_size)
        if let valid = validLength, valid < size {
            guard ftruncate(fd, off_t(valid)) == 0, fdatasync(fd) == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw Failure(description: "\(path): cannot cut off a torn last record: \(reason)", damaged: true)
            }
            size = valid
        }
        if created {
            _ = fchmod(fd, 0o600)
            do { try AtomicFile.syncDirectory((path as NSString).deletingLastPathComponent) } catch {
                close(fd)
                throw Failure(description: "\(error)", damaged: false)
            }
        }
    }

    deinit { close(fd) }

    /// The file's size now (another writer may have appended: a restore adds lines in place).
    public var currentSize: Int? {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int(st.st_size) : nil
    }

    /// Whether the file holds bytes this object did not write (or lost some).
    public var changedByOthers: Bool { currentSize.map { $0 != size } ?? false }

    /// Takes the file as it is now as known (after its owner has read what others added).
    public func acceptCurrentSize() {
        if let now = currentSize { size = now }
    }

    /// Appends `record` (whole lines). Not durable until `sync`.
    public func append(_ record: [UInt8]) throws {
        // Where a torn record would be cut back to: the end as it is now (lines another writer
        // appended meanwhile included).
        let before = currentSize ?? size
        var written = 0
        var failure: String?
        while written < record.count {
            let n = record[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                failure = n < 0 ? String(cString: strerror(errno)) : "no progress"
                break
            }
            written += n
        }
        guard let failure else {
            size += record.count
            return
        }
        if written > 0 {
            // Cut the torn record off, so the next one starts on a line of its own.
            guard ftruncate(fd, off_t(before)) == 0 else {
                throw Failure(description: "\(path): write: \(failure); cutting off the torn record failed too: \(String(cString: strerror(errno)))",
                              damaged: true)
            }
        }
        throw Failure(description: "\(path): write: \(failure)", damaged: false)
    }

    /// Makes every appended record durable.
    public func sync() throws {
        while fdatasync(fd) != 0 {
            // After a failed fdatasync the kernel may have dropped the dirty pages: nothing since the
            // last good sync can be trusted to be on disk, so the owner rewrites the file whole.
            guard errno == EINTR else { throw Failure(description: "\(path): fdatasync: \(String(cString: strerror(errno)))", damaged: true) }
        }
    }
}
