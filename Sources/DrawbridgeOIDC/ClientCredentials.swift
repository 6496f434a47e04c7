import DrawbridgeCrypto

/// The client credentials grant (RFC 6749 §4.4): the gateway, as a confidential client, asks a
/// token endpoint for an access token for an upstream. Blocking: called from the gateway's
/// token thread, never from a worker.
public enum ClientCredentials {
    public enum AuthMethod: Sendable {
        /// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
        case basic
        /// `client_id` and `client_secret` in the form body.
        case post
    }

    public struct Client: Sendable {
        public var tokenEndpoint: String
        public var clientId: String
        public var clientSecret: String
        public var method: AuthMethod
        public var scope: String?
        public var audience: String?
        public var caFile: String?
        public var timeout: Int32

        public init(tokenEndpoint: String, clientId: String, clientSecret: String, method: AuthMethod,
                    scope: String?, audience: String?, caFile: String?, timeout: Int32 = 10) {
            self.tokenEndpoint = tokenEndpoint
            self.clientId = clientId
            self.clientSecret = clientSecret
            self.method = method
            self.scope = scope
            self.audience = audience
            self.caFile = caFile
            self.timeout = timeout
        }
    }

    public struct Token: Sendable, Equatable {
        /// RFC 6750 b64token characters only: it goes into a header field as is.
        public let accessToken: String
        /// `expires_in` (seconds), nil when the server did not say.
        public let expiresIn: Int?

        public init(accessToken: String, expiresIn: Int?) {
            self.accessToken = accessToken
            self.expiresIn = expiresIn
        }
    }

    /// Why a token endpoint URL cannot be used (strict https parse), nil when it can.
    public static func urlProblem(_ url: String) -> String? {
        switch HTTPSURL.parse(url) {
        case .success: return nil
        case .failure(let why): return why.reason
        }
    }

    /// The request's header fields and form body (no network).
    static func request(_ c: Client) -> (headers: [(String, String)], body: String) {
        var form = [("grant_type", "client_credentials")]
        if let scope = c.scope { form.append(("scope", scope)) }
        if let audience = c.audience { form.append(("audience", audience)) }
        var headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Cache-Control", "no-store")]
        switch c.method {
        case .basic: headers.append(("Authorization", TokenExchange.basicAuthorization(clientId: c.clientId, clientSecret: c.clientSecret)))
        case .post: form += [("client_id", c.clientId), ("client_secret", c.clientSecret)]
        }
        return (headers, PercentEncoding.form(form))
    }

    /// POSTs the grant and returns the bearer token. Errors name the step and the server's
    /// answer (status, OAuth `error` code), never the secret or a token.
    public static func fetch(_ c: Client) throws(OIDCError) -> Token {
        let (headers, body) = request(c)
        let r = try HTTPSClient.fetch(method: "POST", url: c.tokenEndpoint, headers: headers, body: Array(body.utf8),
                                      caFile: c.caFile, timeout: c.timeout, context: "token endpoint")
        return try parse(r.body)
    }

    /// A successful token response (RFC 6749 §5.1): token_type Bearer, a b64token access_token,
    /// expires_in a positive integer if present.
    static func parse(_ body: [UInt8]) throws(OIDCError) -> Token {
        func bad(_ why: String) -> OIDCError { .invalidResponse(context: "token endpoint", reason: why) }
        guard let doc = StrictJSON.parse(body), case .object = doc else { throw bad("response is not a JSON object") }
        guard let type = doc["token_type"]?.stringValue, type.lowercased() == "bearer" else { throw bad("token_type is not Bearer") }
        guard let token = doc["access_token"]?.stringValue, !token.isEmpty else { throw bad("no access_token") }
        // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" (RFC 6750 §2.1): nothing that could end a header field.
        let body = token.utf8.prefix { $0 != UInt8(ascii: "=") }
        guard token.utf8.count <= 8192, !body.isEmpty,
              body.allSatisfy({ b in (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || (b >= 0x30 && b <= 0x39) || "-._~+/".utf8.contains(b) }),
              token.utf8.dropFirst(body.count).allSatisfy({ $0 == UInt8(ascii: "=") })
        else { throw bad("access_token is not a bearer token (RFC 6750 b64token)") }
        var expiresIn: Int?
        if let v = doc["expires_in"] {
            // A number per RFC 6749; some servers send it as a string.
            let text: String?
            switch v { case .number(let n): text = n; case .string(let s): text = s; default: text = nil }
            guard let text, let n = Int(text), n > 0 else { throw bad("expires_in is not a positive integer") }
            expiresIn = n
        }
        return Token(accessToken: token, expiresIn: expiresIn)
    }
}
