import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeDecision
import DrawbridgeIdentity
import DrawbridgeStore

/// The format of `signouts.jsonl` (next to the secrets file): one JSON object per line,
///
///     {"session":"<base64url id>","expires":<unix>,"at":<unix>}
///     {"user":"<user id>","before":<unix>,"at":<unix>}
///
/// `expires` is the token's own expiry, `before` ends every session of the user issued at or
/// before it, `at` is when the sign-out was recorded (the evidence `DeletionHorizon` weighs the
/// clock against; lines of older versions have none).
enum SignOutFile {
    static func line(_ r: Revocation, at: UInt64) -> [UInt8] {
        switch r {
        case .session(let id, let expiresAt):
            return Array("{\"session\":\"\(id.text)\",\"expires\":\(expiresAt),\"at\":\(at)}\n".utf8)
        case .allOfUser(let user, let before):
            return Array("{\"user\":\(JSONString.quote(user)),\"before\":\(before),\"at\":\(at)}\n".utf8)
        }
    }

    struct Contents {
        /// The entries in file order, with the time recorded for each (none in lines of older versions).
        var entries: [(revocation: Revocation, at: UInt64?)] = []
        var count = 0
        /// Bytes of whole lines; a torn last line (no newline: a power cut during a write that
        /// was never acknowledged) lies beyond.
        var validLength = 0
        var tornTail: Bool { validLength < totalLength }
        var totalLength = 0
        /// The newest `at`.
        var newest: UInt64?
    }

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads the list. A file that exists but cannot be read, or holds a line that is not a
    /// sign-out, is an error naming the file (and line): never taken for an empty list.
    /// `each`: called for every entry instead of collecting them in `entries` (a long list is
    /// not held twice while it is loaded).
    static func read(path: String, each: ((Revocation, UInt64?) -> Void)? = nil) throws -> (contents: Contents, exists: Bool) {
        let bytes: [UInt8]
        do {
            guard let b = try AtomicFile.readBytes(path) else { return (Contents(), false) }
            bytes = b
        } catch {
            throw Malformed(description: error.issues.map(\.description).joined(separator: "\n"))
        }
        return (try parse(bytes, path: path, each: each), true)
    }

    static func parse(_ bytes: [UInt8], path: String, each: ((Revocation, UInt64?) -> Void)? = nil) throws -> Contents {
        var c = Contents()
        c.totalLength = bytes.count
        var start = 0
        var lineNumber = 0
        while start < bytes.count {
            guard let nl = bytes[start...].firstIndex(of: 0x0A) else { break }   // torn last line: not a record
            lineNumber += 1
            let line = bytes[start..<nl]
            start = nl + 1
            c.validLength = start
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard let (r, at) = decode(Array(line)) else {
                throw Malformed(description: "\(path): line \(lineNumber): not a sign-out record; the gateway will not start "
                    + "without knowing every sign-out (restore the file from a backup, or remove that line if you know what it held)")
            }
            c.count += 1
            if let each { each(r, at) } else { c.entries.append((r, at)) }
            if let at { c.newest = max(c.newest ?? 0, at) }
        }
        return c
    }

    static func decode(_ line: [UInt8]) -> (Revocation, UInt64?)? {
        guard let json = StrictJSON.parse(line), case .object = json else { return nil }
        func number(_ key: String) -> UInt64? {
            if case .number(let text)? = json[key] { return UInt64(text) }
            return nil
        }
        let at = number("at")
        if json["at"] != nil && at == nil { return nil }
        if let text = json["session"]?.stringValue {
            guard let expires = number("expires"), let bytes = Base64URL.decode(text), let id = SessionID(bytes: bytes) else { return nil }
            return (.session(id, expiresAt: expires), at)
        }
        if let user = json["user"]?.stringValue {
            guard let before = number("before"), !user.isEmpty else { return nil }
            return (.allOfUser(user, issuedAtOrBefore: before), at)
        }
        return nil
    }
}
