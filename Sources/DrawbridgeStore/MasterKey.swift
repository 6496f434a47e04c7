import DrawbridgeConfig
import DrawbridgeCrypto
import Foundation
import Glibc

/// The 32-byte key that seals every secret at rest (see `Sealed`) and the backups' data keys. It
/// never lives in the configuration: it comes from a file outside the configuration directory, a
/// systemd credential, the output of a key vault's command, or the environment (one of them,
/// `load(_:)` in MasterKeySources.swift), so a copy of conf/ (backup, config repository) holds
/// only ciphertext.
public struct MasterKey: Sendable {
    public static let environmentVariable = "DRAWBRIDGE_MASTER_KEY"
    public static let byteCount = 32
    /// Longest key text accepted from any source (a key is one line of 43 or 64 characters).
    public static let maximumTextBytes = 4096

    let bytes: [UInt8]
    /// Where the key came from, for messages ("auth.masterKeyFile /etc/drawbridge/master.key").
    public let origin: String

    /// Raw key bytes (tests; the CLI generates keys with `generate()`).
    public init(bytes: [UInt8], origin: String = "master key") throws(ConfigErrors) {
        guard bytes.count == Self.byteCount else {
            throw Self.error(origin, "must be \(Self.byteCount) bytes, got \(bytes.count)")
        }
        self.bytes = bytes
        self.origin = origin
    }

    /// Parses 64 hex characters or 43 unpadded base64url characters; surrounding whitespace is
    /// ignored. `source` names the file or variable in error messages (the key itself never appears).
    public init(text: String, source: String) throws(ConfigErrors) {
        var utf8 = Array(text.utf8)
        defer { utf8.wipeBytes() }
        try self.init(utf8: utf8, source: source, origin: source, fix: "create a new one with `drawbridge master-key generate FILE`")
    }

    /// The same from bytes (no String copy of the key is made).
    public init(utf8 text: [UInt8], source: String) throws(ConfigErrors) {
        try self.init(utf8: text, source: source, origin: source, fix: "create one with `drawbridge master-key generate FILE`")
    }

    /// The same from bytes (no String copy of the key is made). `fix` ends each error message.
    init(utf8 text: [UInt8], source: String, origin: String, fix: String) throws(ConfigErrors) {
        switch Self.parse(text) {
        case .success(let key):
            bytes = key
            self.origin = origin
        case .failure(let problem):
            throw Self.error(source, "\(problem.message); \(fix)")
        }
    }

    struct ParseProblem: Error { let message: String }

    /// The key bytes, or what is wrong with the text, in words that never quote it.
    static func parse(_ text: [UInt8]) -> Result<[UInt8], ParseProblem> {
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }
        var start = 0, end = text.count
        while start < end && isSpace(text[start]) { start += 1 }
        while end > start && isSpace(text[end - 1]) { end -= 1 }
        let count = end - start
        let expected = "expected \(byteCount) bytes as 64 hex characters or 43 base64url characters"
        switch count {
        case 64:
            guard let decoded = hexDecode(text[start..<end]) else {
                return .failure(ParseProblem(message: "master key has 64 characters but is not hex (\(expected))"))
            }
            return .success(decoded)
        case 43:
            var out = [UInt8](repeating: 0, count: 64)
            defer { out.wipeBytes() }
            let n = text[start..<end].withUnsafeBytes { Base64URL.decode($0, into: &out) }
            guard n == byteCount else {
                return .failure(ParseProblem(message: "master key has 43 characters but is not base64url (\(expected))"))
            }
            return .success(Array(out[0..<byteCount]))
        case 0:
            return .failure(ParseProblem(message: "master key is empty (\(expected))"))
        default:
            return .failure(ParseProblem(message: "master key has the wrong length: \(count) characters (\(expected))"))
        }
    }

    /// A new random key as its file text: 64 lowercase hex characters and a newline.
    public static func generate() -> String {
        hexEncode(SecureRandom.bytes(byteCount)) + "\n"
    }

    /// Writes a new key to `path` with mode 0600. Refuses an existing file and a path inside
    /// `configDirectory` (the key must not travel with the secrets it opens).
    public static func createFile(at path: String, configDirectory: String) throws(ConfigErrors) {
        let target = canonical(path), config = canonical(configDirectory)
        if target == config || target.hasPrefix(config.hasSuffix("/") ? config : config + "/") {
            throw error(path, "refusing to write the master key inside the configuration directory \(configDirectory); "
                            + "choose a path outside it (and set auth.masterKeyFile to it)")
        }
        // O_EXCL: never overwrite a key, which would make every sealed value unreadable.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let reason = errno == EEXIST ? "file exists (refusing to overwrite a master key)" : String(cString: strerror(errno))
            throw error(path, "cannot create the master key file: \(reason)")
        }
        var ok = fchmod(fd, 0o600) == 0
        let text = Array(generate().utf8)
        ok = ok && text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == text.count
        ok = ok && fsync(fd) == 0
        let reason = String(cString: strerror(errno))
        close(fd)
        guard ok else {
            unlink(path)
            throw error(path, "cannot write the master key file: \(reason)")
        }
    }

    /// Absolute, with `..` and symlinks of existing ancestors resolved, for the "inside conf/" test.
    static func canonical(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let url = URL(fileURLWithPath: absolute).standardizedFileURL
        let parent = url.deletingLastPathComponent().resolvingSymlinksInPath()
        return parent.appendingPathComponent(url.lastPathComponent).standardizedFileURL.resolvingSymlinksInPath().path
    }

    static func error(_ file: String, _ message: String) -> ConfigErrors {
        ConfigErrors(issues: [ConfigIssue(file: file, path: "", message: message)])
    }

    static func hexDecode(_ u: ArraySlice<UInt8>) -> [UInt8]? {
        guard u.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = u.startIndex
        while i < u.endIndex {
            guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { out.wipeBytes(); return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func hexEncode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xf)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    /// Overwrites the bytes before the buffer is released (best effort: copies may exist).
    public mutating func wipeBytes() {
        for i in indices { self[i] = 0 }
    }
}
