import DrawbridgeCrypto
import DrawbridgeIdentity
import Foundation
import Glibc

/// Sign-outs survive a restart: each one is appended (one `write(2)`, `O_APPEND`) to
/// `signouts.jsonl` next to the secrets file, and read back at start, so a session token signed
/// out before a restart is still refused after it. Entries past their use (the session's absolute
/// expiry, or a year for "all sessions of a user") are dropped when the file is read, and the file
/// is rewritten compacted.
///
/// Lines: `{"session":"<id>","expires":<unix>}` or `{"user":"<id>","before":<unix>}`.
final class SignOutLog: @unchecked Sendable {
    let path: String
    private let fd: Int32
    /// The longest a session can live; an "all sessions" entry is kept that long.
    static let maxSessionSeconds: UInt64 = 31_536_000

    /// Reads the existing entries (still in force at `now`), rewrites the file with only those,
    /// and opens it for appending.
    init(path: String, now: UInt64) throws {
        self.path = path
        let kept = Self.read(path: path, now: now)
        let text = kept.map(Self.line).joined()
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]),
              rename(tmp, path) == 0 else {
            unlink(tmp)
            throw AuthSetupError(description: "\(path): cannot write the sign-out list (\(String(cString: strerror(errno))))")
        }
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw AuthSetupError(description: "\(path): cannot open the sign-out list (\(String(cString: strerror(errno))))") }
        initial = kept
    }

    /// What was in force at start: every worker applies these before serving.
    let initial: [Revocation]

    deinit { Glibc.close(fd) }

    func append(_ r: Revocation) {
        let bytes = Array(Self.line(r).utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    static func line(_ r: Revocation) -> String {
        switch r {
        case .session(let id, let expiresAt): return "{\"session\":\"\(id.text)\",\"expires\":\(expiresAt)}\n"
        case .allOfUser(let user, let before): return "{\"user\":\(AuditLog.quote(user)),\"before\":\(before)}\n"
        }
    }

    /// Entries still in force; a line that does not parse (a torn write at a crash) is skipped.
    static func read(path: String, now: UInt64) -> [Revocation] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var out: [Revocation] = []
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { continue }
            if let text = object["session"] as? String, let expires = (object["expires"] as? NSNumber)?.uint64Value,
               let bytes = Base64URL.decode(text), let id = SessionID(bytes: bytes) {
                if expires > now { out.append(.session(id, expiresAt: expires)) }
            } else if let user = object["user"] as? String, let before = (object["before"] as? NSNumber)?.uint64Value {
                if before &+ maxSessionSeconds > now { out.append(.allOfUser(user, issuedAtOrBefore: before)) }
            }
        }
        return out
    }
}
