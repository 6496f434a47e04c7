import Foundation

/// `upstreamCredential: { oauth2: { tokenEndpoint, clientId, clientSecret, authMethod, scope, audience, caFile } }`:
/// the gateway obtains an access token with the client credentials grant (RFC 6749 §4.4) and
/// sends it to the route's upstream as `Authorization: Bearer <token>` (RFC 6750 §2.1).
public struct UpstreamOAuth2Config: Sendable, Hashable {
    public enum AuthMethod: String, Sendable, Hashable {
        /// HTTP Basic with the url-encoded id and secret (RFC 6749 §2.3.1; the default).
        case clientSecretBasic = "client_secret_basic"
        /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1, "NOT RECOMMENDED").
        case clientSecretPost = "client_secret_post"
    }
    /// `https://` only: the client secret is sent there.
    public var tokenEndpoint: String
    public var clientId: String
    /// Name of a sealed secret (`drawbridge secret set <name>`), opened in memory only.
    public var clientSecret: String
    public var authMethod: AuthMethod
    /// Space-separated scope tokens (RFC 6749 §3.3); nil = not sent.
    public var scope: String?
    /// `audience` form parameter (Auth0, Okta and others; RFC 8707 uses `resource`); nil = not sent.
    public var audience: String?
    /// PEM CA bundle the token endpoint's certificate is verified against; nil = the system store.
    public var caFile: String?

    public init(tokenEndpoint: String, clientId: String, clientSecret: String, authMethod: AuthMethod = .clientSecretBasic,
                scope: String? = nil, audience: String? = nil, caFile: String? = nil) {
        self.tokenEndpoint = tokenEndpoint
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.authMethod = authMethod
        self.scope = scope
        self.audience = audience
        self.caFile = caFile
    }
}

/// What a route's upstream is told about the user (`identity` on a route).
public enum IdentityDisclosure: String, Sendable, Equatable {
    /// User id, email, org, roles, groups (the default).
    case full
    /// A pairwise pseudonymous subject per audience instead of the user id; no email. Org, roles
    /// and groups unchanged (see docs/IDENTITY.md, "Pseudonymous identity").
    case pseudonymous
}

/// A route's credential for its upstream: a static sealed secret, or an OAuth 2.0 client.
enum UpstreamCredentialKind {
    case `static`(UpstreamCredentialConfig)
    case oauth2(UpstreamOAuth2Config)
}

extension Validator {
    /// `upstreamCredential`: `{ header, secret, prefix }` or `{ oauth2: {…} }`. nil when wrong (reported).
    func upstreamCredential(_ value: JSONValue, path: String) -> UpstreamCredentialKind? {
        guard let c = ObjectReader(value, path: path, known: ["header", "secret", "prefix", "oauth2"], issues: issues) else { return nil }
        if let o = c.value("oauth2") {
            let extra = ["header", "secret", "prefix"].filter { c.value($0) != nil }
            guard extra.isEmpty else {
                issues.add(path, "oauth2 takes no \(extra.joined(separator: ", ")) (the token is sent as Authorization: Bearer)")
                return nil
            }
            return oauth2(o, path: c.fieldPath("oauth2")).map { .oauth2($0) }
        }
        guard let header = c.requiredString("header"), let secret = c.requiredString("secret") else { return nil }
        var ok = true
        if !Self.isFieldName(header) { issues.add(c.fieldPath("header"), "not a header field name: \"\(header)\""); ok = false }
        if secret.isEmpty { issues.add(c.fieldPath("secret"), "must name a secret (see `drawbridge secret set`)"); ok = false }
        let prefix = c.string("prefix") ?? ""
        if prefix.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
            issues.add(c.fieldPath("prefix"), "must not contain control characters"); ok = false
        }
        return ok ? .static(UpstreamCredentialConfig(header: header, secret: secret, prefix: prefix)) : nil
    }

    private func oauth2(_ value: JSONValue, path: String) -> UpstreamOAuth2Config? {
        let keys = ["tokenEndpoint", "clientId", "clientSecret", "authMethod", "scope", "audience", "caFile"]
        guard let o = ObjectReader(value, path: path, known: keys, issues: issues) else { return nil }
        var ok = true
        let endpoint = o.requiredString("tokenEndpoint")
        if let endpoint, let problem = Self.tokenEndpointProblem(endpoint) {
            issues.add(o.fieldPath("tokenEndpoint"), problem); ok = false
        }
        let clientId = o.requiredString("clientId")
        // Sent in a header (Basic) or a form: printable ASCII without controls.
        if let clientId, clientId.isEmpty || clientId.utf8.contains(where: { $0 < 0x20 || $0 >= 0x7F }) {
            issues.add(o.fieldPath("clientId"), "must be non-empty printable ASCII"); ok = false
        }
        let secret = o.requiredString("clientSecret")
        if let secret, secret.isEmpty {
            issues.add(o.fieldPath("clientSecret"), "must name a secret (see `drawbridge secret set`)"); ok = false
        }
        var method = UpstreamOAuth2Config.AuthMethod.clientSecretBasic
        if let text = o.string("authMethod") {
            if let m = UpstreamOAuth2Config.AuthMethod(rawValue: text) { method = m } else {
                issues.add(o.fieldPath("authMethod"), "must be \"client_secret_basic\" or \"client_secret_post\", got \"\(text)\""); ok = false
            }
        }
        let scope = o.string("scope")
        // scope-token = 1*NQCHAR, NQCHAR = %x21 / %x23-5B / %x5D-7E, separated by single spaces (RFC 6749 §3.3).
        if let scope, scope.isEmpty || scope.split(separator: " ", omittingEmptySubsequences: false).contains(where: { token in
            token.isEmpty || token.utf8.contains { $0 < 0x21 || $0 > 0x7E || $0 == 0x22 || $0 == 0x5C } }) {
            issues.add(o.fieldPath("scope"), "must be scope tokens separated by single spaces (RFC 6749 §3.3), got \"\(scope)\""); ok = false
        }
        let audience = o.string("audience")
        if let audience, audience.isEmpty || audience.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            issues.add(o.fieldPath("audience"), "must be non-empty and without control characters"); ok = false
        }
        let caFile = o.value("caFile") == nil ? nil : readableFile(o, "caFile", required: false)
        if o.value("caFile") != nil, caFile == nil { ok = false }
        guard ok, let endpoint, let clientId, let secret else { return nil }
        return UpstreamOAuth2Config(tokenEndpoint: endpoint, clientId: clientId, clientSecret: secret, authMethod: method,
                                    scope: scope, audience: audience, caFile: caFile)
    }

    /// Why a token endpoint URL is refused: the client secret goes there, so https only.
    static func tokenEndpointProblem(_ url: String) -> String? {
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") else {
            return "must be an https:// URL (the client secret is sent to it), got \"\(url)\""
        }
        let rest = url.dropFirst("https://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        if authority.isEmpty { return "has no host: \"\(url)\"" }
        if authority.contains("@") { return "must not contain user information (put the client id and secret in clientId and clientSecret)" }
        if url.contains("#") { return "must not contain a fragment (RFC 6749 §3.2)" }
        if url.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) { return "must not contain spaces, controls or non-ASCII characters" }
        return nil
    }

    /// `identity`: "full" (default) or "pseudonymous"; a public route has no identity to send.
    func identityDisclosure(_ route: ObjectReader, isPublic: Bool) -> IdentityDisclosure? {
        guard route.value("identity") != nil else { return .full }
        guard let text = route.string("identity") else { return nil }
        guard let d = IdentityDisclosure(rawValue: text) else {
            issues.add(route.fieldPath("identity"), "must be \"full\" or \"pseudonymous\", got \"\(text)\"")
            return nil
        }
        if isPublic && d == .pseudonymous {
            issues.add(route.fieldPath("identity"), "a public route sends no identity (remove identity, or drop public: true)")
            return nil
        }
        return d
    }

    /// Routes that share an assertion audience are one application to the gateway: they must
    /// tell it the same identity (one full route would let the app join every pseudonym).
    func audienceDisclosure(_ routes: [RouteConfig], indices: [Int]) {
        var first: [String: (index: Int, identity: IdentityDisclosure)] = [:]
        for (route, index) in zip(routes, indices) where !route.isPublic {
            let audience = route.access?.audience ?? route.upstream
            guard let other = first[audience] else { first[audience] = (index, route.identity); continue }
            if other.identity != route.identity {
                issues.add("routes[\(index)].identity",
                           "\"\(route.identity.rawValue)\", but routes[\(other.index)] has identity \"\(other.identity.rawValue)\" for the "
                           + "same audience \"\(audience)\": the app would receive both and could join them (give the routes the same "
                           + "identity, or separate audiences)")
            }
        }
    }
}
