import DrawbridgeIdentity

/// The identity the gateway verified, as request fields for the upstream. Clients cannot send
/// these themselves (the server appends them, `IdentityFields.append`): every X-Drawbridge-* field they send is removed, in any case and `_` spelling (`CompiledRoute.protectedFields`).
public enum IdentityFields {
    /// An API key's fields, as `append` writes them.
    static func render(_ k: APIKeyIdentity) -> [UInt8] {
        var out: [UInt8] = []
        line(&out, "X-Drawbridge-API-Key: ", k.keyId)
        line(&out, "X-Drawbridge-Org: ", k.orgId)
        line(&out, "X-Drawbridge-Roles: ", k.roles.joined(separator: ","))
        line(&out, "X-Drawbridge-Auth-Mode: ", "api_key")
        return out
    }

    /// A session's fields, as `append` writes them.
    static func render(_ i: Identity) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(size(i))
        line(&out, "X-Drawbridge-User: ", i.userId)
        line(&out, "X-Drawbridge-Email: ", i.email)
        line(&out, "X-Drawbridge-Org: ", i.orgId)
        line(&out, "X-Drawbridge-Roles: ", i.roles.joined(separator: ","))
        line(&out, "X-Drawbridge-Groups: ", i.groups.joined(separator: ","))
        line(&out, "X-Drawbridge-Auth-Mode: ", i.authMode.description)
        line(&out, "X-Drawbridge-MFA: ", i.mfa ? "true" : "false")
        return out
    }

    /// Room the fields need (the caller reserves it before writing the head).
    public static func size(_ identity: RequestIdentity?) -> Int {
        switch identity {
        case nil: return 0
        // + 96: a pseudonymous route's 43-character subject and X-Drawbridge-Identity may be longer than the id and email they replace.
        case .user(let s): return s.upstreamFields.count + 96
        case .apiKey(let k): return k.upstreamFields.count + 96
        }
    }

    private static func size(_ i: Identity) -> Int {
        256 + i.userId.utf8.count + i.email.utf8.count + i.orgId.utf8.count
            + i.roles.reduce(0) { $0 + $1.utf8.count + 1 } + i.groups.reduce(0) { $0 + $1.utf8.count + 1 }
    }

    /// Values come from the directory, which the store validates; bytes that could end a field
    /// are dropped all the same (no header injection through a stored value).
    static func line(_ out: inout [UInt8], _ name: StaticString, _ value: String) {
        out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        for b in value.utf8 where b >= 0x20 && b != 0x7F { out.append(b) }
        out.append(0x0D)
        out.append(0x0A)
    }
}
