/// Self-describing password hashes; the parameters are stored with the hash so they can be
/// raised later without invalidating old hashes (see `needsRehash`).
///
///     $scrypt$ln=17,r=8,p=1$<salt>$<hash>          scrypt, N = 2^ln
///     $pbkdf2-sha256$i=600000$<salt>$<hash>        PBKDF2-HMAC-SHA256
///
/// `<salt>` (16 bytes) and `<hash>` (32 bytes) are base64url without padding. The password is
/// hashed as its UTF-8 bytes, without Unicode normalisation.
public enum PasswordHash {
    public enum Scheme: Sendable, Equatable {
        /// scrypt with N = 2^logN. Default ln=17, r=8, p=1 (OWASP 2024): 128 MiB and ~0.3-0.5 s
        /// per hash. Hashes with other parameters still verify (they are read from the string);
        /// `needsRehash` tells the caller to upgrade them at the next successful sign-in.
        case scrypt(logN: Int = 17, r: Int = 8, p: Int = 1)
        /// PBKDF2-HMAC-SHA256. Default 600 000 iterations (OWASP 2023).
        case pbkdf2SHA256(iterations: Int = 600_000)

        public static var scrypt: Scheme { .scrypt() }
        public static var pbkdf2SHA256: Scheme { .pbkdf2SHA256() }
    }

    static let saltLength = 16
    static let hashLength = 32
    // Bounds on parameters read back from a stored string, so a corrupted or hostile entry
    // cannot make verification allocate gigabytes or spin for minutes.
    static let logNRange = 1...20
    static let rRange = 1...32
    static let pRange = 1...16
    static let iterationRange = 1...10_000_000

    public static func hash(_ password: String, scheme: Scheme = .scrypt) throws -> String {
        let salt = SecureRandom.bytes(saltLength)
        switch scheme {
        case let .scrypt(logN, r, p):
            guard logNRange.contains(logN), rRange.contains(r), pRange.contains(p) else {
                throw CryptoError.invalidInput("PasswordHash: scrypt parameters out of range")
            }
            let dk = try derive(password, salt: salt, scheme: scheme, length: hashLength)
            return "$scrypt$ln=\(logN),r=\(r),p=\(p)$\(Base64URL.encode(salt))$\(Base64URL.encode(dk))"
        case let .pbkdf2SHA256(iterations):
            guard iterationRange.contains(iterations) else { throw CryptoError.invalidInput("PasswordHash: iterations out of range") }
            let dk = try derive(password, salt: salt, scheme: scheme, length: hashLength)
            return "$pbkdf2-sha256$i=\(iterations)$\(Base64URL.encode(salt))$\(Base64URL.encode(dk))"
        }
    }

    /// A well-formed hash in `scheme` that no password matches: random salt and a random
    /// "hash" (nobody knows a preimage). Verifying against it costs exactly what verifying a real
    /// hash of that scheme costs, so an unknown account takes as long as a wrong password. Made
    /// without running the KDF, so it cannot fail and costs nothing to create.
    public static func unmatchable(scheme: Scheme = .scrypt) -> String {
        let salt = Base64URL.encode(SecureRandom.bytes(saltLength)), hash = Base64URL.encode(SecureRandom.bytes(hashLength))
        switch scheme {
        case let .scrypt(logN, r, p): return "$scrypt$ln=\(logN),r=\(r),p=\(p)$\(salt)$\(hash)"
        case let .pbkdf2SHA256(iterations): return "$pbkdf2-sha256$i=\(iterations)$\(salt)$\(hash)"
        }
    }

    /// True if `password` matches. Malformed or out-of-range strings give false (never throw);
    /// the final comparison is constant-time.
    public static func verify(_ password: String, against encoded: String) -> Bool {
        guard let parsed = parse(encoded),
              var dk = try? derive(password, salt: parsed.salt, scheme: parsed.scheme, length: parsed.hash.count)
        else { return false }
        defer { dk.wipe() }
        return ConstantTime.equals(dk, parsed.hash)
    }

    /// True if `encoded` is malformed or weaker than `scheme` (a smaller scrypt N or r, PBKDF2
    /// where scrypt is wanted, fewer PBKDF2 iterations, a short salt or hash): the caller should
    /// re-hash the password after a successful verify and store the new string. A stronger hash
    /// is kept as it is.
    public static func needsRehash(_ encoded: String, scheme: Scheme = .scrypt) -> Bool {
        guard let parsed = parse(encoded) else { return true }
        if parsed.salt.count < saltLength || parsed.hash.count < hashLength { return true }
        switch (parsed.scheme, scheme) {
        case let (.scrypt(logN, r, p), .scrypt(wantLogN, wantR, wantP)):
            return logN < wantLogN || r < wantR || (logN == wantLogN && r == wantR && p < wantP)
        case (.pbkdf2SHA256, .scrypt): return true
        case (.scrypt, .pbkdf2SHA256): return false
        case let (.pbkdf2SHA256(i), .pbkdf2SHA256(want)): return i < want
        }
    }

    static func derive(_ password: String, salt: [UInt8], scheme: Scheme, length: Int) throws -> [UInt8] {
        var pw = Array(password.utf8)
        defer { pw.wipe() }
        switch scheme {
        case let .scrypt(logN, r, p):
            return try Scrypt.derive(password: pw, salt: salt, n: 1 << UInt64(logN), r: UInt32(r), p: UInt32(p), length: length)
        case let .pbkdf2SHA256(iterations):
            return try PBKDF2.sha256(password: pw, salt: salt, iterations: iterations, length: length)
        }
    }

    static func parse(_ encoded: String) -> (scheme: Scheme, salt: [UInt8], hash: [UInt8])? {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty,
              let salt = Base64URL.decode(String(parts[3])), (8...64).contains(salt.count),
              let hash = Base64URL.decode(String(parts[4])), (16...64).contains(hash.count),
              let params = parseParams(parts[2]) else { return nil }
        switch parts[1] {
        case "scrypt":
            guard params.count == 3, params[0].0 == "ln", params[1].0 == "r", params[2].0 == "p",
                  logNRange.contains(params[0].1), rRange.contains(params[1].1), pRange.contains(params[2].1)
            else { return nil }
            return (.scrypt(logN: params[0].1, r: params[1].1, p: params[2].1), salt, hash)
        case "pbkdf2-sha256":
            guard params.count == 1, params[0].0 == "i", iterationRange.contains(params[0].1) else { return nil }
            return (.pbkdf2SHA256(iterations: params[0].1), salt, hash)
        default:
            return nil
        }
    }

    /// "k=v,k=v" with canonical decimal values (no sign, no leading zeros, at most 9 digits).
    private static func parseParams(_ s: Substring) -> [(Substring, Int)]? {
        var out: [(Substring, Int)] = []
        for item in s.split(separator: ",", omittingEmptySubsequences: false) {
            let kv = item.split(separator: "=", omittingEmptySubsequences: false)
            guard kv.count == 2, !kv[0].isEmpty, let v = canonicalInt(kv[1]) else { return nil }
            out.append((kv[0], v))
        }
        return out
    }

    private static func canonicalInt(_ s: Substring) -> Int? {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= 9, u.allSatisfy({ $0 >= 48 && $0 <= 57 }), u.count == 1 || u[0] != 48 else { return nil }
        return Int(s)
    }
}
