import DrawbridgeCrypto

/// OpenID Connect Discovery 1.0 (§4): the provider's configuration document.
public enum OIDCDiscovery {
    /// GETs `{issuer}/.well-known/openid-configuration`. The document's `issuer` must equal
    /// `settings.issuer` exactly, and the authorization, token and JWKS endpoints must be https.
    public static func fetch(settings: OIDCProviderSettings) throws(OIDCError) -> OIDCEndpoints {
        try fetchWithLifetime(settings: settings).endpoints
    }

    /// The endpoints and the document's freshness (Cache-Control, see `CacheControl.maxAge`).
    public static func fetchWithLifetime(settings: OIDCProviderSettings) throws(OIDCError) -> (endpoints: OIDCEndpoints, maxAge: Int64?) {
        var base = settings.issuer
        if base.hasSuffix("/") { base.removeLast() }   // §4: a terminating "/" is removed before appending
        let r = try HTTPSClient.fetch(method: "GET", url: base + "/.well-known/openid-configuration",
                                      caFile: settings.caFile, timeout: settings.timeout, context: "discovery")
        return (try endpoints(document: r.body, issuer: settings.issuer), CacheControl.maxAge(r.header("cache-control")))
    }

    /// Reads and checks a discovery document (separate from the fetch for testing).
    static func endpoints(document: [UInt8], issuer: String) throws(OIDCError) -> OIDCEndpoints {
        func bad(_ why: String) -> OIDCError { .invalidResponse(context: "discovery", reason: why) }
        guard let doc = StrictJSON.parse(document), case .object = doc else { throw bad("document is not a JSON object") }
        guard let iss = doc["issuer"]?.stringValue else { throw bad("no issuer") }
        guard iss == issuer else { throw bad("issuer mismatch") }
        func endpoint(_ field: String) throws(OIDCError) -> String {
            guard let s = doc[field]?.stringValue else { throw bad("no \(field)") }
            if case .failure(let why) = HTTPSURL.parse(s) { throw bad("\(field) refused: \(why.reason)") }
            return s
        }
        return OIDCEndpoints(issuer: iss, authorizationEndpoint: try endpoint("authorization_endpoint"),
                             tokenEndpoint: try endpoint("token_endpoint"), jwksURI: try endpoint("jwks_uri"))
    }
}
