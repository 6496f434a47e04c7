import DrawbridgeCrypto
import Glibc

/// Why a backup operation failed; the message names the archive or file and what to do.
public struct BackupError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The archive format (v1): a plaintext header, then the payload in AES-256-GCM chunks under the
/// archive's own random data key (online authenticated encryption, the STREAM construction):
///
///     header:  "DBBACKUP" | version 1 | 0 | chunkSize u32 | created u64 | idLength u8 | id
///     chunk*:  length u32 (ciphertext + tag) | ciphertext | tag 16
///
/// Chunk i is sealed with nonce `i (u64) | 0 0 0 | last` and the whole header as associated data;
/// every chunk but the last holds exactly `chunkSize` plaintext bytes, the last has `last = 1`.
/// So a changed header fails every chunk, a reordered or repeated chunk fails its nonce, a chunk
/// from another archive fails its key, and a cut at any chunk boundary lacks the final flag.
/// Integers are big-endian.
public enum BackupArchive {
    static let magic = Array("DBBACKUP".utf8)
    static let version: UInt8 = 1
    public static let defaultChunkSize = 1 << 20
    static let chunkSizes = 64...(16 << 20)

    public struct Header: Sendable, Equatable {
        public let id: String
        public let created: UInt64
        public let chunkSize: Int
        /// The encoded header: the associated data of every chunk.
        let bytes: [UInt8]

        init(id: String, created: UInt64, chunkSize: Int) {
            self.id = id
            self.created = created
            self.chunkSize = chunkSize
            var b = magic + [version, 0]
            b += bigEndian(UInt64(chunkSize), bytes: 4) + bigEndian(created, bytes: 8)
            b.append(UInt8(id.utf8.count))
            b += Array(id.utf8)
            bytes = b
        }
    }

    /// Seals `payload` as a whole archive (the caller writes it with the atomic writer).
    public static func seal(payload: [UInt8], key: [UInt8], id: String, created: UInt64,
                            chunkSize: Int = defaultChunkSize) throws -> [UInt8] {
        precondition(chunkSizes.contains(chunkSize) && BackupNames.isArchiveId(id))
        let header = Header(id: id, created: created, chunkSize: chunkSize)
        var out = header.bytes
        out.reserveCapacity(header.bytes.count + payload.count + (payload.count / chunkSize + 1) * (4 + AESGCM.tagSize))
        var start = 0, counter: UInt64 = 0
        while true {
            let end = min(start + chunkSize, payload.count)
            let last = end == payload.count
            let (ciphertext, tag) = try AESGCM.seal(key: key, nonce: nonce(counter, last: last),
                                                    plaintext: Array(payload[start..<end]), aad: header.bytes)
            out += bigEndian(UInt64(ciphertext.count + tag.count), bytes: 4) + ciphertext + tag
            if last { return out }
            start = end
            counter += 1
        }
    }

    /// Reads the header of an archive file (no key needed).
    public static func readHeader(_ source: ByteSource, file: String) throws(BackupError) -> Header {
        guard let fixed = try source.read(exactly: magic.count + 2 + 4 + 8 + 1), fixed.count == magic.count + 15,
              Array(fixed[0..<magic.count]) == magic else {
            throw BackupError("\(file): not a Drawbridge backup archive")
        }
        guard fixed[8] == version, fixed[9] == 0 else {
            throw BackupError("\(file): unsupported archive version \(fixed[8]) (this drawbridge reads version \(version))")
        }
        let chunkSize = Int(integer(fixed[10..<14]))
        let created = integer(fixed[14..<22])
        let idLength = Int(fixed[22])
        guard let idBytes = try source.read(exactly: idLength), idBytes.count == idLength,
              let id = String(validating: idBytes, as: UTF8.self), BackupNames.isArchiveId(id) else {
            throw BackupError("\(file): the archive header is damaged (bad archive id)")
        }
        guard chunkSizes.contains(chunkSize) else { throw BackupError("\(file): the archive header is damaged (chunk size \(chunkSize))") }
        let header = Header(id: id, created: created, chunkSize: chunkSize)
        guard header.bytes == Array(fixed) + idBytes else { throw BackupError("\(file): the archive header is damaged") }
        return header
    }

    /// Opens every chunk after the header in order, handing each plaintext to `body`. Throws
    /// (after `body` may have seen earlier chunks) on any failure: callers apply nothing until
    /// this returns.
    public static func open(_ source: ByteSource, header: Header, key: [UInt8], file: String,
                            _ body: ([UInt8]) throws -> Void) throws {
        var counter: UInt64 = 0
        while true {
            guard let lengthBytes = try source.read(exactly: 4) else {
                // A clean cut at a chunk boundary: only the final flag tells it from the end.
                throw BackupError("\(file): the archive is truncated (it ends before its final chunk)")
            }
            let length = Int(integer(lengthBytes[...]))
            guard lengthBytes.count == 4, length >= AESGCM.tagSize, length <= header.chunkSize + AESGCM.tagSize else {
                throw BackupError("\(file): chunk \(counter) has a bad length: the archive is damaged or altered")
            }
            guard let sealed = try source.read(exactly: length), sealed.count == length else {
                throw BackupError("\(file): the archive is truncated (inside chunk \(counter))")
            }
            // Try "not last" first: only the final chunk opens with the flag set.
            var plaintext: [UInt8]?
            var last = false
            for flag in [false, true] where plaintext == nil {
                plaintext = openChunk(key: key, nonce: nonce(counter, last: flag), sealed: sealed, aad: header.bytes)
                last = flag
            }
            guard let plaintext else {
                throw BackupError("\(file): chunk \(counter) does not authenticate: the archive was altered, its chunks reordered "
                                  + "or mixed with another archive's, or its data key is not the one it was sealed with")
            }
            guard last || plaintext.count == header.chunkSize else {
                throw BackupError("\(file): chunk \(counter) is short but not final: the archive is damaged or altered")
            }
            try body(plaintext)
            if last {
                guard try source.read(exactly: 1) == nil else {
                    throw BackupError("\(file): data after the final chunk: the archive was altered")
                }
                return
            }
            counter += 1
        }
    }

    private static func openChunk(key: [UInt8], nonce: [UInt8], sealed: [UInt8], aad: [UInt8]) -> [UInt8]? {
        let tagStart = sealed.count - AESGCM.tagSize
        return try? AESGCM.open(key: key, nonce: nonce, ciphertext: Array(sealed[..<tagStart]), tag: Array(sealed[tagStart...]), aad: aad)
    }

    static func nonce(_ counter: UInt64, last: Bool) -> [UInt8] {
        bigEndian(counter, bytes: 8) + [0, 0, 0, last ? 1 : 0]
    }

    static func bigEndian(_ value: UInt64, bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(bytes - 1 - $0))) }
    }

    static func integer(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}

/// Buffered sequential reads from a file descriptor (archives are read, never loaded whole).
public final class ByteSource {
    private let fd: Int32
    private let file: String
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false

    /// Opens `path` for reading (no symlink at the last component).
    public init(path: String) throws(BackupError) {
        fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        file = path
        guard fd >= 0 else { throw BackupError("\(path): cannot open: \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// `n` bytes, fewer at the end of the file, or nil when the file ended before any.
    public func read(exactly n: Int) throws(BackupError) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(n)
        while out.count < n {
            if position == buffer.count {
                if atEnd { break }
                try fill()
                continue
            }
            let take = min(n - out.count, buffer.count - position)
            out += buffer[position..<(position + take)]
            position += take
        }
        return out.isEmpty && n > 0 ? nil : out
    }

    private func fill() throws(BackupError) {
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let got = Glibc.read(fd, &chunk, chunk.count)
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { throw BackupError("\(file): read error: \(String(cString: strerror(errno)))") }
            if got == 0 { atEnd = true }
            buffer = Array(chunk[0..<got])
            position = 0
            return
        }
    }
}
