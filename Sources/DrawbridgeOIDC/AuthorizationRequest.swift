import DrawbridgeCrypto

/// Proof Key for Code Exchange (RFC 7636) with the S256 method.
public struct PKCE: Sendable {
    public let verifier: String
    public let challenge: String

    /// A verifier of 32 random bytes (43 base64url characters) and its S256 challenge.
    public static func generate() -> PKCE {
        let verifier = Base64URL.encode(SecureRandom.bytes(32))
        return PKCE(verifier: verifier, challenge: challenge(for: verifier))
    }

    /// BASE64URL(SHA256(ASCII(verifier))) (RFC 7636 §4.2).
    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(SHA256.hash(Array(verifier.utf8)))
    }
}

/// The authorization request (OIDC Core §3.1.2.1) the browser is redirected to.
public enum AuthorizationRequest {
    /// The authorization endpoint with the code-flow parameters appended (after any query the
    /// endpoint already has); every value percent-encoded.
    public static func url(endpoints: OIDCEndpoints, settings: OIDCProviderSettings, state: String, nonce: String,
                           codeChallenge: String, loginHint: String?) -> String {
        var params: [(String, String)] = [
            ("response_type", "code"),
            ("client_id", settings.clientId),
            ("redirect_uri", settings.redirectURI),
            ("scope", settings.scopes.joined(separator: " ")),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", codeChallenge),
            ("code_challenge_method", "S256"),
        ]
        if let loginHint, !loginHint.isEmpty { params.append(("login_hint", loginHint)) }
        if let hd = settings.hostedDomain, !hd.isEmpty { params.append(("hd", hd)) }
        let base = endpoints.authorizationEndpoint
        let separator: String
        if !base.contains("?") { separator = "?" } else if base.hasSuffix("?") || base.hasSuffix("&") { separator = "" } else { separator = "&" }
        return base + separator + PercentEncoding.form(params)
    }
}
