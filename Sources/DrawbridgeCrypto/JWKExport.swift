/// Publishing the gateway's own public keys (RFC 7517 JWK, RFC 7638 thumbprint as key id).
extension ECPublicKey {
    /// RFC 7638 thumbprint: base64url(SHA-256 of the required members in lexicographic order,
    /// no whitespace). Stable for the key, so it serves as the `kid`.
    public var jwkThumbprint: String {
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(Base64URL.encode(x))","y":"\#(Base64URL.encode(y))"}"#
        return Base64URL.encode(SHA256.hash(Array(canonical.utf8)))
    }

    /// The public JWK with `kid`, `use` "sig" and `alg` "ES256" (no private member, ever).
    public func jwkJSON(kid: String) -> String {
        #"{"kty":"EC","crv":"P-256","x":"\#(Base64URL.encode(x))","y":"\#(Base64URL.encode(y))","kid":"\#(kid)","use":"sig","alg":"ES256"}"#
    }
}
