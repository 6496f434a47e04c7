import DrawbridgeCrypto
import DrawbridgeDecision
import DrawbridgeIdentity
import DrawbridgeOIDC
import DrawbridgeStore
import Glibc

/// What the job threads remember about each OIDC provider between sign-ins: its discovered
/// endpoints with a fresh JWKS cache per discovery (the keys never outlive a rediscovery of the
/// issuer), and a failed discovery for a few seconds (a provider that is down is not asked again
/// by every sign-in, each waiting for the network timeout). Keyed by provider name and issuer, so
/// a reload that changes the issuer starts afresh. Locked: several job threads share it.
final class OIDCState: @unchecked Sendable {
    private struct Entry {
        let issuer: String
        let endpoints: OIDCEndpoints
        let jwks: JWKSCache
        let expiresAt: Int64
    }
    private var entries: [String: Entry] = [:]
    private var failures: [String: (issuer: String, error: OIDCError, until: Int64)] = [:]
    private var lock = pthread_mutex_t()
    /// Discovery documents are refetched after their Cache-Control max-age, at most this long.
    static let discoveryLifetime: Int64 = 3600
    /// A failed discovery is repeated (without asking the provider) for this long.
    static let failureLifetime: Int64 = 10

    init() { pthread_mutex_init(&lock, nil) }

    /// The endpoints and key cache for `settings`, discovering them when unknown or stale.
    /// Runs on a job thread (it may block on the network); the lock is not held while fetching.
    func provider(_ settings: OIDCProviderSettings) throws(OIDCError) -> (OIDCEndpoints, JWKSCache) {
        let now = JWKSCache.monotonicSeconds()
        pthread_mutex_lock(&lock)
        let cached = entries[settings.name], failed = failures[settings.name]
        pthread_mutex_unlock(&lock)
        if let e = cached, e.issuer == settings.issuer, now < e.expiresAt { return (e.endpoints, e.jwks) }
        if let f = failed, f.issuer == settings.issuer, now < f.until { throw f.error }
        let discovered: (endpoints: OIDCEndpoints, maxAge: Int64?)
        do { discovered = try OIDCDiscovery.fetchWithLifetime(settings: settings) } catch {
            pthread_mutex_lock(&lock)
            failures[settings.name] = (settings.issuer, error, now + Self.failureLifetime)
            pthread_mutex_unlock(&lock)
            throw error
        }
        let lifetime = min(max(discovered.maxAge ?? Self.discoveryLifetime, 0), Self.discoveryLifetime)
        // A new key cache with every discovery: keys learnt under the old document do not carry over.
        let entry = Entry(issuer: settings.issuer, endpoints: discovered.endpoints,
                          jwks: JWKSCache(jwksURI: discovered.endpoints.jwksURI, settings: settings), expiresAt: now + lifetime)
        pthread_mutex_lock(&lock)
        entries[settings.name] = entry
        failures[settings.name] = nil
        pthread_mutex_unlock(&lock)
        return (entry.endpoints, entry.jwks)
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
        // The org owning the typed email's domain decides at once (the callback checks the member
        // again); by domain only, so the answer does not depend on whether the account exists.
        if !hint.isEmpty, LoginEndpoints.plausibleEmail(hint), let org = auth.organization(forDomainOf: hint),
           !AuthModeResolver.allowedModes(for: org, global: auth.global).contains(mode) {
            endpoints.audit("login_failure", email: hint, org: org.id, reason: "mode disabled: \(mode)")
            return endpoints.modeRefused(mode, org: org)
        }
        let settings = Self.settings(provider, host: request.host)
        let discovered: OIDCEndpoints
        do { discovered = try endpoints.services.oidc.provider(settings).0 } catch {
            endpoints.audit("login_failure", email: hint, reason: "oidc \(name): \(error)")
            return unavailable()
        }
        let state = Base64URL.encode(SecureRandom.bytes(32))
        let nonce = Base64URL.encode(SecureRandom.bytes(32))
        let pkce = PKCE.generate()
        let sealed = Sealed.seal([name, state, nonce, pkce.verifier, request.query["rd"] ?? "", settings.redirectURI],
                                 purpose: .oidc, expiresAt: now + Self.cookieLifetime, ring: auth.ring)
        let url = AuthorizationRequest.url(endpoints: discovered, settings: settings, state: state, nonce: nonce,
                                           codeChallenge: pkce.challenge, loginHint: hint.isEmpty ? nil : hint)
        // SameSite=Lax: the issuer's redirect back is a top-level GET, which Lax cookies follow.
        return .redirect(url, status: 302, headers: [("Set-Cookie", GatewayCookies.setCookie(GatewayCookies.oidcCookie, sealed, sameSite: "Lax", maxAge: Self.cookieLifetime))])
    }

    /// Everything that needs no provider runs here, on the event loop: the sealed cookie, the
    /// state, single use, the per-address limit. Only a callback that passes them costs a job
    /// (and a call to the token endpoint with the client secret).
    func callback() -> LocalReply {
        let clear = ("Set-Cookie", GatewayCookies.setCookie(GatewayCookies.oidcCookie, "", sameSite: "Lax", maxAge: 0))
        switch endpoints.services.throttle.attempt(address: request.clientAddress, account: nil, limits: auth.config.loginLimits) {
        case .allowed: break
        case .addressLimited, .accountLocked:
            endpoints.audit("login_failure", email: "", reason: "oidc callback: rate limited (client address)")
            var r = endpoints.tooMany(nil)
            r.headers.append(clear)
            return .now(r)
        }
        guard let sealed = request.cookies[GatewayCookies.oidcCookie],
              let f = Sealed.open(sealed, purpose: .oidc, ring: auth.ring, now: now, count: 6) else {
            return .now(failed("no sign-in in progress (missing, expired or forged oidc cookie)", message: "The sign-in expired. Please start again.", clear))
        }
        let (name, state, nonce, verifier, rd, redirectURI) = (f[0], f[1], f[2], f[3], f[4], f[5])
        // The state ties this callback to the browser that started it (no login CSRF).
        guard let got = request.query["state"], ConstantTime.equals(Array(got.utf8), Array(state.utf8)) else {
            return .now(failed("oidc \(name): state mismatch", provider: name, message: "The sign-in could not be verified. Please start again.", clear))
        }
        // Single use: a replayed state (same cookie, any code) never reaches the token endpoint.
        guard endpoints.services.usedStates.consume(state, expiresAt: now + Self.cookieLifetime, now: now) else {
            return .now(failed("oidc \(name): state already used (replayed callback)", provider: name,
                               message: "The sign-in could not be verified. Please start again.", clear))
        }
        if let error = request.query["error"] {
            return .now(failed("oidc \(name): issuer returned error \(error.prefix(64))", provider: name, message: "The identity provider did not sign you in.", clear))
        }
        guard let code = request.query["code"], !code.isEmpty, code.utf8.count <= 2048 else {
            return .now(failed("oidc \(name): callback without code", provider: name, message: "The sign-in could not be verified. Please start again.", clear))
        }
        return .later(.provider) { exchange(name: name, code: code, nonce: nonce, verifier: verifier, rd: rd, redirectURI: redirectURI, clear: clear) }
    }

    private func exchange(name: String, code: String, nonce: String, verifier: String, rd: String, redirectURI: String,
                          clear: (String, String)) -> LocalResponse {
        let mode = AuthMode.oidc(provider: name)
        guard let provider = auth.providers[name], auth.global.enabledModes.contains(mode) else {
            return failed("oidc \(name): provider no longer configured", provider: name, message: "That sign-in method is not offered here.", clear)
        }
        var settings = Self.settings(provider, host: request.host)
        settings.redirectURI = redirectURI   // the exact redirect_uri of the authorization request
        let claims: IDTokenClaims
        do {
            let (discovered, jwks) = try endpoints.services.oidc.provider(settings)
            let tokens = try TokenExchange.exchange(code: code, verifier: verifier, endpoints: discovered, settings: settings)
            switch IDTokenVerifier.verify(idToken: tokens.idToken, settings: settings, jwks: jwks, nonce: nonce, now: Int64(now)) {
            case .success(let c): claims = c
            case .failure(let why):
                return failed("oidc \(name): id token rejected (\(why))", provider: name, message: "The identity provider's answer could not be verified.", clear)
            }
        } catch {
            return failed("oidc \(name): \(error)", provider: name, message: "The identity provider could not be reached. Try again later.", clear, status: 502)
        }
        let issuer = provider.config.issuer
        let user: User
        switch member(for: claims, provider: name, issuer: issuer) {
        case .success(let u): user = u
        case .failure(let refusal):
            return failed("oidc \(name): \(refusal.reason)", email: claims.email.lowercased(), user: refusal.user, provider: name,
                          message: refusal.message, clear, status: refusal.status)
        }
        guard let org = auth.organization(forUser: user) else {
            return failed("oidc \(name): member of no configured organisation", email: user.email, user: user.id, provider: name,
                          message: "This account cannot sign in. Ask an administrator.", clear)
        }
        guard AuthModeResolver.isUsable(mode, for: user, in: org, global: auth.global) else {
            endpoints.audit("login_failure", email: user.email, user: user.id, org: org.id, reason: "mode disabled: \(mode)")
            var r = endpoints.modeRefused(mode, org: org)
            r.headers.append(clear)
            return r
        }
        if let refusal = endpoints.accountRefusal(user) {
            return failed("oidc \(name): \(refusal)", email: user.email, user: user.id, provider: name,
                          message: "This account cannot sign in. Ask an administrator.", clear)
        }
        var r = endpoints.completeFirstFactor(user: user, org: org, mode: mode, returnTo: rd)
        r.headers.append(clear)
        return r
    }

    struct Refusal: Error {
        let reason: String
        var user: String? = nil
        var message = "This identity provider cannot sign you in here. Ask an administrator."
        var status = 403
    }

    /// The member an ID token signs in as. OIDC Core §5.7: only (issuer, subject) identifies an
    /// account; the email is used once, to make the first link, and only when the provider is
    /// trusted for the member's organisation (or email domain) and the email is verified (the
    /// verifier requires it). After that a changed email at the provider does not move the link.
    private func member(for claims: IDTokenClaims, provider name: String, issuer: String) -> Result<User, Refusal> {
        // Linked already: in the snapshot, or on disk since it was read.
        var linked = auth.directory.user(issuer: issuer, subject: claims.subject)
        if linked == nil {
            do {
                if let id = try UserFileUpdates.linkedUserId(auth, issuer: issuer, subject: claims.subject) {
                    guard let u = auth.directory.user(id: id) else {
                        return .failure(Refusal(reason: "linked member \(id) not in the loaded configuration (reload pending)", user: id))
                    }
                    linked = u
                }
            } catch {
                return .failure(Refusal(reason: "users file unreadable: \(error)", message: "The sign-in could not be completed. Try again later.", status: 503))
            }
        }
        if let user = linked {
            // The link stands only while the provider is still trusted for the member.
            guard let org = auth.organization(forUser: user), auth.trusts(provider: name, org: org, email: user.email) else {
                return .failure(Refusal(reason: "provider not trusted for the member's organisation", user: user.id))
            }
            return .success(user)
        }
        // First sign-in of this provider account: link it by its verified email, if trusted.
        let email = claims.email.lowercased()
        guard let user = auth.directory.user(email: email) else {
            return .failure(Refusal(reason: "no account for verified email",
                                    message: "There is no account for \(email) here. Ask an administrator to add you.", status: 401))
        }
        guard let org = auth.organization(forUser: user) else {
            return .failure(Refusal(reason: "member of no configured organisation", user: user.id))
        }
        guard auth.trusts(provider: name, org: org, email: email) else {
            return .failure(Refusal(reason: "provider not trusted for organisation \(org.id) (first link refused)", user: user.id))
        }
        if user.link(issuer: issuer) != nil {
            return .failure(Refusal(reason: "member already linked to another account of this provider", user: user.id))
        }
        guard AuthModeResolver.isUsable(.oidc(provider: name), for: user, in: org, global: auth.global),
              endpoints.accountRefusal(user) == nil else {
            return .success(user)   // refused next (mode rule, account state), without a link
        }
        do {
            try UserFileUpdates.link(auth, userId: user.id, issuer: issuer, subject: claims.subject, now: now)
        } catch let r as UserFileUpdates.Refused {
            return .failure(Refusal(reason: r.reason, user: user.id))
        } catch {
            return .failure(Refusal(reason: "link could not be saved: \(error)", user: user.id,
                                    message: "The sign-in could not be completed. Try again later.", status: 503))
        }
        endpoints.services.audit.record("oidc_linked", [("user", user.id), ("email", user.email), ("org", org.id), ("provider", name),
                                                        ("issuer", issuer), ("subject", claims.subject),
                                                        ("client", request.clientAddress), ("request_id", request.requestId)])
        return .success(user)
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

    private func failed(_ reason: String, email: String = "", user: String? = nil, provider: String? = nil, message: String,
                        _ clear: (String, String), status: Int = 401) -> LocalResponse {
        endpoints.services.audit.record("login_failure", [("email", email), ("user", user), ("provider", provider), ("reason", reason),
                                                          ("client", request.clientAddress), ("request_id", request.requestId)])
        return .html(status, LoginPages.message("Sign in", message), headers: [clear])
    }
}
