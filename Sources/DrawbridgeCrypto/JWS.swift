/// Compact JWS (RFC 7515) verification and ES256 signing, for OIDC ID tokens and the gateway's
/// own assertions.
///
/// The algorithm is decided by the KEY, never by the token: an EC P-256 key only ever verifies
/// ES256 and an RSA key only RS256. The header's `alg` must name exactly that algorithm, so
/// `none`, `HS256` (key-confusion with a public key as HMAC secret), `PS*`, `RS384`, ... and any
/// mismatch between `alg` and key type are refused with `.verificationFailed`.
///
/// Header parsing uses the module's strict JSON reader (no Foundation): the protected header
/// must be a JSON object with unique member names, a string `alg`, and an optional string
/// `kid`. A `crit` member is refused (no extensions are understood, RFC 7515 §4.1.11), which
/// also refuses unencoded payloads (RFC 7797). Embedded keys (`jwk`, `jku`, `x5c`, `x5u`) are
/// ignored: keys come only from the caller's `keys` callback. The payload is returned as raw
/// bytes; parsing and checking claims (iss, aud, exp, nonce, ...) is the caller's job.
public enum JWS {
    public enum Key: Sendable {
        case ec(ECPublicKey)
        case rsa(RSAPublicKey)

        /// The one algorithm this key may be used with.
        public var algorithm: String {
            switch self { case .ec: "ES256"; case .rsa: "RS256" }
        }

        func verify(message: [UInt8], signature: [UInt8]) -> Bool {
            switch self {
            case let .ec(k): k.verifyES256(message: message, rawSignature: signature)
            case let .rsa(k): k.verifyRS256(message: message, signature: signature)
            }
        }
    }

    /// Largest compact serialisation accepted (bytes).
    public static let maxLength = 64 * 1024

    /// Verifies `header.payload.signature` against the keys `keys(kid)` returns (kid from the
    /// header, nil if absent). Returns the decoded protected header and payload bytes.
    /// Throws `.invalidInput` for a malformed token and `.verificationFailed` for a refused
    /// algorithm, no usable key, or a bad signature.
    public static func verify(_ compact: String, keys: (_ kid: String?) -> [Key]) throws -> (header: [UInt8], payload: [UInt8]) {
        let bytes = Array(compact.utf8)
        guard !bytes.isEmpty, bytes.count <= maxLength else { throw CryptoError.invalidInput("JWS: empty or too long") }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw CryptoError.invalidInput("JWS: expected three dot-separated parts") }
        guard !parts[0].isEmpty, !parts[2].isEmpty,
              let header = Base64URL.decode(utf8: Array(parts[0])),
              let payload = Base64URL.decode(utf8: Array(parts[1])),
              let signature = Base64URL.decode(utf8: Array(parts[2])) else {
            throw CryptoError.invalidInput("JWS: bad base64url")
        }
        guard let json = JSONValue.parse(header), case .object = json else { throw CryptoError.invalidInput("JWS: header is not a JSON object") }
        guard let alg = json["alg"]?.stringValue else { throw CryptoError.invalidInput("JWS: header has no string alg") }
        guard json["crit"] == nil else { throw CryptoError.verificationFailed }
        var kid: String? = nil
        if let k = json["kid"] {
            guard let s = k.stringValue else { throw CryptoError.invalidInput("JWS: kid is not a string") }
            kid = s
        }
        guard alg == "ES256" || alg == "RS256" else { throw CryptoError.verificationFailed }
        let signingInput = Array(bytes[0..<(parts[0].count + 1 + parts[1].count)])
        for key in keys(kid) where key.algorithm == alg {
            if key.verify(message: signingInput, signature: signature) { return (header, payload) }
        }
        throw CryptoError.verificationFailed
    }

    /// Signs `payloadJSON` (which must be a JSON object) as a compact ES256 JWS with header
    /// `{"alg":"ES256","typ":"JWT","kid":…}`.
    public static func signES256(payloadJSON: [UInt8], kid: String, key: ECPrivateKey) throws -> String {
        guard let payload = JSONValue.parse(payloadJSON), case .object = payload else {
            throw CryptoError.invalidInput("JWS: payload is not a JSON object")
        }
        let header = "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\(JSONString.quote(kid))}"
        let signingInput = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(payloadJSON)
        let sig = try key.signES256(Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(sig)
    }
}

/// JSON Web Keys (RFC 7517) for `JWS.verify`: reads a JWK Set such as an OIDC provider's
/// jwks_uri document and keeps only keys this module can use for signature verification.
public enum JWK {
    public struct Entry: Sendable {
        public let kid: String?
        public let key: JWS.Key
    }

    /// Parses `{"keys":[...]}`. Keys are skipped (not errors) when their `kty`/`crv` is
    /// unsupported, `use` is present and not "sig", `key_ops` is present without "verify",
    /// `alg` is present and differs from the key type's algorithm (ES256 / RS256), or the key
    /// material is invalid (e.g. RSA under 2048 bits, EC point off the curve). Throws
    /// `.invalidInput` only when the document itself is not a JWK Set.
    public static func parseSet(_ json: [UInt8]) throws -> [Entry] {
        guard let doc = JSONValue.parse(json), case let .array(keys)? = doc["keys"] else {
            throw CryptoError.invalidInput("JWK Set: expected {\"keys\": [...]}")
        }
        return keys.compactMap { entry(from: $0) }
    }

    /// Parses one JWK object (same rules as `parseSet`); nil if unusable.
    public static func parseKey(_ json: [UInt8]) -> Entry? {
        JSONValue.parse(json).flatMap { entry(from: $0) }
    }

    /// The keys of `set` for a token's `kid`: those with that kid, or — when the token has no
    /// kid — all of them.
    public static func select(_ set: [Entry], kid: String?) -> [JWS.Key] {
        set.filter { kid == nil || $0.kid == kid }.map(\.key)
    }

    static func entry(from v: JSONValue) -> Entry? {
        guard case .object = v, let kty = v["kty"]?.stringValue else { return nil }
        var kid: String? = nil
        if let k = v["kid"] { guard let s = k.stringValue else { return nil }; kid = s }
        if let use = v["use"] { guard use.stringValue == "sig" else { return nil } }
        if let ops = v["key_ops"] {
            guard case let .array(list) = ops, list.contains(.string("verify")) else { return nil }
        }
        let key: JWS.Key
        switch kty {
        case "EC":
            guard let crv = v["crv"]?.stringValue, let x = v["x"]?.stringValue, let y = v["y"]?.stringValue,
                  let k = try? ECPublicKey(jwkCrv: crv, x: x, y: y) else { return nil }
            key = .ec(k)
        case "RSA":
            guard let n = v["n"]?.stringValue, let e = v["e"]?.stringValue,
                  let k = try? RSAPublicKey(jwkN: n, e: e) else { return nil }
            key = .rsa(k)
        default:
            return nil
        }
        if let alg = v["alg"] { guard alg.stringValue == key.algorithm else { return nil } }
        return Entry(kid: kid, key: key)
    }
}
