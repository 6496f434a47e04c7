import DrawbridgeHTTP
import Glibc
import DrawbridgeIdentity

/// Who the request is from, once a credential checked out.
public enum RequestIdentity {
    case user(AuthenticatedSession)
    case apiKey(AuthenticatedAPIKey)
}

/// The outcome of looking at a request's credentials.
public enum AuthResult {
    /// `renewal`: the Set-Cookie value of a re-sealed session cookie (sliding idle window), or nil.
    case user(AuthenticatedSession, renewal: String?)
    case apiKey(AuthenticatedAPIKey)
    case missing
    /// A credential was presented and refused; `reason` is for the audit log only (the client
    /// learns nothing about which check failed). `subject` names the key id or user when known.
    case rejected(reason: String, kind: String, subject: String)
}

/// Finds and checks the credential of a request: the API key in `Authorization: Bearer db_…`,
/// or the session cookie `__Host-drawbridge` (found by `GatewayCookies`, which has already refused
/// a request carrying it twice). Runs for every request to a protected route.
public enum Authenticator {
    /// The request's head and session cookie (`request.cookies`), read in place (nothing copied).
    public static func authenticate(_ request: RequestView, auth: AuthRuntime, revocations: Revocations, now: UInt64) -> AuthResult {
        request.head.bytes.withUnsafeBytes { raw in
            request.head.fields.withUnsafeBufferPointer { fields in
                authenticate(raw, fields: fields, sessionCookie: request.cookies.session, auth: auth, revocations: revocations, now: now)
            }
        }
    }

    /// `raw`: the head's bytes, which `fields` and `cookie` index.
    public static func authenticate(_ raw: UnsafeRawBufferPointer, fields: UnsafeBufferPointer<HeaderField>, sessionCookie cookie: Range<Int>?,
                             auth: AuthRuntime, revocations: Revocations, now: UInt64) -> AuthResult {
        var bearer: Range<Int>? = nil
        var authorizationCount = 0
        for f in fields where f.kind == .other && f.name.count == 13 {
            if ASCII.equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: raw[f.name]), "authorization") {
                authorizationCount += 1
                bearer = bearerToken(raw, f.value)
            }
        }
        // Two credentials of one kind: which one counts would depend on the parser (smuggling).
        if authorizationCount > 1 { return .rejected(reason: "several Authorization fields", kind: "credential", subject: "") }
        if let bearer {
            let token = UnsafeRawBufferPointer(rebasing: raw[bearer])
            // A key verified before under this snapshot: every input of the checks below is the same.
            if let cached = revocations.verifiedKeys.lookup(token, auth: auth) { return .apiKey(cached) }
            let presented = String(decoding: token, as: UTF8.self)
            switch APIKey.verify(presented, directory: auth.directory, global: auth.global) {
            case .success(let key):
                // Minted before its mode was last switched off for the org: switching it on again restores nothing.
                if let cut = auth.cutoffs.cutoff(org: key.orgId, mode: .apiKey),
                   let record = auth.directory.apiKey(id: key.keyId), record.createdAt <= cut {
                    return .rejected(reason: "api key: created before api_key was last disabled for \(key.orgId)", kind: "api_key", subject: key.keyId)
                }
                let verified = AuthenticatedAPIKey(key)
                revocations.verifiedKeys.insert(token, verified, auth: auth)
                return .apiKey(verified)
            case .failure(let why):
                let keyId = APIKey.parse(presented)?.keyId ?? ""
                return .rejected(reason: "api key: \(why)", kind: "api_key", subject: keyId)
            }
        }
        guard let cookie else { return .missing }
        return session(UnsafeRawBufferPointer(rebasing: raw[cookie]), auth: auth, revocations: revocations, now: now)
    }

    /// The session cookie's value: opened (or found among this worker's recently opened cookies,
    /// see `SessionCache`) and then judged by every rule, on every request.
    static func session(_ cookie: UnsafeRawBufferPointer, auth: AuthRuntime, revocations: Revocations, now: UInt64) -> AuthResult {
        let cache = revocations.openedSessions
        if let e = cache.lookup(cookie, auth: auth) {
            // The same refusal SessionToken.open gives an expired token.
            guard now < e.times.expiresAt else {
                return .rejected(reason: "session: \(SessionRejection.expired)", kind: "session", subject: "")
            }
            if let refusal = judge(e, revocations: revocations, now: now) { return refusal }
            return .user(e.session!, renewal: renewal(e, auth: auth, now: now))
        }
        let claims: SessionClaims
        switch cache.opener.open(cookie, with: auth.ring, now: now) {
        case .success(let c): claims = c
        case .failure(let why): return .rejected(reason: "session: \(why)", kind: "session", subject: "")
        }
        let standing = SessionValidator.resolve(claims, directory: auth.directory, global: auth.global)
        let cutoff = auth.cutoffs.cutoff(org: claims.orgId, mode: claims.authMode)
        // Judged exactly like a cached entry; only one that stands gets its identity and a slot.
        let opened = SessionCache.Entry(cookie: [], claims: claims, standing: standing, cutoff: cutoff, session: nil)
        if let refusal = judge(opened, revocations: revocations, now: now) { return refusal }
        // judge passed, so the user and org exist in this snapshot.
        guard let user = auth.directory.user(id: claims.userId), let org = auth.directory.organization(id: claims.orgId) else {
            return .rejected(reason: "session: \(SessionInvalidation.unknownUser)", kind: "session", subject: claims.userId)
        }
        let session = AuthenticatedSession(SessionValidator.identity(claims, user: user, org: org, timeouts: standing.timeouts),
                                           expiresAt: claims.expiresAt)
        cache.insert(SessionCache.Entry(cookie: Array(cookie), claims: claims, standing: standing, cutoff: cutoff, session: session), auth: auth)
        return .user(session, renewal: renewal(opened, auth: auth, now: now))
    }

    /// Every rule, in one order for opened and cached cookies: sign-out, then the directory and
    /// time rules (`SessionValidator.check`), then the mode cut-off. nil: the session stands.
    /// Reads the entry's plain values; the claims' strings are touched only to word a refusal.
    @inline(__always)
    private static func judge(_ e: SessionCache.Entry, revocations: Revocations, now: UInt64) -> AuthResult? {
        if revocations.isRevoked(e) { return refusal(e, .revoked) }
        let verdict = SessionValidator.check(e.times, e.standing, now: now)
        if verdict != .stands { return refusal(e, verdict) }
        // Minted before its mode was last switched off for the org: switching it on again restores nothing.
        if let cut = e.cutoff, e.times.issuedAt <= cut { return refusal(e, .cutoff) }
        return nil
    }

    private enum Refusal { case revoked, cutoff }

    @inline(never)
    private static func refusal(_ e: SessionCache.Entry, _ verdict: SessionCheck) -> AuthResult {
        let why = verdict.invalidation(mode: e.claims.authMode).map { "\($0)" } ?? "refused"
        return .rejected(reason: "session: \(why)", kind: "session", subject: e.claims.userId)
    }

    @inline(never)
    private static func refusal(_ e: SessionCache.Entry, _ r: Refusal) -> AuthResult {
        switch r {
        case .revoked:
            return .rejected(reason: "session: revoked (signed out)", kind: "session", subject: e.claims.userId)
        case .cutoff:
            return .rejected(reason: "session: issued before \(e.claims.authMode) was last disabled for \(e.claims.orgId)",
                             kind: "session", subject: e.claims.userId)
        }
    }

    /// Sliding renewal: a re-sealed cookie once more than half the idle window has passed.
    @inline(__always)
    private static func renewal(_ e: SessionCache.Entry, auth: AuthRuntime, now: UInt64) -> String? {
        guard SessionValidator.needsRenewal(e.times, idleTimeoutSeconds: e.standing.timeouts.idleSeconds, now: now) else { return nil }
        return reseal(e, auth: auth, now: now)
    }

    @inline(never)
    private static func reseal(_ e: SessionCache.Entry, auth: AuthRuntime, now: UInt64) -> String? {
        // The whole Set-Cookie value: renewal keeps the attributes of issue (Max-Age: the absolute end, unmoved).
        guard let token = try? SessionToken.seal(e.claims.renewed(now: now), with: auth.ring) else { return nil }
        return GatewayCookies.sessionSetCookie(token, maxAge: e.claims.expiresAt - now)
    }

    /// `Bearer <token>` (scheme case-insensitive) with a token in Drawbridge's API key shape; other
    /// schemes are not the gateway's and are left to the upstream.
    public static func bearerToken(_ raw: UnsafeRawBufferPointer, _ value: Range<Int>) -> Range<Int>? {
        guard value.count > 7, ASCII.equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: raw[value.lowerBound..<value.lowerBound + 7]), "bearer ")
        else { return nil }
        var start = value.lowerBound + 7
        while start < value.upperBound && raw[start] == 0x20 { start += 1 }
        guard value.upperBound - start >= 3, raw[start] == UInt8(ascii: "d"), raw[start + 1] == UInt8(ascii: "b"),
              raw[start + 2] == UInt8(ascii: "_") else { return nil }
        return start..<value.upperBound
    }
}

/// What `Authenticator` reads besides the snapshot: the sign-out list every worker shares (the
/// set published last, see `PublishedRevocations`; read without a lock) and this worker's
/// opened session cookies.
public struct Revocations {
    /// This worker's opened session cookies. Revocations are still checked on every cache hit.
    let openedSessions: SessionCache
    /// This worker's verified API keys (valid for their snapshot: key revocation is a reload).
    let verifiedKeys: APIKeyCache
    /// Held strongly by the worker for as long as this value lives (one request's check).
    unowned(unsafe) let set: RevocationSet

    public init(openedSessions: SessionCache = SessionCache(), verifiedKeys: APIKeyCache = APIKeyCache(), set: RevocationSet = .empty) {
        self.openedSessions = openedSessions
        self.verifiedKeys = verifiedKeys
        self.set = set
    }

    /// Runs on every request with a session: nothing is looked up (or copied) while no session
    /// has been signed out.
    @inline(__always) func isRevoked(_ e: SessionCache.Entry) -> Bool {
        if set.isEmpty { return false }
        return isRevoked(e.claims)
    }

    @inline(never) func isRevoked(_ c: SessionClaims) -> Bool { set.isRevoked(c) }
}
