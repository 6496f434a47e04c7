import DrawbridgeCrypto

/// Why a session cookie was refused, for the audit log only (the client just gets 401).
public enum SessionRejection: Error, Hashable, Sendable {
    /// Too long, or not strict unpadded Base64URL.
    case malformedEncoding
    /// Shorter than version + key id + nonce + tag.
    case truncated
    case unsupportedVersion(UInt8)
    case unknownKeyId(UInt8)
    /// The AES-GCM tag did not verify: tampered, truncated inside, or sealed under another key.
    case authenticationFailed
    /// Authentic but undecodable or inconsistent claims (would mean a bug or a leaked key).
    case malformedClaims
    case expired
}

public enum SessionSealError: Error, Hashable, Sendable {
    /// A user id, org id or provider name is longer than the layout allows.
    case claimTooLong
}

/// The sealed session cookie value:
///
///     Base64URL( version(1)=2 | keyId(1) | subkeyId(8) | nonce(12) | AES-256-GCM(claims) | tag(16) )
///
/// sealed under the session subkey `keyId`/`subkeyId` (see `SubkeySealer`), with AAD = version |
/// keyId | subkeyId | "drawbridge-session-v2", so the header bytes cannot be swapped without
/// failing authentication and the ciphertext cannot be replayed as another kind of sealed value.
public enum SessionToken {
    public static let version: UInt8 = 2
    static let context = Array("drawbridge-session-v2".utf8)
    static let headerSize = 2 + SubkeySealer.idSize
    static let minimumSize = headerSize + AESGCM.nonceSize + AESGCM.tagSize
    /// Browsers cap a cookie at about 4 KiB; refuse anything longer before decoding it.
    public static let maxEncodedLength = 4096

    public static func seal(_ claims: SessionClaims, with ring: SessionKeyRing) throws(SessionSealError) -> String {
        guard let plaintext = ClaimsCodec.encode(claims) else { throw .claimTooLong }
        let key = ring.sealer.next(.session)
        let header = [version, key.keyId] + key.id
        // The ring only holds 32-byte keys, so sealing cannot fail on input; a failure is OpenSSL's.
        guard let sealed = try? AESGCM.sealCombined(key: key.material, plaintext: plaintext, aad: header + context) else {
            fatalError("AES-GCM seal failed with a valid key")
        }
        return Base64URL.encode(header + sealed)
    }

    public static func open(_ cookie: String, with ring: SessionKeyRing, now: UInt64) -> Result<SessionClaims, SessionRejection> {
        // Bound the work an unauthenticated client can make us do.
        guard cookie.utf8.count <= maxEncodedLength, let raw = Base64URL.decode(cookie) else {
            return .failure(.malformedEncoding)
        }
        return open(raw: raw, with: ring, now: now)
    }

    /// For callers holding the cookie value as bytes (e.g. straight from the header buffer).
    public static func open(_ cookie: some Collection<UInt8>, with ring: SessionKeyRing, now: UInt64) -> Result<SessionClaims, SessionRejection> {
        guard cookie.count <= maxEncodedLength else { return .failure(.malformedEncoding) }
        // Invalid UTF-8 turns into U+FFFD, which the strict Base64URL decoder refuses.
        return open(String(decoding: cookie, as: UTF8.self), with: ring, now: now)
    }

    static func open(raw: [UInt8], with ring: SessionKeyRing, now: UInt64) -> Result<SessionClaims, SessionRejection> {
        guard raw.count >= minimumSize else { return .failure(.truncated) }
        guard raw[0] == version else { return .failure(.unsupportedVersion(raw[0])) }
        guard let key = ring.key(id: raw[1]) else { return .failure(.unknownKeyId(raw[1])) }
        let header = Array(raw[0..<headerSize])
        guard let plaintext = try? AESGCM.openCombined(key: key.subkey(.session, id: raw[2..<headerSize]), combined: Array(raw[headerSize...]),
                                                       aad: header + context) else {
            return .failure(.authenticationFailed)
        }
        guard let claims = ClaimsCodec.decode(plaintext),
              claims.issuedAt <= claims.lastSeen, claims.lastSeen <= claims.expiresAt else {
            return .failure(.malformedClaims)
        }
        // Absolute expiry is inside the token: refuse it before anything touches the directory.
        guard now < claims.expiresAt else { return .failure(.expired) }
        return .success(claims)
    }
}

/// Opens session cookies for one thread (a worker) with reused buffers and a reused AES-GCM
/// context: the same checks, in the same order, as `SessionToken.open`, without the per-call
/// arrays, strings and `EVP_CIPHER_CTX`. Not thread-safe: one per thread.
public final class SessionOpener {
    private var raw: [UInt8] = []
    private var plain: [UInt8] = []
    private var aad: [UInt8] = [UInt8](repeating: 0, count: SessionToken.headerSize) + SessionToken.context
    private let gcm = AESGCM.Opener()
    /// Subkeys derived lately: (session key, subkey id) -> key. Only subkeys that opened a
    /// genuine token are kept, so forged ids cannot push the real ones out; each costs one HKDF
    /// the first time, then a comparison.
    private var derived: [(key: [UInt8], id: [UInt8], subkey: [UInt8])] = []
    private var nextSlot = 0
    static let derivedCapacity = 16

    public init() {}

    deinit {
        for i in raw.indices { raw[i] = 0 }
        for i in plain.indices { plain[i] = 0 }
    }

    /// `cookie`: the cookie value's bytes as sent.
    public func open(_ cookie: UnsafeRawBufferPointer, with ring: SessionKeyRing, now: UInt64) -> Result<SessionClaims, SessionRejection> {
        // Bound the work an unauthenticated client can make us do.
        guard cookie.count <= SessionToken.maxEncodedLength, let n = Base64URL.decode(cookie, into: &raw) else {
            return .failure(.malformedEncoding)
        }
        guard n >= SessionToken.minimumSize else { return .failure(.truncated) }
        guard raw[0] == SessionToken.version else { return .failure(.unsupportedVersion(raw[0])) }
        guard let key = ring.key(id: raw[1]) else { return .failure(.unknownKeyId(raw[1])) }
        let h = SessionToken.headerSize
        for i in 0..<h { aad[i] = raw[i] }
        var slot = -1
        for (i, d) in derived.enumerated() where d.key == key.material && d.id.elementsEqual(raw[2..<h]) { slot = i; break }
        let subkey = slot >= 0 ? derived[slot].subkey : key.subkey(.session, id: raw[2..<h])
        let opened = raw.withUnsafeBytes { r in
            aad.withUnsafeBytes { a in
                gcm.open(key: subkey, combined: UnsafeRawBufferPointer(rebasing: r[h..<n]), aad: a, scratch: &plain)
            }
        }
        guard let length = opened else { return .failure(.authenticationFailed) }
        if slot < 0 {
            let entry = (key: key.material, id: Array(raw[2..<h]), subkey: subkey)
            if derived.count < Self.derivedCapacity { derived.append(entry) } else { derived[nextSlot] = entry; nextSlot = (nextSlot + 1) % Self.derivedCapacity }
        }
        let claims = plain.withUnsafeBytes { ClaimsCodec.decode(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        // Leave no copy of the claims in the reused buffer.
        plain.withUnsafeMutableBytes { _ = $0.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: length) }
        guard let claims, claims.issuedAt <= claims.lastSeen, claims.lastSeen <= claims.expiresAt else {
            return .failure(.malformedClaims)
        }
        // Absolute expiry is inside the token: refuse it before anything touches the directory.
        guard now < claims.expiresAt else { return .failure(.expired) }
        return .success(claims)
    }
}
