import DrawbridgeConfig
import DrawbridgeHTTP

/// One route of a snapshot, with everything a request decided on it needs: its configuration
/// (host and prefix, as matched by the snapshot's `RouteTable`), its policy rule, the upstream it
/// names and the fields it adds and removes. A request keeps the route (and so the upstream
/// target) it was decided on: a reload that removes or reorders upstreams cannot send it, or a
/// retry of it, anywhere else. A reference, so that a request holds its route for one retain.
public final class CompiledRoute {
    /// The route as configured (host, prefix, access rule): for audit records.
    public let config: RouteConfig
    public let isPublic: Bool
    /// The rule `Snapshot.policy` judges this route with (its index: the policy is compiled per route).
    public let policyRule: Int
    /// The upstream this route names, in the snapshot that compiled it (the server's
    /// `UpstreamTarget`, read back through `CompiledRoute.upstream` there).
    public let upstreamHandle: UpstreamHandle
    /// The upstream credential field ("Name: prefix+secret\r\n"), decrypted in memory only, never logged.
    public let credentialLine: [UInt8]?
    /// The OAuth 2.0 client whose token this route sends (`Authorization: Bearer`), read from the
    /// published `TokenBoard` per request; nil: none (`credentialLine` or nothing).
    public let tokenClientHandle: TokenClientHandle?
    /// Set when the route sends a pairwise pseudonymous identity (`identity: "pseudonymous"`).
    public let pseudonymizer: Pseudonymizer?
    /// The number of the assertion audience (routes with the same audience share one signed
    /// assertion per session).
    public let audienceNumber: Int
    /// The assertion audience (`access.audience`, else the upstream's name): what the policy's grant names.
    public let audience: String
    /// Client fields never forwarded on this route, in any case and `_`/`-` spelling: the
    /// gateway's namespace, forwarding, identity, override and framing fields, `stripRequestHeaders`
    /// and the credential's field, minus the override fields the route forwards.
    public let protectedFields: FieldNameSet
    /// `*/admin/` etc., for audit records.
    public let label: String
    /// The route's slot in the workers' counters (`MetricsRegistry`), set by its snapshot.
    public var metricsSlot = 0

    public init(config: RouteConfig, isPublic: Bool, policyRule: Int, upstream: UpstreamHandle, credentialLine: [UInt8]?,
                tokenClient: TokenClientHandle? = nil, pseudonymizer: Pseudonymizer? = nil,
                audienceNumber: Int, audience: String, protectedFields: FieldNameSet, label: String) {
        tokenClientHandle = tokenClient
        self.pseudonymizer = pseudonymizer
        self.config = config
        self.isPublic = isPublic
        self.policyRule = policyRule
        upstreamHandle = upstream
        self.credentialLine = credentialLine
        self.audienceNumber = audienceNumber
        self.audience = audience
        self.protectedFields = protectedFields
        self.label = label
    }

    /// Compiles every route of `config`; throws (naming the field) when a credential's secret is
    /// missing or unusable, so a bad reload changes nothing. `tokenClient` gives the OAuth 2.0 client of a
    /// route's `upstreamOAuth2` (the server's, which reuses the previous snapshot's when unchanged); it throws naming `path` when it cannot.
    public static func compile(_ config: GatewayConfig, upstreams: [UpstreamHandle], byName: [String: Int],
                               secrets: [String: [UInt8]],
                               tokenClient makeTokenClient: (_ config: UpstreamOAuth2Config, _ path: String) throws -> TokenClientHandle) throws -> [CompiledRoute] {
        var audiences: [String: Int] = [:]
        let firstPseudonymous = config.routes.firstIndex { $0.identity == .pseudonymous }.map { "routes[\($0)].identity" }
        let pseudonymKey = try PseudonymKey.load(secrets, neededBy: firstPseudonymous)
        var fieldSets: [[String]: FieldNameSet] = [:] // routes with the same names share one set
        let base = GatewayFieldNames.all + config.stripRequestHeaders
        return try config.routes.enumerated().map { (i, r) in
            var credentialLine: [UInt8]?
            var names = base
            if let c = r.upstreamCredential {
                let path = "routes[\(i)].upstreamCredential.secret"
                guard let secret = secrets[c.secret] else {
                    throw AuthSetupError(description: "\(path): no secret named \"\(c.secret)\" (drawbridge secret set \(c.secret))")
                }
                // The value becomes a header field: bytes that could end or split it are refused.
                guard !secret.isEmpty, secret.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 }) else {
                    throw AuthSetupError(description: "\(path): secret \"\(c.secret)\" is not usable in a header field (visible ASCII only)")
                }
                credentialLine = Array("\(c.header): \(c.prefix)".utf8) + secret + Array("\r\n".utf8)
                names.append(c.header)
            }
            var tokenClient: TokenClientHandle?
            if let o = r.upstreamOAuth2 {
                tokenClient = try makeTokenClient(o, "routes[\(i)].upstreamCredential.oauth2")
                names.append("Authorization") // the client's own never reaches the upstream with the gateway's token
            }
            let forwarded = Set(r.forwardOverrideHeaders.map { $0.lowercased() })
            names = names.filter { !forwarded.contains($0.lowercased()) }
            let fields = fieldSets[names] ?? FieldNameSet(names, prefix: GatewayFieldNames.namespace)
            fieldSets[names] = fields
            let audience = r.access?.audience ?? r.upstream
            let audienceNumber = audiences[audience] ?? audiences.count
            audiences[audience] = audienceNumber
            let pseudonymizer = r.identity == .pseudonymous ? pseudonymKey.map { Pseudonymizer(key: $0, audience: audience, audienceNumber: audienceNumber) } : nil
            guard let u = byName[r.upstream] else {
                throw AuthSetupError(description: "routes[\(i)].upstream: unknown upstream \"\(r.upstream)\"")
            }
            return CompiledRoute(config: r, isPublic: r.isPublic, policyRule: i, upstream: upstreams[u],
                                 credentialLine: credentialLine, tokenClient: tokenClient, pseudonymizer: pseudonymizer,
                                 audienceNumber: audienceNumber, audience: audience, protectedFields: fields,
                                 label: (r.host ?? "*") + r.pathPrefix)
        }
    }
}
