/// The binary layout of `SessionClaims` inside the sealed token (format version 1):
///
///     str userId | str orgId | u8 modeTag [str provider if oidc] | u8 mfa (0|1)
///     u64 issuedAt | u64 expiresAt | u64 lastSeen | u64 epoch | u8 len=16, 16 bytes sessionId
///
/// `str` is a big-endian u16 length then UTF-8 bytes; `u64` is big-endian. Decoding is strict
/// (no trailing bytes, valid UTF-8, known tags, mfa exactly 0 or 1). The plaintext is only ever
/// read after AES-GCM authentication, so strictness here is defence in depth.
enum ClaimsCodec {
    static let maxStringLength = 1024

    enum ModeTag: UInt8 {
        case password = 1
        case oidc = 2
        case apiKey = 3
    }

    /// nil when a string field is longer than `maxStringLength` bytes.
    static func encode(_ c: SessionClaims) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(96 + c.userId.utf8.count + c.orgId.utf8.count)
        guard put(c.userId, &out), put(c.orgId, &out) else { return nil }
        switch c.authMode {
        case .password: out.append(ModeTag.password.rawValue)
        case .oidc(let provider):
            out.append(ModeTag.oidc.rawValue)
            guard put(provider, &out) else { return nil }
        case .apiKey: out.append(ModeTag.apiKey.rawValue)
        }
        out.append(c.mfa ? 1 : 0)
        for v in [c.issuedAt, c.expiresAt, c.lastSeen, c.epoch] { put(v, &out) }
        out.append(UInt8(SessionID.size))
        out += c.sessionId.bytes
        return out
    }

    static func decode(_ bytes: [UInt8]) -> SessionClaims? {
        bytes.withUnsafeBytes { decode($0) }
    }

    /// Reads straight from the (decrypted) buffer: no intermediate arrays, only the claims' own
    /// strings and session id are allocated.
    static func decode(_ bytes: UnsafeRawBufferPointer) -> SessionClaims? {
        var r = Reader(bytes: bytes)
        guard let userId = r.string(), let orgId = r.string(), let tagByte = r.byte(),
              let tag = ModeTag(rawValue: tagByte) else { return nil }
        let mode: AuthMode
        switch tag {
        case .password: mode = .password
        case .oidc:
            guard let provider = r.string() else { return nil }
            mode = .oidc(provider: provider)
        case .apiKey: mode = .apiKey
        }
        guard let mfaByte = r.byte(), mfaByte <= 1,
              let issuedAt = r.u64(), let expiresAt = r.u64(), let lastSeen = r.u64(), let epoch = r.u64(),
              r.byte() == UInt8(SessionID.size), let idBytes = r.take(SessionID.size),
              let sessionId = SessionID(bytes: Array(idBytes)), r.atEnd else { return nil }
        return SessionClaims(userId: userId, orgId: orgId, authMode: mode, mfa: mfaByte == 1, issuedAt: issuedAt,
                             expiresAt: expiresAt, lastSeen: lastSeen, epoch: epoch, sessionId: sessionId)
    }

    private static func put(_ s: String, _ out: inout [UInt8]) -> Bool {
        let u = Array(s.utf8)
        guard u.count <= maxStringLength else { return false }
        out.append(UInt8(u.count >> 8))
        out.append(UInt8(u.count & 0xff))
        out += u
        return true
    }

    private static func put(_ v: UInt64, _ out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        var atEnd: Bool { index == bytes.count }

        mutating func take(_ n: Int) -> UnsafeRawBufferPointer? {
            guard n >= 0, bytes.count - index >= n else { return nil }
            defer { index += n }
            return UnsafeRawBufferPointer(rebasing: bytes[index..<(index + n)])
        }

        mutating func byte() -> UInt8? {
            guard index < bytes.count else { return nil }
            defer { index += 1 }
            return bytes[index]
        }

        mutating func u64() -> UInt64? {
            guard let b = take(8) else { return nil }
            return b.reduce(0) { $0 << 8 | UInt64($1) }
        }

        mutating func string() -> String? {
            guard let hi = byte(), let lo = byte() else { return nil }
            let n = Int(hi) << 8 | Int(lo)
            guard n <= ClaimsCodec.maxStringLength, let body = take(n) else { return nil }
            return String(validating: body, as: UTF8.self)
        }
    }
}
