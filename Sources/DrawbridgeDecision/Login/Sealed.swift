import DrawbridgeCrypto
import DrawbridgeHTTP
import DrawbridgeIdentity

/// Short-lived values the gateway hands to the browser and must get back unchanged: the return
/// address, the pending second-factor step, the OIDC state. Sealed with AES-256-GCM under a
/// subkey of the current session key for that purpose (`SubkeySealer`: per-purpose HKDF subkeys,
/// a bounded number of seals each, rotated daily); the purpose is also in the associated data, so
/// a value minted for one purpose cannot be replayed as another (nor as a session).
/// Layout: base64url( 2 | keyId | subkeyId(8) | nonce | ciphertext | tag ), the plaintext being
/// the fields joined by NUL with the expiry (unix seconds) first.
public enum Sealed {
    static let version: UInt8 = 2

    public static func seal(_ fields: [String], purpose: SealPurpose, expiresAt: UInt64, ring: SessionKeyRing) -> String {
        let key = ring.sealer.next(purpose)
        let plain = Array(([String(expiresAt)] + fields).joined(separator: "\u{0}").utf8)
        let header = [version, key.keyId] + key.id
        guard let sealed = try? AESGCM.sealCombined(key: key.material, plaintext: plain, aad: aad(purpose, header)) else {
            fatalError("AES-GCM seal failed with a valid key")
        }
        return Base64URL.encode(header + sealed)
    }

    /// The fields, or nil when forged, tampered, sealed for another purpose, unknown key or expired.
    public static func open(_ text: String, purpose: SealPurpose, ring: SessionKeyRing, now: UInt64, count: Int) -> [String]? {
        let h = 2 + SubkeySealer.idSize
        guard text.utf8.count <= 4096, let raw = Base64URL.decode(text), raw.count > h + AESGCM.nonceSize + AESGCM.tagSize,
              raw[0] == version, let key = ring.key(id: raw[1]),
              let plain = try? AESGCM.openCombined(key: key.subkey(purpose, id: raw[2..<h]), combined: Array(raw[h...]),
                                                   aad: aad(purpose, Array(raw[0..<h])))
        else { return nil }
        let parts = String(decoding: plain, as: UTF8.self).split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == count + 1, let expiry = UInt64(parts[0]), now < expiry else { return nil }
        return Array(parts.dropFirst())
    }

    private static func aad(_ purpose: SealPurpose, _ header: [UInt8]) -> [UInt8] {
        Array("drawbridge-\(purpose.rawValue)-v2".utf8) + header
    }
}

/// Where to go after signing in: carried sealed (so it cannot be swapped for another site), then
/// followed only to the host the sign-in happened on or to an exactly configured host.
public enum ReturnAddress {
    /// `host`: the host the sign-in starts on (kept as an https authority in `HostName` normal form).
    public static func seal(host: String, pathAndQuery: String, ring: SessionKeyRing, now: UInt64) -> String {
        Sealed.seal([HostName.httpsAuthority(host) ?? "", pathAndQuery], purpose: .returnAddress, expiresAt: now + 3600, ring: ring)
    }

    public static func resolve(_ sealed: String, requestHost: String, allowed: [String], ring: SessionKeyRing, now: UInt64) -> String {
        guard let f = Sealed.open(sealed, purpose: .returnAddress, ring: ring, now: now, count: 2) else { return "/" }
        let (host, path) = (f[0], f[1])
        // Only an absolute path: "//evil.example" or "/\evil.example" would leave the site.
        guard path.hasPrefix("/"), !path.hasPrefix("//"), !path.contains("\\"),
              !path.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F }) else { return "/" }
        // Hosts compared in the one normal form (case, default port, IPv6 spelling); the name
        // without its port found IPv6-safely (splitting at ':' would cut "[::1]" apart).
        guard let normal = HostName.normalize(host) else { return "/" }
        if host == HostName.httpsAuthority(requestHost) { return path }
        if allowed.contains(normal.name) { return "https://\(host)\(path)" }
        return "/"
    }
}
