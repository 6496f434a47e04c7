import DrawbridgeConfig
import DrawbridgeHTTP

/// The checks a parsed head passes before it is decided on, and the values `decide` reads
/// (routing host, gateway cookies, normalised target). Pure: no socket, no clock.
public struct AdmissionRules {
    var pathPolicy = PathPolicy()
    var underscoreHeaders = UnderscoreHeaders.drop
    /// 0: no limit.
    var maxRequestBodyBytes: Int64 = 0

    public init(pathPolicy: PathPolicy = PathPolicy(), underscoreHeaders: UnderscoreHeaders = .drop, maxRequestBodyBytes: Int64 = 0) {
        self.pathPolicy = pathPolicy
        self.underscoreHeaders = underscoreHeaders
        self.maxRequestBodyBytes = maxRequestBodyBytes
    }
}

extension RequestView {
    /// Admits the head in `self.head` (parsed from the connection whose TLS server name is `sni`):
    /// fills the routing host, the cookies and the normalised target. nil, or the status that
    /// refuses the request (the connection then closes).
    @inline(__always) public func admit(sni: RoutingHost.ServerName, rules: AdmissionRules) -> Int? {
        target.removeAll(keepingCapacity: true)
        pathLength = 0
        // The host the request is routed, judged and forwarded as (Host, absolute-form, SNI: one rule).
        let refusal: Int? = head.bytes.withUnsafeBytes { raw in
            if let status = routing.resolve(raw, host: head.host, hostParsed: head.hostParsed, absolute: head.absoluteAuthority, sni: sni) { return status }
            // A gateway cookie sent twice: which copy counts would depend on the parser (cookie tossing).
            cookies = GatewayCookies.find(raw, head.fields)
            if cookies.duplicated { return 400 }
            // underscoreHeaders "reject": X_Forwarded_For and friends are refused outright (Envoy REJECT_REQUEST).
            if rules.underscoreHeaders == .reject && head.fields.contains(where: { $0.nameHasUnderscore }) { return 400 }
            return nil
        }
        if let refusal { return refusal }
        if rules.maxRequestBodyBytes > 0, case .contentLength(let n) = head.framing, n > UInt64(rules.maxRequestBodyBytes) { return 413 }
        return nil
    }

    /// Judges the path as the upstream will see it: decoded, dot segments resolved, once. nil, or 400.
    public func normalizeTarget(_ policy: PathPolicy) -> Int? {
        let normalized = head.bytes.withUnsafeBytes { raw in
            PathNormalizer.normalize(UnsafeRawBufferPointer(rebasing: raw[head.target]), policy: policy, into: &target)
        }
        switch normalized {
        case .success(let n): pathLength = n; return nil
        case .failure: target.removeAll(keepingCapacity: true); return 400
        }
    }
}
