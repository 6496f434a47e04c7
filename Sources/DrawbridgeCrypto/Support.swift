import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// Errors from DrawbridgeCrypto. Anything a caller (or an attacker feeding a caller) can cause is
/// reported as one of these, never as a crash.
public enum CryptoError: Error, Equatable, Sendable {
    /// A parameter is out of range or malformed (wrong key length, bad encoding, ...).
    case invalidInput(String)
    /// AEAD decryption failed: wrong key, or ciphertext / tag / nonce / AAD was modified.
    case authenticationFailed
    /// A signature or token did not verify (including refused algorithms).
    case verificationFailed
    /// OpenSSL reported an unexpected failure (the message is OpenSSL's first queued error).
    case backend(String)
}

/// OpenSSL plumbing shared by the module.
enum OSSL {
    /// Pops every error queued on this thread and returns the first one's text. Called on every
    /// failure path: the TLS code in the same process reads this per-thread queue through
    /// SSL_get_error, so a failed verification must never leave entries behind.
    @discardableResult
    static func drainErrors() -> String {
        var first: String? = nil
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if first == nil {
                var buf = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buf, buf.count)
                first = String(cString: buf)
            }
        }
        return first ?? "unknown OpenSSL error"
    }

    static func backend(_ what: String) -> CryptoError {
        .backend("\(what): \(drainErrors())")
    }

    /// Calls `body` with a pointer that is never nil, even for an empty array: several OpenSSL
    /// entry points treat a NULL buffer differently from an empty one (e.g. "keep the old key").
    static func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) throws -> R) rethrows -> R {
        if bytes.isEmpty {
            var dummy: UInt8 = 0
            return try withUnsafePointer(to: &dummy) { try body($0, 0) }
        }
        return try bytes.withUnsafeBufferPointer { try body($0.baseAddress!, $0.count) }
    }

    static func fatal(_ what: String) -> Never {
        fatalError("DrawbridgeCrypto: \(what) failed: \(drainErrors())")
    }
}

/// A NUL-terminated C string with static lifetime. OSSL_PARAM and OSSL_PARAM_BLD keep the key
/// pointer (not a copy), so parameter names must outlive any Swift temporary.
struct CName: @unchecked Sendable {
    let ptr: UnsafeMutablePointer<CChar>
    init(_ s: String) { ptr = strdup(s)! }
}

enum ParamName {
    static let password = CName("pass")          // OSSL_KDF_PARAM_PASSWORD
    static let salt = CName("salt")              // OSSL_KDF_PARAM_SALT
    static let iter = CName("iter")              // OSSL_KDF_PARAM_ITER
    static let digest = CName("digest")          // OSSL_KDF_PARAM_DIGEST
    static let pkcs5 = CName("pkcs5")            // OSSL_KDF_PARAM_PKCS5
    static let scryptN = CName("n")              // OSSL_KDF_PARAM_SCRYPT_N
    static let scryptR = CName("r")              // OSSL_KDF_PARAM_SCRYPT_R
    static let scryptP = CName("p")              // OSSL_KDF_PARAM_SCRYPT_P
    static let scryptMaxmem = CName("maxmem_bytes") // OSSL_KDF_PARAM_SCRYPT_MAXMEM
    static let group = CName("group")            // OSSL_PKEY_PARAM_GROUP_NAME
    static let pub = CName("pub")                // OSSL_PKEY_PARAM_PUB_KEY
    static let ecX = CName("qx")                 // OSSL_PKEY_PARAM_EC_PUB_X
    static let ecY = CName("qy")                 // OSSL_PKEY_PARAM_EC_PUB_Y
    static let rsaN = CName("n")                 // OSSL_PKEY_PARAM_RSA_N
    static let rsaE = CName("e")                 // OSSL_PKEY_PARAM_RSA_E
    static let sha256 = CName("SHA256")
    static let prime256v1 = CName("prime256v1")
}

/// Owns an EVP_PKEY. Keys are only read after construction (sign/verify), which OpenSSL 3
/// allows from several threads at once.
final class PKeyBox: @unchecked Sendable {
    let pkey: OpaquePointer
    init(_ pkey: OpaquePointer) { self.pkey = pkey }
    deinit { EVP_PKEY_free(pkey) }
}

extension Array where Element == UInt8 {
    /// Overwrites the contents (best effort; used for derived secrets and key material).
    mutating func wipe() {
        let n = count
        withUnsafeMutableBytes { if let b = $0.baseAddress { OPENSSL_cleanse(b, n) } }
    }
}
