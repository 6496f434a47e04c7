import DrawbridgeCrypto
import DrawbridgeDecision
import DrawbridgeHTTP
import DrawbridgeIdentity

/// The gateway's own endpoints under `/.drawbridge/`: identifier-first sign-in, password, TOTP,
/// OIDC, sign-out and a who-am-I for API clients.
struct LoginEndpoints {
    let auth: AuthRuntime
    let services: AuthServices
    let request: LocalRequest
    /// The request's session, if it carried a valid one (for sign-out and who-am-I).
    let session: AuthResult
    let now: UInt64
    /// The public keys of the identity assertions sent to upstreams (`{"keys":[…]}`).
    var jwks = "{\"keys\":[]}"

    static let prefix = "/.drawbridge/"

    func handle() -> LocalReply {
        switch (request.method, request.path) {
        case ("GET", "/.drawbridge/login"), ("HEAD", "/.drawbridge/login"):
            return .now(identifierPage(message: nil))
        case ("POST", "/.drawbridge/login"):
            return guarded { identify() }
        case ("POST", "/.drawbridge/login/password"):
            guard csrfOK() else { return .now(csrfFailure()) }
            return passwordAttempt()
        case ("POST", "/.drawbridge/login/totp"):
            guard csrfOK() else { return .now(csrfFailure()) }
            return totpAttempt()
        case ("GET", "/.drawbridge/login/stepup"):
            return .now(stepUp())
        case ("GET", "/.drawbridge/logout"):
            return .now(.html(200, LoginPages.logout(csrf: csrfToken.value), headers: csrfToken.setCookie))
        case ("POST", "/.drawbridge/logout"):
            guard csrfOK() else { return .now(csrfFailure()) }
            return .later(.signOut) { logout() }   // waits for the disk: on a job thread
        case ("GET", "/.drawbridge/whoami"):
            return .now(whoami())
        case ("GET", "/.drawbridge/jwks.json"), ("HEAD", "/.drawbridge/jwks.json"):
            // Public keys only; cacheable for a few minutes (rotation keeps old keys listed a while).
            return .now(LocalResponse(status: 200, headers: [("Content-Type", "application/jwk-set+json"), ("Cache-Control", "public, max-age=300"),
                                                             ("X-Content-Type-Options", "nosniff")], body: Array((jwks + "\n").utf8)))
        case ("GET", "/.drawbridge/oidc/start"):
            return .later(.provider) { OIDCFlow(endpoints: self).start() }
        case ("GET", "/.drawbridge/oidc/callback"):
            return OIDCFlow(endpoints: self).callback()
        case (_, "/.drawbridge/login"), (_, "/.drawbridge/login/password"), (_, "/.drawbridge/login/totp"),
             (_, "/.drawbridge/login/stepup"), (_, "/.drawbridge/logout"), (_, "/.drawbridge/whoami"), (_, "/.drawbridge/jwks.json"), (_, "/.drawbridge/oidc/start"), (_, "/.drawbridge/oidc/callback"):
            var r = GatewayResponse.error(405, json: request.isAPIClient)
            r.headers.append(("Allow", "GET, POST"))
            return .now(r)
        default:
            return .now(GatewayResponse.error(404, json: request.isAPIClient))
        }
    }

    // MARK: CSRF

    /// The double-submit token: the cookie value, or a fresh one set with this response.
    var csrfToken: (value: String, setCookie: [(String, String)]) { Self.csrfToken(request) }

    static func csrfToken(_ request: LocalRequest) -> (value: String, setCookie: [(String, String)]) {
        if let v = request.cookies[GatewayCookies.csrfCookie], v.utf8.count == 43 { return (v, []) }
        let v = Base64URL.encode(SecureRandom.bytes(32))
        return (v, [("Set-Cookie", GatewayCookies.setCookie(GatewayCookies.csrfCookie, v, sameSite: "Strict", maxAge: nil))])
    }

    /// A form post must come from our own page: same Origin when the browser says, and the form's
    /// token equal to the cookie's (a cross-site page can neither read nor set a __Host- cookie).
    private func csrfOK() -> Bool {
        // Same origin, compared in the one host normal form (case, default port, IPv6 spelling).
        if let origin = request.origin, !origin.hasPrefix("https://") || HostName.httpsAuthority(String(origin.dropFirst(8))) != request.host {
            return false
        }
        guard let cookie = request.cookies[GatewayCookies.csrfCookie], let field = request.form["csrf"], !cookie.isEmpty else { return false }
        return ConstantTime.equals(Array(cookie.utf8), Array(field.utf8))
    }

    private func guarded(_ body: () -> LocalResponse) -> LocalReply {
        guard csrfOK() else { return .now(csrfFailure()) }
        return .now(body())
    }

    private func csrfFailure() -> LocalResponse {
        services.audit.record("login_failure", [("reason", "csrf check failed"), ("client", request.clientAddress), ("request_id", request.requestId)])
        return .html(403, LoginPages.message("Sign in", "The form expired or did not come from this site. Please start again."))
    }

    // MARK: Pages

    func identifierPage(message: String?, status: Int = 200, email: String = "") -> LocalResponse {
        let t = csrfToken
        return .html(status, LoginPages.identifier(csrf: t.value, returnTo: request.query["rd"] ?? request.form["rd"] ?? "", email: email,
                                                   message: message),
                     headers: t.setCookie)
    }

    /// Identifier first: the email's domain decides the organisation, which decides the methods
    /// shown. Only the domain: whether the account exists, and which org it belongs to, must not
    /// change the page (no enumeration); a member of another org learns its rules after proving
    /// a credential.
    private func identify() -> LocalResponse {
        let email = (request.form["email"] ?? "").trimmingSpaces.lowercased()
        guard Self.plausibleEmail(email) else { return identifierPage(message: "Enter your email address.", status: 400, email: email) }
        let org = auth.organization(forDomainOf: email)
        let rd = request.form["rd"] ?? ""
        let modes = org.map(auth.allowedModes) ?? auth.global.enabledModes.sorted { $0.description < $1.description }
        let password = modes.contains(.password)
        // A provider is offered only where it may vouch for the person (see `AuthRuntime.trusts`).
        let providers: [LoginPages.ProviderButton] = modes.compactMap {
            guard case .oidc(let name) = $0, let p = auth.providers[name],
                  org.map({ auth.trusts(provider: name, org: $0, email: email) }) ?? auth.isTrustedAnywhere(provider: name) else { return nil }
            return .init(name: name, label: p.config.displayName)
        }
        if !password && providers.isEmpty {
            return .html(403, LoginPages.message("Sign in", "Your organisation does not allow signing in here. It allows: \(inWords(modes))."))
        }
        return .html(200, LoginPages.methods(orgName: org?.displayName ?? "Drawbridge", email: email, csrf: request.form["csrf"] ?? "",
                                             returnTo: rd, password: password, providers: providers))
    }

    // MARK: Password

    /// The throttle is asked on the event loop, so a flood from one address never fills the queue.
    private func passwordAttempt() -> LocalReply {
        let email = (request.form["email"] ?? "").trimmingSpaces.lowercased()
        switch services.throttle.attempt(address: request.clientAddress, account: email, limits: auth.config.loginLimits) {
        case .addressLimited:
            audit("login_failure", email: email, reason: "rate limited (client address)")
            return .now(tooMany(nil))
        case .accountLocked(let remaining):
            audit("login_failure", email: email, reason: "account locked")
            return .now(tooMany(remaining))
        case .allowed:
            return .later(.signIn) { passwordLogin(email: email) }
        }
    }

    private func passwordLogin(email: String) -> LocalResponse {
        let password = request.form["password"] ?? ""
        let (user, org) = auth.organization(forEmail: email)
        // The password first, for everyone: an unknown email, a member without a password and a
        // member of an org that turned passwords off all cost one full hash and get the same
        // answer as a wrong password (no enumeration by status, words or time).
        let stored = user?.passwordHash
        let ok = PasswordHash.verify(password, against: stored ?? auth.dummyHash) && stored != nil
        guard ok, let user, let org, let stored else {
            let reason = user == nil ? "unknown account" : (stored == nil ? "no password set" : (org == nil ? "no organisation" : "wrong password"))
            fail(email: email, user: user?.id, reason: reason)
            return wrongPassword(email: email)
        }
        if let refusal = accountRefusal(user) {
            fail(email: email, user: user.id, reason: refusal)
            return wrongPassword(email: email)
        }
        // Only someone who knows the password learns that the org does not allow it.
        guard AuthModeResolver.isUsable(.password, for: user, in: org, global: auth.global) else {
            audit("login_failure", email: email, user: user.id, org: org.id, reason: "mode disabled: password")
            return modeRefused(.password, org: org)
        }
        if PasswordHash.needsRehash(stored) { upgradeHash(user, stored: stored, password: password) }
        return completeFirstFactor(user: user, org: org, mode: .password)
    }

    /// A hash weaker than the current scheme is replaced at this successful sign-in.
    private func upgradeHash(_ user: User, stored: String, password: String) {
        do {
            if try UserFileUpdates.upgradeHash(auth, userId: user.id, old: stored, password: password) {
                services.audit.record("password_rehashed", [("user", user.id), ("email", user.email), ("request_id", request.requestId)])
            }
        } catch {
            // Not fatal: the old hash still verifies; the next sign-in tries again.
            services.audit.record("password_rehash_failed", [("user", user.id), ("reason", "\(error)"), ("request_id", request.requestId)])
        }
    }

    /// After the first factor: the second one when the org requires it or the user enrolled it,
    /// else the session. The failure count is reset only when the whole sign-in succeeds.
    func completeFirstFactor(user: User, org: Organization, mode: AuthMode, returnTo rd: String? = nil) -> LocalResponse {
        let rd = rd ?? returnTo()
        let hasTOTP = auth.totpSecrets[user.id] != nil
        if org.mfaRequired || hasTOTP {
            guard hasTOTP else {
                audit("login_failure", email: user.email, user: user.id, org: org.id, reason: "mfa required, no second factor enrolled")
                return .html(403, LoginPages.message("Sign in", "Your organisation requires two-step verification, and none is set up for your account. Ask an administrator to enrol one (drawbridge totp enroll)."))
            }
            return secondFactorPage(user: user, orgId: org.id, mode: mode, returnTo: rd)
        }
        services.throttle.succeeded(account: user.email)
        return issueSession(user: user, org: org, mode: mode, mfa: false, returnTo: rd)
    }

    /// The TOTP form and the pending step, sealed with the user's session epoch: a password
    /// change, disable or logout-all in between ends the pending step too.
    private func secondFactorPage(user: User, orgId: String, mode: AuthMode, returnTo rd: String) -> LocalResponse {
        let pending = Sealed.seal([user.id, orgId, mode.description, user.email, rd, String(user.sessionEpoch)], purpose: .mfa,
                                  expiresAt: now + 300, ring: auth.ring)
        let t = csrfToken
        return .html(200, LoginPages.totp(csrf: t.value),
                     headers: t.setCookie + [("Set-Cookie", GatewayCookies.setCookie(GatewayCookies.mfaCookie, pending, sameSite: "Strict", maxAge: 300))])
    }

    /// Step-up: a signed-in user without a second factor on this session reached a route that
    /// requires MFA. The TOTP step runs for the session's user and issues a new session with MFA.
    private func stepUp() -> LocalResponse {
        guard case .user(let identity, _) = session, let user = auth.directory.user(id: identity.userId) else {
            return .redirect("/.drawbridge/login?rd=\(Forms.percentEncode(returnTo()))", status: 302)
        }
        guard auth.totpSecrets[user.id] != nil else {
            audit("login_failure", email: user.email, user: user.id, org: identity.orgId, reason: "step-up: no second factor enrolled")
            return .html(403, LoginPages.message("Two-step verification", "This page requires two-step verification, and none is set up for your account. Ask an administrator to enrol one (drawbridge totp enroll)."))
        }
        return secondFactorPage(user: user, orgId: identity.orgId, mode: identity.authMode, returnTo: returnTo())
    }

    private static let expiredStep = LocalResponse.html(401, LoginPages.message("Two-step verification", "The sign-in step expired. Please sign in again."))

    private func totpAttempt() -> LocalReply {
        guard let sealed = request.cookies[GatewayCookies.mfaCookie],
              let f = Sealed.open(sealed, purpose: .mfa, ring: auth.ring, now: now, count: 6) else { return .now(Self.expiredStep) }
        switch services.throttle.attempt(address: request.clientAddress, account: f[3], limits: auth.config.loginLimits) {
        case .addressLimited, .accountLocked:
            audit("login_failure", email: f[3], user: f[0], reason: "totp: rate limited or locked")
            return .now(tooMany(nil))
        case .allowed:
            return .later(.signIn) { totpStep(f) }
        }
    }

    private func totpStep(_ f: [String]) -> LocalResponse {
        let (userId, orgId, modeText, email, rd, epoch) = (f[0], f[1], f[2], f[3], f[4], f[5])
        guard let user = auth.directory.user(id: userId), let org = auth.directory.organization(id: orgId),
              let mode = auth.global.enabledModes.first(where: { $0.description == modeText }),
              let secret = auth.totpSecrets[user.id] else { return Self.expiredStep }
        // Sealed with the epoch of the first factor: a password change (or disable, logout-all)
        // since then ends the pending step as it ends sessions.
        guard epoch == String(user.sessionEpoch) else {
            audit("login_failure", email: email, user: user.id, org: org.id, reason: "totp: pending step from before a session epoch change")
            return Self.expiredStep
        }
        let code = (request.form["code"] ?? "").trimmingSpaces
        // ±1 step of clock drift; each step once per user, also across restarts (the last one is in the users file).
        guard let counter = TOTP.matchingCounter(code, secret: secret, time: now),
              user.totpLastStep.map({ counter > $0 }) ?? true else {
            return wrongCode(email: email, user: user.id)
        }
        do {
            try UserFileUpdates.acceptTOTP(auth, userId: user.id, step: counter)
        } catch let refused as UserFileUpdates.Refused {
            _ = refused
            return wrongCode(email: email, user: user.id)
        } catch {
            // Not recorded, not accepted: otherwise the code could be replayed after a restart.
            audit("login_failure", email: email, user: user.id, org: org.id, reason: "totp step could not be saved: \(error)")
            return LocalReply.busy
        }
        if let refusal = accountRefusal(user) {
            fail(email: email, user: user.id, reason: refusal)
            return identifierPage(message: "Wrong email or password.", status: 401)
        }
        guard AuthModeResolver.isUsable(mode, for: user, in: org, global: auth.global) else {
            return modeRefused(mode, org: org)
        }
        services.throttle.succeeded(account: email)
        // A step-up replaces the session it started from (its id must not outlive the upgrade).
        // Not saved (a full disk): it applies in memory, is logged, and is saved by a later retry.
        if case .user(let old, _) = session, old.userId == user.id {
            try? services.revoke(.session(old.sessionId, expiresAt: old.expiresAt))
        }
        return issueSession(user: user, org: org, mode: mode, mfa: true, returnTo: rd,
                            extraCookies: [("Set-Cookie", GatewayCookies.setCookie(GatewayCookies.mfaCookie, "", sameSite: "Strict", maxAge: 0))])
    }

    private func wrongCode(email: String, user: String) -> LocalResponse {
        fail(email: email, user: user, reason: "wrong or reused totp code")
        let t = csrfToken
        return .html(401, LoginPages.totp(csrf: t.value, message: "That code is not valid. Try the next one."), headers: t.setCookie)
    }

    // MARK: Session issue and sign-out

    /// A fresh session id on every sign-in (no fixation), the cookie, and back to where the user was going.
    func issueSession(user: User, org: Organization, mode: AuthMode, mfa: Bool, returnTo rd: String? = nil,
                      extraCookies: [(String, String)] = []) -> LocalResponse {
        let claims = SessionClaims.issue(user: user, org: org, mode: mode, mfa: mfa, global: auth.global, now: now)
        guard let token = try? SessionToken.seal(claims, with: auth.ring) else {
            return .html(500, LoginPages.message("Sign in", "The session could not be created."))
        }
        services.audit.record("login_success", [("user", user.id), ("email", user.email), ("org", org.id), ("mode", mode.description),
                                                ("mfa", mfa ? "true" : "false"), ("session", claims.sessionId.text),
                                                ("client", request.clientAddress), ("request_id", request.requestId)])
        let cookie = GatewayCookies.sessionSetCookie(token, maxAge: claims.expiresAt - now)
        return .redirect(ReturnAddress.resolve(rd ?? returnTo(), requestHost: request.host, allowed: auth.config.returnHosts,
                                               ring: auth.ring, now: now),
                         headers: extraCookies + [("Set-Cookie", cookie)])
    }

    /// Acknowledged only once the sign-out is durable. When it cannot be made so (a full disk) it
    /// applies in memory all the same, and the user is asked to try again: a retry saves every
    /// sign-out still pending, even though the session it came from is already refused. With `rd`
    /// (the sealed address of a refused page: "sign in as someone else" on the 403 page), on to
    /// the sign-in page carrying it.
    private func logout() -> LocalResponse {
        let clear = ("Set-Cookie", GatewayCookies.sessionSetCookie("", maxAge: 0))
        var fields: [(String, String?)] = []
        do {
            if case .user(let identity, _) = session {
                let all = request.form["all"] == "1"
                fields = [("user", identity.userId), ("org", identity.orgId), ("session", identity.sessionId.text),
                          ("scope", all ? "all sessions" : "this session")]
                // Until the token's own expiry, whatever the org's timeout is now or becomes.
                try services.revoke(all ? .allOfUser(identity.userId, issuedAtOrBefore: now)
                                        : .session(identity.sessionId, expiresAt: identity.expiresAt))
            } else {
                try services.savePendingRevocations()
            }
        } catch {
            services.audit.record("logout", fields + [("saved", "no"), ("reason", error.description), ("client", request.clientAddress),
                                                      ("request_id", request.requestId)])
            var r = LocalResponse.html(503, LoginPages.message("Sign out", "Sign-out not saved, try again.", link: ("/.drawbridge/logout", "Try again")))
            r.headers.append(("Retry-After", "5"))
            return r
        }
        if !fields.isEmpty {
            services.audit.record("logout", fields + [("client", request.clientAddress), ("request_id", request.requestId)])
        }
        if let rd = request.form["rd"], !rd.isEmpty {
            return .redirect("/.drawbridge/login?rd=\(Forms.percentEncode(rd))", headers: [clear])
        }
        return .html(200, LoginPages.message("Signed out", "You are signed out.", requestId: false), headers: [clear])
    }

    private func whoami() -> LocalResponse {
        switch session {
        case .user(let i, _):
            let roles = i.roles.map(JSONString.quote).joined(separator: ",")
            return .json(200, "{\"user\":\(JSONString.quote(i.userId)),\"email\":\(JSONString.quote(i.email)),\"org\":\(JSONString.quote(i.orgId)),\"roles\":[\(roles)],\"mode\":\(JSONString.quote(i.authMode.description)),\"mfa\":\(i.mfa)}")
        case .apiKey(let k):
            let roles = k.roles.map(JSONString.quote).joined(separator: ",")
            return .json(200, "{\"apiKey\":\(JSONString.quote(k.keyId)),\"org\":\(JSONString.quote(k.orgId)),\"roles\":[\(roles)],\"mode\":\"api_key\"}")
        case .missing, .rejected:
            return Unauthenticated.json
        }
    }

    // MARK: Helpers

    /// The sealed return address carried through the forms (opened only at the end).
    func returnTo() -> String { request.form["rd"] ?? request.query["rd"] ?? "" }

    /// Why an account that proved its credential still may not sign in (audit only).
    func accountRefusal(_ user: User) -> String? {
        if user.status != .active { return "user disabled" }
        if let end = user.expiresAt, now >= end { return "user expired" }
        return nil
    }

    /// The mode in words, as the page says it ("Password", "API key", the provider's display name);
    /// ids such as `api_key` stay in the configuration and the audit log.
    func inWords(_ mode: AuthMode) -> String {
        switch mode {
        case .password: return "Password"
        case .apiKey: return "API key"
        case .oidc(let name): return auth.providers[name]?.config.displayName ?? name
        }
    }

    func inWords(_ modes: [AuthMode]) -> String {
        modes.isEmpty ? "nothing" : modes.map(inWords).joined(separator: ", ")
    }

    /// "Password sign-in is turned off for Acme. Acme allows: Google, API key."
    func modeRefused(_ mode: AuthMode, org: Organization) -> LocalResponse {
        .html(403, LoginPages.message("Sign in", "\(inWords(mode)) sign-in is turned off for \(org.displayName). \(org.displayName) allows: \(inWords(auth.allowedModes(org)))."))
    }

    /// The password step again, the email kept (shown and carried), the password empty. The same
    /// page for every account (no organisation named, no other methods): nothing but the typed
    /// email differs between an unknown account and a wrong password.
    private func wrongPassword(email: String) -> LocalResponse {
        let t = csrfToken
        return .html(401, LoginPages.methods(orgName: nil, email: email, csrf: t.value, returnTo: returnTo(), password: true, providers: [],
                                             message: "Wrong email or password."), headers: t.setCookie)
    }

    func tooMany(_ remaining: Double?) -> LocalResponse {
        var r = LocalResponse.html(429, LoginPages.message("Sign in", "Too many attempts. Wait a minute and try again."))
        let seconds = remaining.map { Int($0.rounded(.up)) } ?? Int(auth.config.loginLimits.windowSeconds)
        r.headers.append(("Retry-After", String(max(1, seconds))))
        return r
    }

    private func fail(email: String, user: String?, reason: String) {
        audit("login_failure", email: email, user: user, reason: reason)
        if let seconds = services.throttle.failed(account: email, limits: auth.config.loginLimits) {
            audit("lockout", email: email, user: user, reason: "locked for \(Int(seconds))s after repeated failures")
        }
    }

    func audit(_ event: String, email: String, user: String? = nil, org: String? = nil, reason: String) {
        services.audit.record(event, [("email", email), ("user", user), ("org", org), ("reason", reason),
                                      ("client", request.clientAddress), ("request_id", request.requestId)])
    }

    static func plausibleEmail(_ e: String) -> Bool {
        let parts = e.split(separator: "@", omittingEmptySubsequences: false)
        return e.utf8.count <= 254 && parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".")
            && !e.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F })
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}

/// The answers to a request without a usable credential.
enum Unauthenticated {
    static let json = LocalResponse.jsonError(401, "unauthenticated", message: "a valid session or API key is required",
                                              headers: [("WWW-Authenticate", "Bearer realm=\"drawbridge\"")])
}

/// 403 for an authenticated caller the policy does not allow (the reason goes to the audit log only).
enum Forbidden {
    static func text(stepUp: Bool) -> String {
        stepUp ? "this resource requires two-step verification (sign in with a second factor)" : "you are not allowed to access this resource"
    }

    private static let documents = [false, true].map { LocalResponse.jsonError(403, "forbidden", message: text(stepUp: $0)) }

    /// For an API client.
    static func json(stepUp: Bool) -> LocalResponse { documents[stepUp ? 1 : 0] }

    /// For a browser: who is signed in, the request id, sign-out and sign in as someone else
    /// (`returnTo`: the sealed address of the refused page; `LoginPages.forbidden`).
    static func page(stepUp: Bool, signedInAs who: String?, request: LocalRequest, returnTo: String) -> LocalResponse {
        let text = Self.text(stepUp: stepUp)
        let csrf = LoginEndpoints.csrfToken(request)
        return .html(403, LoginPages.forbidden(text.prefix(1).uppercased() + text.dropFirst() + ".", signedInAs: who, csrf: csrf.value,
                                               returnTo: returnTo), headers: csrf.setCookie)
    }
}
