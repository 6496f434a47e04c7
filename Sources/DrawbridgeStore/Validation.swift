import DrawbridgeCrypto

/// Syntax of the names and identifiers stored in the identity files (shared by the loader and the CLI).
public enum StoreNames {
    /// A new random user id: `u_` + 16 lowercase hex characters (64 random bits).
    public static func newUserId() -> String { "u_" + MasterKey.hexEncode(SecureRandom.bytes(8)) }

    /// `[a-z0-9][a-z0-9_.-]{0,63}`: the CLI makes `u_` + 16 hex; ids imported from another
    /// system keep their shape as long as they are safe in a header, a log line and a sealed name.
    public static func isUserId(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard let first = u.first, u.count <= 64, isLowerAlnum(first) else { return false }
        return u.dropFirst().allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// 16 lowercase hex characters (the id part of an API key).
    public static func isKeyId(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return u.count == 16 && u.allSatisfy(isLowerHex)
    }

    /// `[a-z0-9][a-z0-9._/-]{0,127}`, not starting with `user/` (reserved for per-user values such
    /// as TOTP seeds: a secret can never carry a seed's name).
    public static func isSecretName(_ s: String) -> Bool {
        if s.hasPrefix("user/") { return false }
        let u = Array(s.utf8)
        guard let first = u.first, u.count <= 128, isLowerAlnum(first) else { return false }
        return u.dropFirst().allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
            || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "-") }
    }

    /// Organisation ids, as in the configuration: `A-Z a-z 0-9 _ -`, 1...64.
    public static func isOrgId(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return (1...64).contains(u.count) && u.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// Role and group names: `A-Z a-z 0-9 _ - . :`, 1...64.
    public static func isRoleName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return (1...64).contains(u.count)
            && u.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") }
    }

    /// A plausible, already lowercased email address: one `@`, non-empty local part and domain,
    /// no whitespace or control characters, at most 254 bytes.
    public static func isEmail(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (3...254).contains(u.count), s == s.lowercased(),
              u.allSatisfy({ $0 > 0x20 && $0 != 0x7f }) else { return false }
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
    }

    /// A display name (API key names): at most 200 bytes, no control characters.
    public static func isDisplayName(_ s: String) -> Bool {
        s.utf8.count <= 200 && s.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7f }
    }

    /// The shape of a `PasswordHash` string (`$scrypt$…` or `$pbkdf2-sha256$…`, five `$` fields).
    public static func isPasswordHash(_ s: String) -> Bool {
        let parts = s.split(separator: "$", omittingEmptySubsequences: false)
        return parts.count == 5 && parts[0].isEmpty && (parts[1] == "scrypt" || parts[1] == "pbkdf2-sha256")
            && parts[2...].allSatisfy { !$0.isEmpty }
    }

    /// Printable ASCII without spaces (issuer URLs and OIDC subjects as stored).
    public static func isVisibleASCII(_ s: String) -> Bool {
        s.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f }
    }

    static func isLowerHex(_ b: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(b)
    }
    static func isLowerAlnum(_ b: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b)
    }
    static func isAlnum(_ b: UInt8) -> Bool {
        isLowerAlnum(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
    }
}
