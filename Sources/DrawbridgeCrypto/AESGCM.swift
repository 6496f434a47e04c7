import COpenSSL

/// AES-256-GCM fetched from the default provider once: `EVP_aes_256_gcm()` makes every
/// `EVP_*Init_ex2` look the implementation up again (a locked provider query). An EVP_CIPHER is
/// immutable once fetched, so all threads share this one (never freed).
let fetchedAES256GCM: OpaquePointer? = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil)

@inline(__always) func aes256gcm() -> OpaquePointer? { fetchedAES256GCM ?? EVP_aes_256_gcm() }

/// AES-256-GCM with a 12-byte nonce and a 16-byte tag (EVP_aes_256_gcm).
///
/// Nonces must never repeat under one key. With random 96-bit nonces (`sealCombined`) keep the
/// number of messages per key well below 2^32 (NIST SP 800-38D §8.3).
public enum AESGCM {
    public static let keySize = 32
    public static let nonceSize = 12
    public static let tagSize = 16

    public static func seal(key: [UInt8], nonce: [UInt8], plaintext: [UInt8], aad: [UInt8]) throws -> (ciphertext: [UInt8], tag: [UInt8]) {
        try checkSizes(key: key, nonce: nonce)
        guard let ctx = EVP_CIPHER_CTX_new() else { throw OSSL.backend("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        guard EVP_EncryptInit_ex2(ctx, aes256gcm(), key, nonce, nil) == 1 else { throw OSSL.backend("EncryptInit") }
        var len: Int32 = 0
        if !aad.isEmpty {
            guard EVP_EncryptUpdate(ctx, nil, &len, aad, Int32(aad.count)) == 1 else { throw OSSL.backend("EncryptUpdate(aad)") }
        }
        guard plaintext.count < Int(Int32.max) - 32, aad.count < Int(Int32.max) else { throw CryptoError.invalidInput("AES-GCM: input too long") }
        var ct = [UInt8](repeating: 0, count: plaintext.count + 16)
        var total = 0
        if !plaintext.isEmpty {
            guard EVP_EncryptUpdate(ctx, &ct, &len, plaintext, Int32(plaintext.count)) == 1 else { throw OSSL.backend("EncryptUpdate") }
            total = Int(len)
        }
        let ok = ct.withUnsafeMutableBufferPointer { EVP_EncryptFinal_ex(ctx, $0.baseAddress! + total, &len) }
        guard ok == 1 else { throw OSSL.backend("EncryptFinal") }
        total += Int(len)
        var tag = [UInt8](repeating: 0, count: tagSize)
        guard EVP_CIPHER_CTX_ctrl(ctx, COpenSSL_EVP_CTRL_GCM_GET_TAG(), Int32(tagSize), &tag) == 1 else { throw OSSL.backend("GET_TAG") }
        return (Array(ct[0..<total]), tag)
    }

    /// Decrypts and authenticates. Any modification (or a wrong key) → `.authenticationFailed`;
    /// no plaintext is returned unless the tag verified.
    public static func open(key: [UInt8], nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        try checkSizes(key: key, nonce: nonce)
        guard tag.count == tagSize else { throw CryptoError.authenticationFailed }
        guard ciphertext.count < Int(Int32.max) - 32, aad.count < Int(Int32.max) else { throw CryptoError.invalidInput("AES-GCM: input too long") }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw OSSL.backend("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        guard EVP_DecryptInit_ex2(ctx, aes256gcm(), key, nonce, nil) == 1 else { throw OSSL.backend("DecryptInit") }
        var len: Int32 = 0
        if !aad.isEmpty {
            guard EVP_DecryptUpdate(ctx, nil, &len, aad, Int32(aad.count)) == 1 else { throw OSSL.backend("DecryptUpdate(aad)") }
        }
        var pt = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var total = 0
        if !ciphertext.isEmpty {
            guard EVP_DecryptUpdate(ctx, &pt, &len, ciphertext, Int32(ciphertext.count)) == 1 else { throw OSSL.backend("DecryptUpdate") }
            total = Int(len)
        }
        var tagCopy = tag
        guard EVP_CIPHER_CTX_ctrl(ctx, COpenSSL_EVP_CTRL_GCM_SET_TAG(), Int32(tagSize), &tagCopy) == 1 else { throw OSSL.backend("SET_TAG") }
        let ok = pt.withUnsafeMutableBufferPointer { EVP_DecryptFinal_ex(ctx, $0.baseAddress! + total, &len) }
        guard ok == 1 else {
            pt.wipe()
            OSSL.drainErrors()
            throw CryptoError.authenticationFailed
        }
        total += Int(len)
        return Array(pt[0..<total])
    }

    /// Seals under a fresh random nonce; returns nonce (12) || ciphertext || tag (16).
    public static func sealCombined(key: [UInt8], plaintext: [UInt8], aad: [UInt8] = []) throws -> [UInt8] {
        let nonce = SecureRandom.bytes(nonceSize)
        let (ct, tag) = try seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
        return nonce + ct + tag
    }

    /// Opens nonce || ciphertext || tag as produced by `sealCombined`. Too short → `.authenticationFailed`.
    public static func openCombined(key: [UInt8], combined: [UInt8], aad: [UInt8] = []) throws -> [UInt8] {
        guard key.count == keySize else { throw CryptoError.invalidInput("AES-256-GCM key must be 32 bytes") }
        guard combined.count >= nonceSize + tagSize else { throw CryptoError.authenticationFailed }
        let nonce = Array(combined[0..<nonceSize])
        let ct = Array(combined[nonceSize..<(combined.count - tagSize)])
        let tag = Array(combined[(combined.count - tagSize)...])
        return try open(key: key, nonce: nonce, ciphertext: ct, tag: tag, aad: aad)
    }

    private static func checkSizes(key: [UInt8], nonce: [UInt8]) throws {
        guard key.count == keySize else { throw CryptoError.invalidInput("AES-256-GCM key must be 32 bytes") }
        guard nonce.count == nonceSize else { throw CryptoError.invalidInput("AES-GCM nonce must be 12 bytes") }
    }
}

extension AESGCM {
    /// A reusable AES-256-GCM decryption context for one thread: one `EVP_CIPHER_CTX` for its
    /// whole life (no allocation and no cipher fetch per message), and the key schedule kept while
    /// consecutive messages use the same key. Not thread-safe: give each thread its own.
    public final class Opener {
        private let ctx: OpaquePointer?
        /// The key whose schedule `ctx` holds (empty: none yet).
        private var scheduledKey: [UInt8] = []

        public init() { ctx = EVP_CIPHER_CTX_new() }

        deinit {
            EVP_CIPHER_CTX_free(ctx)
            scheduledKey.wipe()
        }

        /// Opens `combined` = nonce (12) || ciphertext || tag (16) into `scratch`, which is grown
        /// when too small and otherwise reused; returns the plaintext's length (its bytes are
        /// `scratch[0..<length]`). nil when the tag does not verify (tampered, truncated, wrong key
        /// or AAD) or the input is malformed; nothing decrypted is left in `scratch` then. The tag
        /// comparison is OpenSSL's (constant time).
        public func open(key: [UInt8], combined: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
                         scratch: inout [UInt8]) -> Int? {
            guard let ctx, key.count == keySize, combined.count >= nonceSize + tagSize,
                  combined.count < Int(Int32.max) - 32, aad.count < Int(Int32.max),
                  let base = combined.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
            let ctLength = combined.count - nonceSize - tagSize
            // Room for the plaintext plus one block (EVP's contract for Update + Final).
            if scratch.count < ctLength + 16 { scratch = [UInt8](repeating: 0, count: max(ctLength + 16, 256)) }
            // Same key as last time: only the nonce is set, the key schedule stays.
            let sameKey = key == scheduledKey
            let initialized = sameKey ? EVP_DecryptInit_ex2(ctx, nil, nil, base, nil)
                                      : EVP_DecryptInit_ex2(ctx, aes256gcm(), key, base, nil)
            guard initialized == 1 else { scheduledKey = []; _ = OSSL.drainErrors(); return nil }
            if !sameKey { scheduledKey = key }
            var len: Int32 = 0
            if aad.count > 0 {
                guard EVP_DecryptUpdate(ctx, nil, &len, aad.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(aad.count)) == 1
                else { _ = OSSL.drainErrors(); return nil }
            }
            let length: Int? = scratch.withUnsafeMutableBufferPointer { buf -> Int? in
                let dst = buf.baseAddress!
                var total = 0
                var authentic = false
                if ctLength > 0, EVP_DecryptUpdate(ctx, dst, &len, base + nonceSize, Int32(ctLength)) == 1 {
                    total = Int(len)
                } else if ctLength > 0 {
                    return nil
                }
                // SET_TAG takes a non-const pointer but only copies the tag in.
                if EVP_CIPHER_CTX_ctrl(ctx, COpenSSL_EVP_CTRL_GCM_SET_TAG(), Int32(tagSize),
                                       UnsafeMutableRawPointer(mutating: base + nonceSize + ctLength)) == 1,
                   EVP_DecryptFinal_ex(ctx, dst + total, &len) == 1 {
                    total += Int(len)
                    authentic = true
                }
                if authentic { return total }
                // Not authentic: wipe whatever was decrypted before anyone can read it.
                OPENSSL_cleanse(dst, buf.count)
                return nil
            }
            if length == nil { _ = OSSL.drainErrors() }
            return length
        }
    }
}
