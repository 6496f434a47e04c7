/// A way of signing in. TOTP is not a mode: it is a second factor recorded as a flag on the
/// session (`SessionClaims.mfa`) and demanded per org (`Organization.mfaRequired`).
public enum AuthMode: Hashable, Sendable {
    case password
    /// An OpenID Connect provider, by the configured provider name (e.g. "google").
    case oidc(provider: String)
    case apiKey
}

extension AuthMode: CustomStringConvertible {
    /// Stable text for logs, the login page and "your organisation allows: …" messages.
    public var description: String {
        switch self {
        case .password: return "password"
        case .oidc(let provider): return "oidc:\(provider)"
        case .apiKey: return "api_key"   // as written in the configuration
        }
    }
}
