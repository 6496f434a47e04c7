// DrawbridgeOIDC: the OpenID Connect relying party (authorization code flow with PKCE, Google or
// any standards-compliant issuer): discovery, JWKS, code exchange, ID token checks, and the small
// blocking HTTPS client they use. None of this runs on the request hot path; the server calls it
// from a blocking-work thread.

/// One provider, as the server maps it from `OIDCProviderConfig` (client secret already unsealed).
public struct OIDCProviderSettings: Sendable {
    public var name: String
    /// Exact issuer URL, compared byte for byte with the discovery document and the `iss` claim.
    public var issuer: String
    public var clientId: String
    public var clientSecret: String
    public var redirectURI: String
    public var scopes: [String]
    /// Google Workspace domain the `hd` claim must equal; nil = not checked.
    public var hostedDomain: String?
    /// PEM CA bundle for the provider's endpoints; nil = the system default paths.
    public var caFile: String?
    /// Seconds of clock skew tolerated for `exp` and `iat`.
    public var clockSkew: Int64
    /// Seconds for connecting, and for each read or write (and as the overall budget of one request).
    public var timeout: Int32

    public init(name: String, issuer: String, clientId: String, clientSecret: String, redirectURI: String,
                scopes: [String] = ["openid", "email", "profile"], hostedDomain: String? = nil, caFile: String? = nil,
                clockSkew: Int64 = 60, timeout: Int32 = 10) {
        self.name = name
        self.issuer = issuer
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.redirectURI = redirectURI
        self.scopes = scopes
        self.hostedDomain = hostedDomain
        self.caFile = caFile
        self.clockSkew = clockSkew
        self.timeout = timeout
    }
}

/// The endpoints a discovery document names (all https).
public struct OIDCEndpoints: Sendable, Equatable {
    public let issuer: String
    public let authorizationEndpoint: String
    public let tokenEndpoint: String
    public let jwksURI: String

    public init(issuer: String, authorizationEndpoint: String, tokenEndpoint: String, jwksURI: String) {
        self.issuer = issuer
        self.authorizationEndpoint = authorizationEndpoint
        self.tokenEndpoint = tokenEndpoint
        self.jwksURI = jwksURI
    }
}

/// Why talking to the provider failed. The description is meant for logs: it names the step
/// ("discovery", "token endpoint", "jwks") and never contains the client secret, the
/// authorization code, or any token.
public enum OIDCError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A URL is not `https://host[:port][/path][?query]` (no userinfo, no fragment).
    case invalidURL(context: String, reason: String)
    /// Name resolution, connect, read or write failed, or timed out.
    case network(context: String, reason: String)
    /// The TLS handshake failed (e.g. "certificate verify failed", hostname mismatch).
    case tls(context: String, reason: String)
    /// A non-2xx status; `oauthError` is the OAuth `error` code when the body was a JSON error.
    case httpStatus(context: String, status: Int, oauthError: String?)
    /// The response (HTTP framing or JSON content) is not acceptable.
    case invalidResponse(context: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidURL(c, r): return "\(c): invalid URL: \(r)"
        case let .network(c, r): return "\(c): network: \(r)"
        case let .tls(c, r): return "\(c): TLS: \(r)"
        case let .httpStatus(c, s, e): return "\(c): HTTP \(s)" + (e.map { " \($0)" } ?? "")
        case let .invalidResponse(c, r): return "\(c): \(r)"
        }
    }
}
