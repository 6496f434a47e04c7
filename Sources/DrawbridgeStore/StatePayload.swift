/// What an archive holds once opened: the state files as bytes, in the order of `StateFiles.all`.
///
///     "DBSTATE1" | member* | 0
///     member: 1 | nameLength u8 | name | length u64 | bytes     (the file as it was)
///           | 2 | nameLength u8 | name                          (the file did not exist)
///
/// The files' own formats are never parsed here, so a format change elsewhere never breaks a backup.
public enum StatePayload {
    static let magic = Array("DBSTATE1".utf8)
    static let maxMembers = 256
    static let maxMemberBytes: UInt64 = 1 << 32

    public struct Member: Sendable, Equatable {
        public let name: String
        /// nil: the file did not exist when the backup was made.
        public let bytes: [UInt8]?

        public init(name: String, bytes: [UInt8]?) {
            self.name = name
            self.bytes = bytes
        }
    }

    public static func encode(_ members: [Member]) -> [UInt8] {
        var out = magic
        out.reserveCapacity(members.reduce(64) { $0 + 80 + ($1.bytes?.count ?? 0) })
        for m in members {
            out += [m.bytes == nil ? 2 : 1, UInt8(m.name.utf8.count)] + Array(m.name.utf8)
            if let bytes = m.bytes {
                out += BackupArchive.bigEndian(UInt64(bytes.count), bytes: 8)
                out += bytes
            }
        }
        out.append(0)
        return out
    }

    /// Parses the payload as its chunks arrive and hands over each member once it is whole, so
    /// memory holds one file at a time.
    public final class Parser {
        private var pending: [UInt8] = []
        private var offset = 0
        private var sawMagic = false
        private var ended = false
        private var names: Set<String> = []
        private let file: String
        private let onMember: (Member) throws -> Void

        public init(file: String, onMember: @escaping (Member) throws -> Void) {
            self.file = file
            self.onMember = onMember
        }

        public func feed(_ bytes: [UInt8]) throws {
            guard !ended || bytes.isEmpty else { throw damaged("data after the end marker") }
            if offset > 0 && offset >= pending.count / 2 {
                pending.removeFirst(offset)
                offset = 0
            }
            pending += bytes
            while try step() {}
        }

        /// After the last chunk: the end marker must have been read.
        public func finish() throws {
            guard ended, offset == pending.count else { throw damaged("the list of files is incomplete") }
        }

        /// Parses one item; false when more bytes are needed.
        private func step() throws -> Bool {
            let available = pending.count - offset
            if !sawMagic {
                guard available >= magic.count else { return false }
                guard Array(pending[offset..<(offset + magic.count)]) == magic else { throw damaged("unknown payload format") }
                offset += magic.count
                sawMagic = true
                return true
            }
            guard !ended, available >= 1 else { return false }
            let kind = pending[offset]
            if kind == 0 {
                ended = true
                offset += 1
                guard offset == pending.count else { throw damaged("data after the end marker") }
                return false
            }
            guard kind == 1 || kind == 2 else { throw damaged("unknown member kind \(kind)") }
            guard available >= 2 else { return false }
            let nameLength = Int(pending[offset + 1])
            let head = 2 + nameLength + (kind == 1 ? 8 : 0)
            guard available >= head else { return false }
            guard let name = String(validating: pending[(offset + 2)..<(offset + 2 + nameLength)], as: UTF8.self),
                  BackupNames.isMemberName(name) else { throw damaged("bad file name") }
            var bytes: [UInt8]?
            if kind == 1 {
                let length = BackupArchive.integer(pending[(offset + 2 + nameLength)..<(offset + head)])
                guard length <= StatePayload.maxMemberBytes else { throw damaged("\(name) is too large") }
                guard available >= head + Int(length) else { return false }
                bytes = Array(pending[(offset + head)..<(offset + head + Int(length))])
                offset += head + Int(length)
            } else {
                offset += head
            }
            guard names.insert(name).inserted, names.count <= StatePayload.maxMembers else {
                throw damaged("\(name) appears twice")
            }
            try onMember(Member(name: name, bytes: bytes))
            return true
        }

        private func damaged(_ what: String) -> BackupError {
            BackupError("\(file): the archive's contents are malformed (\(what))")
        }
    }
}

/// Syntax of archive ids, file names and member names.
public enum BackupNames {
    public static let filePrefix = "drawbridge-backup-"
    public static let fileSuffix = ".dbb"

    /// `YYYYMMDDTHHMMSSZ-` + 16 lowercase hex characters: sorts by creation time, unique by chance.
    public static func isArchiveId(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 33, u[8] == UInt8(ascii: "T"), u[15] == UInt8(ascii: "Z"), u[16] == UInt8(ascii: "-") else { return false }
        let digits = u[0..<8] + u[9..<15]
        return digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } && u[17...].allSatisfy(StoreNames.isLowerHex)
    }

    /// `[a-z0-9][a-z0-9._-]{0,63}`.
    public static func isMemberName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard let first = u.first, u.count <= 64, StoreNames.isLowerAlnum(first) else { return false }
        return u.allSatisfy { StoreNames.isLowerAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    public static func fileName(id: String) -> String { filePrefix + id + fileSuffix }

    /// The id in an archive file name, nil for any other name.
    public static func id(fileName: String) -> String? {
        guard fileName.hasPrefix(filePrefix), fileName.hasSuffix(fileSuffix) else { return nil }
        let id = String(fileName.dropFirst(filePrefix.count).dropLast(fileSuffix.count))
        return isArchiveId(id) ? id : nil
    }
}
