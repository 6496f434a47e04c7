/// Checks on a password an operator sets, after NIST SP 800-63B §5.1.1.2 (memorized secrets):
/// at least 12 characters (the 8 of the SP's floor are too few for a gateway fronting many
/// apps; OWASP ASVS 2.1.1 also asks 12), up to 1024 (the SP asks to accept at least 64, and
/// spaces and any Unicode), no composition rules, and not the user's own email or its local part
/// (the SP's "context-specific words").
enum PasswordRules {
    static let minLength = 12
    static let maxLength = 1024

    /// Nil when acceptable, else what is wrong (no echo of the password).
    static func problem(_ password: String, email: String?) -> String? {
        let n = password.count   // characters, as the SP counts them, not bytes
        if n < minLength { return "the password is too short: \(n) characters, at least \(minLength) (NIST SP 800-63B)" }
        if n > maxLength { return "the password is too long: \(n) characters, at most \(maxLength)" }
        if let email {
            let p = password.lowercased(), e = email.lowercased()
            let local = e.split(separator: "@").first.map(String.init) ?? e
            if p.contains(e) || (local.count >= 3 && p.contains(local)) {
                return "the password contains the user's email or its name part (\(local)); choose one others cannot guess from the account"
            }
        }
        return nil
    }
}
