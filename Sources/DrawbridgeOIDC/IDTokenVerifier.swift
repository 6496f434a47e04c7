import DrawbridgeCrypto

/// What the gateway takes from a verified ID token.
public struct IDTokenClaims: Sendable, Equatable {
    public let subject: String
    public let email: String
    public let emailVerified: Bool
    public let hostedDomain: String?
    public let issuedAt: Int64
    public let expiresAt: Int64

    public init(subject: String, email: String, emailVerified: Bool, hostedDomain: String?, issuedAt: Int64, expiresAt: Int64) {
        self.subject = subject
        self.email = email
        self.emailVerified = emailVerified
        self.hostedDomain = hostedDomain
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }
}

/// Why an ID token was refused.
public enum IDTokenRejection: Error, Sendable, Equatable {
    /// Not a compact JWS, payload not a JSON object, or a required claim (sub, exp, iat) missing or mistyped.
    case malformed
    /// Refused algorithm (none, HS256, ...), no key for the kid, or a bad signature.
    case signature
    case issuer
    case audience
    case expired
    /// `iat` (or `nbf`) later than now plus the allowed skew.
    case issuedInFuture
    case nonce
    case emailNotVerified
    case noEmail
    case hostedDomain
    /// The provider's keys could not be fetched.
    case keysUnavailable
}

/// ID token validation (OIDC Core §3.1.3.7) for the authorization code flow.
public enum IDTokenVerifier {
    /// Checks, in order: the signature (the key type decides RS256 / ES256; `none` and HS256 are
    /// refused), `iss` equals the issuer exactly, `aud` is or contains the client id (with more
    /// than one audience `azp` must be the client id; a present `azp` always must), `exp` later
    /// than now − skew, `iat` (and `nbf` if present) not after now + skew, `nonce` equal
    /// (constant time), `email` present, `email_verified` true (JSON true or the string "true"),
    /// and `hd` equal to the configured hosted domain (ASCII case-insensitive) when one is set.
    public static func verify(idToken: String, settings: OIDCProviderSettings, jwks: JWKSCache, nonce: String,
                              now: Int64) -> Result<IDTokenClaims, IDTokenRejection> {
        var fetchFailed = false
        var selected = 0
        let select = { (kid: String?) -> [JWS.Key] in
            do { let k = try jwks.keys(kid: kid); selected = k.count; return k } catch { fetchFailed = true; return [] }
        }
        var payload: [UInt8]
        do {
            payload = try JWS.verify(idToken, keys: select).payload
        } catch CryptoError.invalidInput {
            return .failure(.malformed)
        } catch {
            // A key the token selected (same kid, or no kid) did not verify: the provider may have
            // rotated keys without new kids. One refetch (rate-limited by the cache), one retry.
            guard !fetchFailed, selected > 0, jwks.refreshAfterFailedSignature() else {
                return .failure(fetchFailed ? .keysUnavailable : .signature)
            }
            do { payload = try JWS.verify(idToken, keys: select).payload } catch { return .failure(fetchFailed ? .keysUnavailable : .signature) }
        }
        guard let claims = StrictJSON.parse(payload), case .object = claims else { return .failure(.malformed) }

        guard let sub = claims["sub"]?.stringValue, !sub.isEmpty,
              let exp = claims["exp"].flatMap(integer), let iat = claims["iat"].flatMap(integer) else { return .failure(.malformed) }

        guard claims["iss"]?.stringValue == settings.issuer else { return .failure(.issuer) }

        switch claims["aud"] {
        case .string(let a)?:
            guard a == settings.clientId else { return .failure(.audience) }
        case .array(let list)?:
            guard list.contains(.string(settings.clientId)) else { return .failure(.audience) }
            if list.count > 1 { guard claims["azp"]?.stringValue == settings.clientId else { return .failure(.audience) } }
        default:
            return .failure(.audience)
        }
        if let azp = claims["azp"] { guard azp.stringValue == settings.clientId else { return .failure(.audience) } }

        let skew = max(settings.clockSkew, 0)
        guard exp > now - skew else { return .failure(.expired) }
        guard iat <= now + skew else { return .failure(.issuedInFuture) }
        if let nbf = claims["nbf"] {
            guard let t = integer(nbf) else { return .failure(.malformed) }
            guard t <= now + skew else { return .failure(.issuedInFuture) }
        }

        guard !nonce.isEmpty, let n = claims["nonce"]?.stringValue,
              ConstantTime.equals(Array(n.utf8), Array(nonce.utf8)) else { return .failure(.nonce) }

        guard let email = claims["email"]?.stringValue, !email.isEmpty else { return .failure(.noEmail) }
        switch claims["email_verified"] {
        case .bool(true)?, .string("true")?: break
        default: return .failure(.emailNotVerified)
        }

        var hd: String? = nil
        if let h = claims["hd"] {
            guard let s = h.stringValue else { return .failure(.hostedDomain) }
            hd = s
        }
        if let want = settings.hostedDomain, !want.isEmpty {
            guard let hd, asciiLowercased(hd) == asciiLowercased(want) else { return .failure(.hostedDomain) }
        }
        return .success(IDTokenClaims(subject: sub, email: email, emailVerified: true, hostedDomain: hd,
                                      issuedAt: iat, expiresAt: exp))
    }

    /// A JSON number that is an integer (seconds since the epoch); fractions are truncated.
    static func integer(_ v: StrictJSON) -> Int64? {
        guard case .number(let text) = v else { return nil }
        if let i = Int64(text) { return i }
        guard let d = Double(text), d.isFinite, abs(d) < 9.0e15 else { return nil }
        return Int64(d)
    }

    private static func asciiLowercased(_ s: String) -> String {
        String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
