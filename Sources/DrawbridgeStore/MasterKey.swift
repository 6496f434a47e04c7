import DrawbridgeConfig
import DrawbridgeCrypto
import Foundation
import Glibc

/// The 32-byte key that seals every secret at rest (see `Sealed`). It lives in a file outside the
/// configuration directory (`auth.masterKeyFile`) or in the environment variable
/// `DRAWBRIDGE_MASTER_KEY`, so a copy of conf/ (backup, config repository) holds only ciphertext.
public struct MasterKey: Sendable {
    public static let environmentVariable = "DRAWBRIDGE_MASTER_KEY"
    public static let byteCount = 32

    let bytes: [UInt8]

    /// Raw key bytes (tests; the CLI generates keys with `generate()`).
    public init(bytes: [UInt8]) throws(ConfigErrors) {
        guard bytes.count == Self.byteCount else {
            throw Self.error("master key", "must be \(Self.byteCount) bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// Parses 64 hex characters or 43 unpadded base64url characters; surrounding whitespace is
    /// ignored. `source` names the file or variable in error messages (the key itself never appears).
    public init(text: String, source: String) throws(ConfigErrors) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let expected = "expected \(Self.byteCount) bytes as 64 hex characters or 43 base64url characters"
        let fix = "create a new one with `drawbridge master-key generate FILE`"
        switch trimmed.utf8.count {
        case 64:
            guard let decoded = Self.hexDecode(trimmed) else {
                throw Self.error(source, "master key has 64 characters but is not hex (\(expected)); \(fix)")
            }
            bytes = decoded
        case 43:
            guard let decoded = Base64URL.decode(trimmed), decoded.count == Self.byteCount else {
                throw Self.error(source, "master key has 43 characters but is not base64url (\(expected)); \(fix)")
            }
            bytes = decoded
        case 0:
            throw Self.error(source, "master key is empty (\(expected)); \(fix)")
        default:
            throw Self.error(source, "master key has the wrong length: \(trimmed.utf8.count) characters (\(expected)); \(fix)")
        }
    }

    /// The key from `auth.masterKeyFile` when set, else from `DRAWBRIDGE_MASTER_KEY`.
    /// `environment`: nil = this process's environment, read once (see `fromProcessEnvironment`).
    public static func load(_ auth: AuthConfig, environment: [String: String]? = nil) throws(ConfigErrors) -> MasterKey {
        if let file = auth.masterKeyFile { return try load(file: file) }
        let text = environment.map { $0[environmentVariable] } ?? fromProcessEnvironment()
        guard let text, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw error(environmentVariable,
                        "no master key: set auth.masterKeyFile in the configuration or the environment variable \(environmentVariable) "
                            + "(create a key with `drawbridge master-key generate FILE`, outside the configuration directory)")
        }
        return try MasterKey(text: text, source: environmentVariable)
    }

    nonisolated(unsafe) private static var environmentKey: String?
    nonisolated(unsafe) private static var environmentRead = false
    private static let environmentLock: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    /// `DRAWBRIDGE_MASTER_KEY`, taken out of the environment the first time it is read: the bytes
    /// are overwritten where the kernel put them and the variable is unset, so neither
    /// /proc/<pid>/environ, a core dump nor a child process shows it. Later calls (reloads) get
    /// the copy kept from the first read. The gateway first reads it on the main thread before
    /// starting any other (unsetenv is not thread-safe).
    static func fromProcessEnvironment() -> String? {
        pthread_mutex_lock(environmentLock); defer { pthread_mutex_unlock(environmentLock) }
        if environmentRead { return environmentKey }
        environmentRead = true
        guard let value = getenv(environmentVariable) else { return nil }
        let length = strlen(value)
        environmentKey = String(cString: value)
        // The "NAME=value" string of the initial environment: wipe all of it, name included.
        let entry = value - (environmentVariable.utf8.count + 1)
        if strncmp(entry, environmentVariable + "=", environmentVariable.utf8.count + 1) == 0 {
            memset(entry, 0, environmentVariable.utf8.count + 1 + length)
        } else {
            memset(value, 0, length)
        }
        unsetenv(environmentVariable)
        return environmentKey
    }

    /// Reads a key file, refusing a symbolic link (O_NOFOLLOW on the path as written: a link
    /// could be pointed at another key), a file owned by another user, and one that group or
    /// others can read or write (as ssh does with private keys).
    public static func load(file: String) throws(ConfigErrors) -> MasterKey {
        let fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            let reason = errno == ELOOP ? "it is a symbolic link (point auth.masterKeyFile at the key file itself)" : String(cString: strerror(errno))
            let hint = errno == ENOENT ? "; create it with `drawbridge master-key generate \(file)`" : ""
            throw error(file, "cannot read the master key: \(reason)\(hint)")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw error(file, "master key file is not a regular file")
        }
        // Someone else's file is not ours to trust: they could replace its contents at will.
        guard st.st_uid == geteuid() else {
            throw error(file, "master key file is owned by uid \(st.st_uid), not by the user running drawbridge (uid \(geteuid())); "
                            + "run `chown \(geteuid()) \(file)`")
        }
        // A key others can read is no longer secret; one others can write can be swapped for theirs.
        guard st.st_mode & 0o077 == 0 else {
            throw error(file, "master key file is accessible by group or others (mode \(String(st.st_mode & 0o777, radix: 8))); "
                            + "run `chmod 600 \(file)`")
        }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw error(file, "cannot read the master key: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            data += buffer[0..<n]
            guard data.count <= 4096 else { throw error(file, "master key file is too large (a key is one line)") }
        }
        defer { buffer.wipeBytes(); data.wipeBytes() }
        return try MasterKey(text: String(decoding: data, as: UTF8.self), source: file)
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

    static func hexDecode(_ text: String) -> [UInt8]? {
        let u = Array(text.utf8)
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
        var i = 0
        while i < u.count {
            guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
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
    mutating func wipeBytes() {
        for i in indices { self[i] = 0 }
    }
}
