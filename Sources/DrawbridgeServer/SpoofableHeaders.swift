import DrawbridgeHTTP

/// Request headers a client must never be able to set for the upstream: the gateway's identity
/// namespace, the identity headers upstream apps commonly trust, and method overrides.
enum SpoofableHeaders {
    /// The gateway's own namespace: identity headers it will set after authentication.
    static let namespacePrefix: StaticString = "x-drawbridge-"

    /// Removed whatever their case (the parser already rejects whitespace around names).
    static let exact: [StaticString] = [
        "x-forwarded-user", "x-forwarded-email", "x-forwarded-groups", "x-forwarded-preferred-username",
        "x-remote-user", "remote-user", "x-auth-request-user", "x-auth-request-email",
        "x-auth-request-groups", "x-user", "x-email",
        // method override: a GET judged by policy must not become a DELETE upstream
        "x-http-method-override", "x-http-method", "x-method-override",
    ]

    @inline(__always)
    static func matches(_ name: UnsafeRawBufferPointer) -> Bool {
        guard name.count >= 6, name[0] | 0x20 == UInt8(ascii: "x") || name[0] | 0x20 == UInt8(ascii: "r") else { return false }
        let p = namespacePrefix
        if name.count > p.utf8CodeUnitCount,
           ASCII.equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: name[0..<p.utf8CodeUnitCount]), p) { return true }
        for e in exact where e.utf8CodeUnitCount == name.count {
            if ASCII.equalsCaseInsensitive(name, e) { return true }
        }
        return false
    }
}
