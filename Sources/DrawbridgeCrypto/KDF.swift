import COpenSSL

/// Runs an EVP_KDF by name with the given parameters.
private func runKDF(_ name: String, length: Int, params: inout [OSSL_PARAM]) throws -> [UInt8] {
    guard let kdf = EVP_KDF_fetch(nil, name, nil) else { throw OSSL.backend("EVP_KDF_fetch(\(name))") }
    defer { EVP_KDF_free(kdf) }
    guard let ctx = EVP_KDF_CTX_new(kdf) else { throw OSSL.backend("EVP_KDF_CTX_new") }
    defer { EVP_KDF_CTX_free(ctx) }
    params.append(OSSL_PARAM_construct_end())
    var out = [UInt8](repeating: 0, count: length)
    let rc = params.withUnsafeBufferPointer { p in EVP_KDF_derive(ctx, &out, length, p.baseAddress) }
    guard rc == 1 else { throw OSSL.backend("EVP_KDF_derive(\(name))") }
    return out
}

/// Calls `body` with mutable raw pointers to copies of `a` and `b` (never nil, even when empty).
private func withTwoBuffers<R>(_ a: [UInt8], _ b: [UInt8], _ body: (UnsafeMutableRawPointer, Int, UnsafeMutableRawPointer, Int) throws -> R) rethrows -> R {
    var ca = a + [0], cb = b + [0]    // +1 so the base address is never nil
    defer { ca.wipe(); cb.wipe() }
    return try ca.withUnsafeMutableBytes { pa in
        try cb.withUnsafeMutableBytes { pb in try body(pa.baseAddress!, a.count, pb.baseAddress!, b.count) }
    }
}

/// PBKDF2 (RFC 8018) with HMAC-SHA256, through EVP_KDF "PBKDF2".
public enum PBKDF2 {
    public static func sha256(password: [UInt8], salt: [UInt8], iterations: Int, length: Int) throws -> [UInt8] {
        guard iterations >= 1, iterations <= 100_000_000 else { throw CryptoError.invalidInput("PBKDF2: iterations out of range") }
        guard length >= 1, length <= 1 << 20 else { throw CryptoError.invalidInput("PBKDF2: length out of range") }
        return try withTwoBuffers(password, salt) { pw, pwn, s, sn in
            var iter = UInt64(iterations)
            // pkcs5=1 turns off the SP 800-132 lower bounds (salt >= 16 bytes, etc.) so that
            // arbitrary stored parameters and the standard test vectors work; callers pick sane values.
            var pkcs5: Int32 = 1
            return try withUnsafeMutablePointer(to: &iter) { iterP in
                try withUnsafeMutablePointer(to: &pkcs5) { pkcs5P in
                    var params = [
                        OSSL_PARAM_construct_octet_string(ParamName.password.ptr, pw, pwn),
                        OSSL_PARAM_construct_octet_string(ParamName.salt.ptr, s, sn),
                        OSSL_PARAM_construct_uint64(ParamName.iter.ptr, iterP),
                        OSSL_PARAM_construct_utf8_string(ParamName.digest.ptr, ParamName.sha256.ptr, 0),
                        OSSL_PARAM_construct_int(ParamName.pkcs5.ptr, pkcs5P),
                    ]
                    return try runKDF("PBKDF2", length: length, params: &params)
                }
            }
        }
    }
}

/// scrypt (RFC 7914) through EVP_KDF "SCRYPT".
public enum Scrypt {
    /// Upper bound on the memory one derivation may use (128·r·(N + p + 2) bytes).
    public static let maxMemory: UInt64 = 1 << 30

    public static func derive(password: [UInt8], salt: [UInt8], n: UInt64, r: UInt32, p: UInt32, length: Int) throws -> [UInt8] {
        guard n > 1, n & (n - 1) == 0, n <= 1 << 30 else { throw CryptoError.invalidInput("scrypt: N must be a power of two > 1") }
        guard r >= 1, p >= 1, UInt64(r) * UInt64(p) < 1 << 30 else { throw CryptoError.invalidInput("scrypt: r and p out of range") }
        guard length >= 1, length <= 1 << 20 else { throw CryptoError.invalidInput("scrypt: length out of range") }
        let (need, overflow) = UInt64(128 * r).multipliedReportingOverflow(by: n + UInt64(p) + 2)
        guard !overflow, need <= maxMemory else { throw CryptoError.invalidInput("scrypt: parameters need too much memory") }
        // OSSL_PARAM keeps pointers to the integers, so they live in storage that outlasts the call.
        let ints = UnsafeMutablePointer<UInt64>.allocate(capacity: 2)
        let ints32 = UnsafeMutablePointer<UInt32>.allocate(capacity: 2)
        defer { ints.deallocate(); ints32.deallocate() }
        ints[0] = n; ints[1] = need + (1 << 20)
        ints32[0] = r; ints32[1] = p
        return try withTwoBuffers(password, salt) { pw, pwn, s, sn in
            var params = [
                OSSL_PARAM_construct_octet_string(ParamName.password.ptr, pw, pwn),
                OSSL_PARAM_construct_octet_string(ParamName.salt.ptr, s, sn),
                OSSL_PARAM_construct_uint64(ParamName.scryptN.ptr, ints),
                OSSL_PARAM_construct_uint32(ParamName.scryptR.ptr, ints32),
                OSSL_PARAM_construct_uint32(ParamName.scryptP.ptr, ints32 + 1),
                OSSL_PARAM_construct_uint64(ParamName.scryptMaxmem.ptr, ints + 1),
            ]
            return try runKDF("SCRYPT", length: length, params: &params)
        }
    }
}

/// HKDF with HMAC-SHA256 (RFC 5869): extract then expand. Used to derive one key per purpose
/// (and per rotation) from a long-lived key, so no single AES-GCM key seals everything.
public enum HKDF {
    public static func sha256(ikm: [UInt8], salt: [UInt8] = [], info: [UInt8], length: Int = 32) -> [UInt8] {
        precondition(length >= 1 && length <= 255 * 32, "HKDF: length out of range")
        // Extract: an empty salt is HashLen zero bytes (RFC 5869 §2.2).
        var prk = HMAC.sha256(key: salt.isEmpty ? [UInt8](repeating: 0, count: 32) : salt, data: ikm)
        defer { prk.wipe() }
        return expand(prk: prk, info: info, length: length)
    }

    /// Expand only, from a pseudorandom key (RFC 5869 §2.3).
    public static func expand(prk: [UInt8], info: [UInt8], length: Int = 32) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(length)
        var block: [UInt8] = []
        var counter: UInt8 = 1
        while out.count < length {
            block = HMAC.sha256(key: prk, data: block + info + [counter])
            out += block.prefix(length - out.count)
            counter &+= 1
        }
        block.wipe()
        return out
    }
}
