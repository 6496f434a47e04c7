import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's DRBG (RAND_bytes).
public enum SecureRandom {
    /// `n` random bytes; `n <= 0` gives an empty array. A failing system RNG is not something a
    /// caller can recover from (and returning weak bytes would be worse), so that traps.
    public static func bytes(_ n: Int) -> [UInt8] {
        guard n > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: n)
        let rc = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(clamping: $0.count)) }
        if rc != 1 { OSSL.fatal("RAND_bytes") }
        return out
    }
}

/// The hash functions the module uses, by OpenSSL name.
public enum HashAlgorithm: String, Sendable, CaseIterable {
    case sha1 = "SHA1", sha256 = "SHA256", sha512 = "SHA512"

    public var outputSize: Int {
        switch self { case .sha1: 20; case .sha256: 32; case .sha512: 64 }
    }

    func digest(_ data: [UInt8]) -> [UInt8] {
        guard let md = EVP_get_digestbyname(rawValue) else { OSSL.fatal("EVP_get_digestbyname") }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len: UInt32 = 0
        let ok = OSSL.withBytes(data) { p, n in EVP_Digest(p, n, &out, &len, md, nil) }
        if ok != 1 { OSSL.fatal("EVP_Digest") }
        return Array(out[0..<Int(len)])
    }

    func hmac(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len = 0
        let r = OSSL.withBytes(key) { k, kn in
            OSSL.withBytes(data) { d, dn in
                EVP_Q_mac(nil, "HMAC", nil, rawValue, nil, k, kn, d, dn, &out, out.count, &len)
            }
        }
        if r == nil { OSSL.fatal("HMAC") }
        return Array(out[0..<len])
    }
}

public enum SHA256 {
    public static func hash(_ data: [UInt8]) -> [UInt8] { HashAlgorithm.sha256.digest(data) }
}

/// SHA-1 is here only because RFC 6238 TOTP (and most authenticator apps) use HMAC-SHA1.
public enum SHA1 {
    public static func hash(_ data: [UInt8]) -> [UInt8] { HashAlgorithm.sha1.digest(data) }
}

public enum SHA512 {
    public static func hash(_ data: [UInt8]) -> [UInt8] { HashAlgorithm.sha512.digest(data) }
}

/// HMAC through EVP_MAC (EVP_Q_mac). Any key length is accepted, including empty.
public enum HMAC {
    public static func sha256(key: [UInt8], data: [UInt8]) -> [UInt8] { HashAlgorithm.sha256.hmac(key: key, data: data) }
    public static func sha1(key: [UInt8], data: [UInt8]) -> [UInt8] { HashAlgorithm.sha1.hmac(key: key, data: data) }
    public static func sha512(key: [UInt8], data: [UInt8]) -> [UInt8] { HashAlgorithm.sha512.hmac(key: key, data: data) }
    public static func mac(_ algorithm: HashAlgorithm, key: [UInt8], data: [UInt8]) -> [UInt8] {
        algorithm.hmac(key: key, data: data)
    }
    /// Recomputes the HMAC-SHA256 and compares in constant time.
    public static func verifySHA256(_ tag: [UInt8], key: [UInt8], data: [UInt8]) -> Bool {
        ConstantTime.equals(sha256(key: key, data: data), tag)
    }
}

public enum ConstantTime {
    /// Compares two byte strings in time that depends only on their lengths (CRYPTO_memcmp).
    /// Arrays of different length compare unequal immediately: only the length leaks.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 }
        }
    }
}
