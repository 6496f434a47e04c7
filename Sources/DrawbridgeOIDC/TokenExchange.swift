import DrawbridgeCrypto

public struct TokenResponse: Sendable {
    /// The compact ID token, still to be checked with `IDTokenVerifier`.
    public let idToken: String

    public init(idToken: String) { self.idToken = idToken }
}

/// The token request of the authorization code flow (RFC 6749 §4.1.3, RFC 7636 §4.5).
public enum TokenExchange {
    /// POSTs the code and PKCE verifier to the token endpoint, authenticating with
    /// client_secret_basic. The response must have token_type Bearer and an id_token.
    public static func exchange(code: String, verifier: String, endpoints: OIDCEndpoints,
                                settings: OIDCProviderSettings) throws(OIDCError) -> TokenResponse {
        let body = PercentEncoding.form([
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", settings.redirectURI),
            ("code_verifier", verifier),
        ])
        let r = try HTTPSClient.fetch(method: "POST", url: endpoints.tokenEndpoint,
                                      headers: [("Authorization", basicAuthorization(clientId: settings.clientId, clientSecret: settings.clientSecret)),
                                                ("Content-Type", "application/x-www-form-urlencoded")],
                                      body: Array(body.utf8), caFile: settings.caFile, timeout: settings.timeout,
                                      context: "token endpoint")
        return try parse(r.body)
    }

    /// `Basic base64(urlencode(client_id) ":" urlencode(client_secret))` (RFC 6749 §2.3.1).
    static func basicAuthorization(clientId: String, clientSecret: String) -> String {
        let credentials = PercentEncoding.encode(clientId) + ":" + PercentEncoding.encode(clientSecret)
        return "Basic " + Base64.encode(Array(credentials.utf8))
    }

    static func parse(_ body: [UInt8]) throws(OIDCError) -> TokenResponse {
        func bad(_ why: String) -> OIDCError { .invalidResponse(context: "token endpoint", reason: why) }
        guard let doc = StrictJSON.parse(body), case .object = doc else { throw bad("response is not a JSON object") }
        guard let type = doc["token_type"]?.stringValue, type.lowercased() == "bearer" else { throw bad("token_type is not Bearer") }
        guard let idToken = doc["id_token"]?.stringValue, !idToken.isEmpty else { throw bad("no id_token") }
        return TokenResponse(idToken: idToken)
    }
}
