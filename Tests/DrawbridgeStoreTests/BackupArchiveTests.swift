import DrawbridgeConfig
import DrawbridgeCrypto
@testable import DrawbridgeStore
import Foundation
import Glibc
import Testing

/// The archive format against tampering: every altered archive is refused as a whole.
@Suite struct BackupArchiveTests {
    static let id = "20250101T000000Z-0123456789abcdef"
    static let key = Array(repeating: UInt8(7), count: 32)
    /// 64-byte chunks: a 300-byte payload makes five chunks (four full, one final of 44 bytes).
    static let payload = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31) }

    static func archive(_ payload: [UInt8] = payload, key: [UInt8] = key, id: String = id) throws -> [UInt8] {
        try BackupArchive.seal(payload: payload, key: key, id: id, created: 1_735_689_600, chunkSize: 64)
    }

    /// Header length and the byte ranges of each chunk (length field included).
    static func layout(_ a: [UInt8]) -> (header: Int, chunks: [Range<Int>]) {
        let header = 8 + 2 + 4 + 8 + 1 + Int(a[22])
        var chunks: [Range<Int>] = [], at = header
        while at < a.count {
            let n = Int(BackupArchive.integer(a[at..<(at + 4)]))
            chunks.append(at..<(at + 4 + n))
            at += 4 + n
        }
        return (header, chunks)
    }

    static func open(_ bytes: [UInt8], key: [UInt8] = key) throws -> [UInt8] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("db-archive-\(getpid())-\(UUID().uuidString.prefix(8))").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { unlink(path) }
        let source = try ByteSource(path: path)
        let header = try BackupArchive.readHeader(source, file: path)
        var out: [UInt8] = []
        try BackupArchive.open(source, header: header, key: key, file: path) { out += $0 }
        return out
    }

    @Test func roundTripInChunks() throws {
        for size in [0, 1, 63, 64, 65, 300, 640] {
            let payload = Array(Self.payload.prefix(size)) + [UInt8](repeating: 9, count: max(0, size - 300))
            let a = try Self.archive(payload)
            #expect(try Self.open(a) == payload, "size \(size)")
            #expect(Self.layout(a).chunks.count == max(1, (size + 63) / 64) + (size > 0 && size % 64 == 0 ? 0 : 0))
        }
    }

    /// One row per attack: each must be refused, never yield a prefix as if it were the whole.
    @Test(arguments: [
        "flip a magic byte", "flip the version", "flip a chunk-size byte", "flip a created byte", "flip an id byte",
        "flip a ciphertext byte", "flip a tag byte", "grow a length", "shrink a length",
        "truncate at a chunk boundary (final chunk dropped)", "truncate inside a chunk", "truncate inside the header",
        "drop a middle chunk", "swap two chunks", "repeat a chunk", "append garbage", "append a copy of the final chunk",
        "splice a chunk of another archive", "another archive's header", "wrong key",
    ])
    func tamperedArchivesAreRefused(_ attack: String) throws {
        let a = try Self.archive()
        let (h, c) = Self.layout(a)
        #expect(c.count == 5)
        var t = a
        func flip(_ i: Int) { t[i] ^= 0x01 }
        var key = Self.key
        switch attack {
        case "flip a magic byte": flip(0)
        case "flip the version": flip(8)
        case "flip a chunk-size byte": flip(13)
        case "flip a created byte": flip(21)
        case "flip an id byte": t[h - 1] = t[h - 1] == UInt8(ascii: "f") ? UInt8(ascii: "e") : UInt8(ascii: "f")
        case "flip a ciphertext byte": flip(c[2].lowerBound + 10)
        case "flip a tag byte": flip(c[4].upperBound - 1)
        case "grow a length": t[c[1].lowerBound + 3] &+= 1
        case "shrink a length": t[c[1].lowerBound + 3] &-= 1
        case "truncate at a chunk boundary (final chunk dropped)": t = Array(a[..<c[4].lowerBound])
        case "truncate inside a chunk": t = Array(a[..<(c[4].lowerBound + 20)])
        case "truncate inside the header": t = Array(a[..<(h - 3)])
        case "drop a middle chunk": t = Array(a[..<c[1].lowerBound] + a[c[2].lowerBound...])
        case "swap two chunks": t = Array(a[..<c[1].lowerBound] + a[c[2]] + a[c[1]] + a[c[3].lowerBound...])
        case "repeat a chunk": t = Array(a[..<c[2].lowerBound] + a[c[1]] + a[c[2].lowerBound...])
        case "append garbage": t = a + [0, 0, 0, 0]
        case "append a copy of the final chunk": t = a + a[c[4]]
        case "splice a chunk of another archive":
            let other = try Self.archive(Self.payload.reversed(), key: SecureRandom.bytes(32))
            let oc = Self.layout(other).chunks
            t = Array(a[..<c[2].lowerBound] + other[oc[2]] + a[c[3].lowerBound...])
        case "another archive's header":
            let other = try Self.archive(id: "20250101T000000Z-fedcba9876543210")
            t = Array(other[..<Self.layout(other).header] + a[h...])
        case "wrong key": key = SecureRandom.bytes(32)
        default: Issue.record("unknown attack \(attack)")
        }
        #expect(throws: (any Error).self, "\(attack)") { _ = try Self.open(t, key: key) }
    }

    @Test func payloadRoundTripFedByteByByte() throws {
        let members = [StatePayload.Member(name: "users.json", bytes: Array("{\"users\":[]}".utf8)),
                       StatePayload.Member(name: "signouts.jsonl", bytes: nil),
                       StatePayload.Member(name: "empty", bytes: [])]
        let encoded = StatePayload.encode(members)
        var got: [StatePayload.Member] = []
        let parser = StatePayload.Parser(file: "t") { got.append($0) }
        for b in encoded { try parser.feed([b]) }
        try parser.finish()
        #expect(got == members)
        // Cut before the end marker: incomplete, refused.
        let cut = StatePayload.Parser(file: "t") { _ in }
        try cut.feed(Array(encoded.dropLast()))
        #expect(throws: BackupError.self) { try cut.finish() }
    }
}

/// Key file, retention and crypto-erasure, with an explicit clock.
@Suite struct BackupRetentionTests {
    func site(_ s: TempStore, keepDays: Int = 4) -> BackupSite {
        BackupSite(configDirectory: s.conf, auth: s.auth,
                   settings: BackupConfig(directory: s.root + "/backups", everyHours: 6, keepDays: keepDays, keyFile: s.conf + "/backup-keys.json"))
    }

    func prepare(_ s: TempStore) throws {
        try s.write(s.conf + "/drawbridge.json5", "{}")
        try s.write(s.auth.usersFile, "users v1")
        try s.write(s.auth.secretsFile, "secrets v1")
    }

    @Test func archivesPastTheWindowAreErasedKeyFirst() throws {
        let s = try TempStore()
        try prepare(s)
        let site = site(s)
        let t0: UInt64 = 1_735_689_600
        var ids: [String] = []
        for step in 0..<24 {   // every 6 hours for 6 days, pruning as the scheduler does
            let now = t0 + UInt64(step) * 6 * 3600
            ids.append(try Backups.create(site, master: s.key, now: now).id)
            _ = try Backups.prune(site, now: now)
        }
        let end = t0 + 23 * 6 * 3600
        let listed = try Backups.list(site)
        // Kept: created within the last 4 days (end - created < 96 h): steps 8...23.
        #expect(listed.map(\.id) == Array(ids[8...]))
        #expect(listed.allSatisfy { $0.hasKey && $0.bytes != nil && end - $0.created < 4 * 86_400 })
        let keys = try BackupKeyFile.read(site.settings.keyFile)
        #expect(Set(keys.entries.keys) == Set(ids[8...]))
    }

    @Test func aCopyOfADestroyedArchiveCannotBeRead() throws {
        let s = try TempStore()
        try prepare(s)
        let site = site(s, keepDays: 1)
        let c = try Backups.create(site, master: s.key, now: 1_000_000)
        let copy = s.root + "/offsite.dbb"
        try FileManager.default.copyItem(atPath: c.path, toPath: copy)
        _ = try Backups.open(site, master: s.key, path: copy) { _ in }   // readable while its key lives
        #expect(try Backups.prune(site, now: 1_000_000 + 86_400) == [c.id])
        #expect(!FileManager.default.fileExists(atPath: c.path))
        #expect(throws: BackupError.self) { _ = try Backups.open(site, master: s.key, path: copy) { _ in } }
        #expect(!(try String(contentsOfFile: site.settings.keyFile, encoding: .utf8)).contains(c.id))
    }

    @Test func dataKeysOpenOnlyAsTheirOwnArchivesKey() throws {
        let (key, entry) = try BackupKeyFile.newKey(id: BackupArchiveTests.id, created: 5, master: testKey)
        var file = BackupKeyFile()
        file.entries[BackupArchiveTests.id] = entry
        #expect(try file.dataKey(id: BackupArchiveTests.id, master: testKey, file: "k") == key)
        // Another master key, another archive id, another creation time: refused.
        #expect(throws: BackupError.self) { _ = try file.dataKey(id: BackupArchiveTests.id, master: try MasterKey(bytes: SecureRandom.bytes(32)), file: "k") }
        let otherId = "20250101T000000Z-1111111111111111"
        file.entries[otherId] = entry
        #expect(throws: BackupError.self) { _ = try file.dataKey(id: otherId, master: testKey, file: "k") }
        file.entries[BackupArchiveTests.id] = BackupKeyFile.Entry(created: 6, sealed: entry.sealed)
        #expect(throws: BackupError.self) { _ = try file.dataKey(id: BackupArchiveTests.id, master: testKey, file: "k") }
        // A secret sealed under the master key for any name never opens as a data key (own purpose).
        for name in [BackupArchiveTests.id, "backup-key/" + BackupArchiveTests.id, ""] {
            file.entries[BackupArchiveTests.id] = BackupKeyFile.Entry(created: 5, sealed: try Sealed.seal(key, name: name, key: testKey))
            #expect(throws: BackupError.self) { _ = try file.dataKey(id: BackupArchiveTests.id, master: testKey, file: "k") }
        }
    }
}
