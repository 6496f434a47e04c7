import DrawbridgeCrypto
import DrawbridgeIdentity

/// Short-lived values the gateway hands to the browser and must get back unchanged: the return
/// address, the pending second-factor step, the OIDC state. Sealed with AES-256-GCM under the
/// current session key; the purpose is in the associated data, so a value minted for one purpose
/// cannot be replayed as another. Layout: base64url( keyId | nonce | ciphertext | tag ), the
/// plaintext being the fields joined by NUL with the expiry (unix seconds) first.
enum Sealed {
    static func seal(_ fields: [String], purpose: String, expiresAt: UInt64, ring: SessionKeyRing) -> String {
        let key = ring.current
        let plain = Array(([String(expiresAt)] + fields).joined(separator: "\u{0}").utf8)
        guard let sealed = try? AESGCM.sealCombined(key: key.material, plaintext: plain, aad: aad(purpose, key.id)) else {
            fatalError("AES-GCM seal failed with a valid key")
        }
        return Base64URL.encode([key.id] + sealed)
    }

    /// The fields, or nil when forged, tampered, sealed for another purpose, unknown key or expired.
    static func open(_ text: String, purpose: String, ring: SessionKeyRing, now: UInt64, count: Int) -> [String]? {
        guard text.utf8.count <= 4096, let raw = Base64URL.decode(text), raw.count > 1 + AESGCM.nonceSize + AESGCM.tagSize,
              let key = ring.key(id: raw[0]),
              let plain = try? AESGCM.openCombined(key: key.material, combined: Array(raw[1...]), aad: aad(purpose, raw[0]))
        else { return nil }
        let parts = String(decoding: plain, as: UTF8.self).split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == count + 1, let expiry = UInt64(parts[0]), now < expiry else { return nil }
        return Array(parts.dropFirst())
    }

    private static func aad(_ purpose: String, _ keyId: UInt8) -> [UInt8] {
        Array("drawbridge-\(purpose)-v1".utf8) + [keyId]
    }
}
