import DrawbridgeCrypto
import DrawbridgeIdentity
import DrawbridgeOIDC
import Glibc

/// What the job queues remember about each OIDC provider between sign-ins: its discovered
/// endpoints and its JWKS cache (refetched on an unknown `kid`). Keyed by provider name and
/// issuer, so a reload that changes the issuer starts afresh. Locked: four job queues share it.
final class OIDCState: @unchecked Sendable {
    private struct Entry {
        let issuer: String
        let endpoints: OIDCEndpoints
        let jwks: JWKSCache
        let fetchedAt: UInt64
    }
    private var entries: [String: Entry] = [:]
    private var lock = pthread_mutex_t()
    /// Discovery documents are refetched after this long (issuers move endpoints rarely).
    static let discoveryLifetime: UInt64 = 3600

    init() { pthread_mutex_init(&lock, nil) }

    /// The endpoints and key cache for `settings`, discovering them when unknown or stale.
    /// Runs on a job queue (it may block on the network); the lock is not held while fetching.
    func provider(_ settings: OIDCProviderSettings, now: UInt64) throws(OIDCError) -> (OIDCEndpoints, JWKSCache) {
        pthread_mutex_lock(&lock)
        let cached = entries[settings.name]
        pthread_mutex_unlock(&lock)
        if let e = cached, e.issuer == settings.issuer, now < e.fetchedAt + Self.discoveryLifetime { return (e.endpoints, e.jwks) }
        let endpoints = try OIDCDiscovery.fetch(settings: settings)
        // Keep the key cache across a rediscovery when the key set address did not change.
        let jwks = (cached?.issuer == settings.issuer && cached?.endpoints.jwksURI == endpoints.jwksURI) ? cached!.jwks
            : JWKSCache(jwksURI: endpoints.jwksURI, settings: settings)
        pthread_mutex_lock(&lock)
        entries[settings.name] = Entry(issuer: settings.issuer, endpoints: endpoints, jwks: jwks, fetchedAt: now)
        pthread_mutex_unlock(&lock)
        return (endpoints, jwks)
    }
}

/// OpenID Connect sign-in (authorization code flow with PKCE). `start` sends the browser to the
/// issuer with a fresh `state`, `nonce` and PKCE verifier sealed into a short-lived cookie;
/// `callback` checks the state against that cookie, exchanges the code over verified TLS,
/// verifies the ID token and maps its verified email to a user of the organisation.
/// Both run on a job queue: they call the issuer.
struct OIDCFlow {
    let endpoints: LoginEndpoints
    private var request: LocalRequest { endpoints.request }
    private var auth: AuthRuntime { endpoints.auth }
    private var now: UInt64 { endpoints.now }
    /// The sign-in in flight: ten minutes to come back from the issuer.
    static let cookieLifetime: UInt64 = 600

    func start() -> LocalResponse {
        let name = request.query["provider"] ?? ""
        guard let provider = auth.providers[name], auth.global.enabledModes.contains(.oidc(provider: name)) else {
            return .html(404, LoginPages.message("Sign in", "That sign-in method is not offered here."))
        }
        let mode = AuthMode.oidc(provider: name)
        let hint = (request.query["login_hint"] ?? "").trimmingSpaces.lowercased()
        // The org named by the email typed on the first page decides at once (the callback checks again).
        if !hint.isEmpty, LoginEndpoints.plausibleEmail(hint), case let (user, org?) = auth.organization(forEmail: hint) {
            let usable = user.map { AuthModeResolver.isUsable(mode, for: $0, in: org, global: auth.global) }
                ?? AuthModeResolver.allowedModes(for: org, global: auth.global).contains(mode)
            if !usable {
                endpoints.audit("login_failure", email: hint, user: user?.id, org: org.id, reason: "mode disabled: \(mode)")
                return endpoints.modeRefused(mode, org: org)
            }
        }
        let settings = Self.settings(provider, host: request.host)
        let discovered: OIDCEndpoints
        do { discovered = try endpoints.services.oidc.provider(settings, now: now).0 } catch {
            endpoints.audit("login_failure", email: hint, reason: "oidc \(name): \(error)")
            return unavailable()
        }
        let state = Base64URL.encode(SecureRandom.bytes(32))
        let nonce = Base64URL.encode(SecureRandom.bytes(32))
        let pkce = PKCE.generate()
        let sealed = Sealed.seal([name, state, nonce, pkce.verifier, request.query["rd"] ?? "", settings.redirectURI],
                                 purpose: "oidc", expiresAt: now + Self.cookieLifetime, ring: auth.ring)
        let url = AuthorizationRequest.url(endpoints: discovered, settings: settings, state: state, nonce: nonce,
                                           codeChallenge: pkce.challenge, loginHint: hint.isEmpty ? nil : hint)
        // SameSite=Lax: the issuer's redirect back is a top-level GET, which Lax cookies follow.
        return .redirect(url, status: 302, headers: [("Set-Cookie", "\(LoginEndpoints.oidcCookie)=\(sealed); Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=\(Self.cookieLifetime)")])
    }

    func callback() -> LocalResponse {
        let clear = ("Set-Cookie", "\(LoginEndpoints.oidcCookie)=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
        guard let sealed = request.cookies[LoginEndpoints.oidcCookie],
              let f = Sealed.open(sealed, purpose: "oidc", ring: auth.ring, now: now, count: 6) else {
            return failed("no sign-in in progress (missing, expired or forged oidc cookie)", message: "The sign-in expired. Please start again.", clear)
        }
        let (name, state, nonce, verifier, rd, redirectURI) = (f[0], f[1], f[2], f[3], f[4], f[5])
        // The state ties this callback to the browser that started it (no login CSRF).
        guard let got = request.query["state"], ConstantTime.equals(Array(got.utf8), Array(state.utf8)) else {
            return failed("oidc \(name): state mismatch", message: "The sign-in could not be verified. Please start again.", clear)
        }
        if let error = request.query["error"] {
            return failed("oidc \(name): issuer returned error \(error.prefix(64))", message: "The identity provider did not sign you in.", clear)
        }
        guard let code = request.query["code"], !code.isEmpty, code.utf8.count <= 2048 else {
            return failed("oidc \(name): callback without code", message: "The sign-in could not be verified. Please start again.", clear)
        }
        let mode = AuthMode.oidc(provider: name)
        guard let provider = auth.providers[name], auth.global.enabledModes.contains(mode) else {
            return failed("oidc \(name): provider no longer configured", message: "That sign-in method is not offered here.", clear)
        }
        var settings = Self.settings(provider, host: request.host)
        settings.redirectURI = redirectURI   // the exact redirect_uri of the authorization request
        let claims: IDTokenClaims
        do {
            let (discovered, jwks) = try endpoints.services.oidc.provider(settings, now: now)
            let tokens = try TokenExchange.exchange(code: code, verifier: verifier, endpoints: discovered, settings: settings)
            switch IDTokenVerifier.verify(idToken: tokens.idToken, settings: settings, jwks: jwks, nonce: nonce, now: Int64(now)) {
            case .success(let c): claims = c
            case .failure(let why):
                return failed("oidc \(name): id token rejected (\(why))", message: "The identity provider's answer could not be verified.", clear)
            }
        } catch {
            return failed("oidc \(name): \(error)", message: "The identity provider could not be reached. Try again later.", clear, status: 502)
        }
        let email = claims.email.lowercased()
        let (user, org) = auth.organization(forEmail: email)
        guard let user, let org else {
            return failed("oidc \(name): no account for verified email", email: email,
                          message: "There is no account for \(email) here. Ask an administrator to add you.", clear)
        }
        guard AuthModeResolver.isUsable(mode, for: user, in: org, global: auth.global) else {
            endpoints.audit("login_failure", email: email, user: user.id, org: org.id, reason: "mode disabled: \(mode)")
            var r = endpoints.modeRefused(mode, org: org)
            r.headers.append(clear)
            return r
        }
        if let refusal = endpoints.accountRefusal(user) {
            return failed("oidc \(name): \(refusal)", email: email, user: user.id,
                          message: "This account cannot sign in. Ask an administrator.", clear)
        }
        var r = endpoints.completeFirstFactor(user: user, org: org, mode: mode, returnTo: rd)
        r.headers.append(clear)
        return r
    }

    /// The relying-party settings for a provider; the redirect URI is on the host the user is on.
    static func settings(_ p: OIDCProvider, host: String) -> OIDCProviderSettings {
        OIDCProviderSettings(name: p.config.name, issuer: p.config.issuer, clientId: p.config.clientId, clientSecret: p.clientSecret,
                             redirectURI: "https://\(host)/.drawbridge/oidc/callback", scopes: p.config.scopes,
                             hostedDomain: p.config.hostedDomain, caFile: p.config.caFile)
    }

    private func unavailable() -> LocalResponse {
        .html(502, LoginPages.message("Sign in", "The identity provider could not be reached. Try again later."))
    }

    private func failed(_ reason: String, email: String = "", user: String? = nil, message: String,
                        _ clear: (String, String), status: Int = 401) -> LocalResponse {
        endpoints.audit("login_failure", email: email, user: user, reason: reason)
        return .html(status, LoginPages.message("Sign in", message), headers: [clear])
    }
}
