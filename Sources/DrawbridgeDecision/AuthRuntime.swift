import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeIdentity

/// Why the identity part of a configuration could not be loaded (the old one keeps serving).
public struct AuthSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Everything the identity layer needs for one configuration snapshot: the directory (orgs,
/// users, API keys), the mode rule's inputs, the session key ring and the OIDC providers.
/// Built off the loops at (re)load, then read-only and shared by every worker.
public final class AuthRuntime: @unchecked Sendable {
    public let config: AuthConfig
    public let directory: Directory
    public let global: GlobalAuthSettings
    public let ring: SessionKeyRing
    public let totpSecrets: [String: [UInt8]]
    public let providers: [String: OIDCProvider]
    /// Org id by lowercased email domain (identifier-first routing of unknown users).
    let orgByDomain: [String: String]
    /// When each org last had each mode switched off or back on (see `ModeCutoffs`).
    public let cutoffs: ModeCutoffs
    /// Whether `cutoffs` differ from what they were built from (the state file at start, the
    /// previous snapshot at reload): only then is there anything to save.
    public let cutoffsChanged: Bool
    /// Org id -> the OIDC providers it trusts (`organizations.<id>.trustedProviders`).
    let trustedProvidersByOrg: [String: Set<String>]
    /// Verified against when the account is unknown or has no password: the production scheme's
    /// cost, so an unknown email takes as long as a wrong password (see `PasswordHash.unmatchable`).
    public let dummyHash = PasswordHash.unmatchable()

    static let sessionCookie = "__Host-drawbridge"

    /// `previous`: the cutoffs of the snapshot being replaced (at start: those of the state file,
    /// read by the server; evaluated after the identity data is checked).
    public init(config: GatewayConfig, users: [User], apiKeys: [APIKeyRecord] = [], sessionKeys: [SessionKey],
                totpSecrets: [String: [UInt8]] = [:], secrets: [String: [UInt8]] = [:],
                previous: @autoclosure () throws -> ModeCutoffs, now: UInt64) throws {
        guard let auth = config.auth else { throw AuthSetupError(description: "no auth section") }
        self.config = auth
        let orgs = config.organizations.map(Self.organization)
        do {
            directory = try Directory(organizations: orgs, users: users, apiKeys: apiKeys)
        } catch {
            throw AuthSetupError(description: "\(auth.usersFile): \(Self.describe(error))")
        }
        global = GlobalAuthSettings(enabledModes: Set(auth.modes.map(Self.mode)),
                                    idleTimeoutSeconds: UInt64(auth.idleTimeoutSeconds),
                                    absoluteTimeoutSeconds: UInt64(auth.absoluteTimeoutSeconds))
        // The highest key id seals; the others still open, so adding a key logs nobody out.
        let keys = sessionKeys.sorted { $0.id < $1.id }
        guard let current = keys.last else {
            throw AuthSetupError(description: "\(auth.secretsFile): no session key: create one with `drawbridge secret set session-key-1 --random`")
        }
        do { ring = try SessionKeyRing(current: current, previous: Array(keys.dropLast())) }
        catch { throw AuthSetupError(description: "\(auth.secretsFile): session keys: \(error)") }
        self.totpSecrets = totpSecrets
        var providers: [String: OIDCProvider] = [:]
        for (name, p) in auth.oidc {
            guard let secret = secrets[p.clientSecretName] else {
                throw AuthSetupError(description: "auth.oidc.\(name).clientSecret: no secret named \"\(p.clientSecretName)\" in \(auth.secretsFile) (set it with `drawbridge secret set \(p.clientSecretName)`)")
            }
            providers[name] = OIDCProvider(config: p, clientSecret: String(decoding: secret, as: UTF8.self))
        }
        self.providers = providers
        var byDomain: [String: String] = [:]
        for o in config.organizations { for d in o.emailDomains { byDomain[d] = o.id } }
        orgByDomain = byDomain
        trustedProvidersByOrg = Dictionary(uniqueKeysWithValues: config.organizations.map { ($0.id, Set($0.trustedProviders)) })
        let base = try previous()
        let known: [AuthMode] = [.password, .apiKey] + auth.oidc.keys.sorted().map { .oidc(provider: $0) }
        cutoffs = base.updated(orgs: orgs, knownModes: known, global: global, now: now)
        cutoffsChanged = cutoffs != base
    }

    static func mode(_ m: AuthModeName) -> AuthMode {
        switch m {
        case .password: return .password
        case .apiKey: return .apiKey
        case .oidc(let name): return .oidc(provider: name)
        }
    }

    static func organization(_ o: OrganizationConfig) -> Organization {
        let policy: OrgModePolicy
        switch o.modes {
        case .inherit: policy = .inheritGlobal
        case .only(let list): policy = .only(Set(list.map(mode)))
        case .disable(let list): policy = .disable(Set(list.map(mode)))
        }
        return Organization(id: o.id, displayName: o.name, emailDomains: o.emailDomains, modePolicy: policy,
                            mfaRequired: o.mfaRequired, idleTimeoutSeconds: o.idleTimeoutSeconds.map(UInt64.init),
                            absoluteTimeoutSeconds: o.absoluteTimeoutSeconds.map(UInt64.init))
    }

    static func describe(_ e: DirectoryError) -> String {
        switch e {
        case .duplicateOrganization(let id): return "organisation \(id) defined twice"
        case .duplicateUser(let id): return "user id \(id) used twice"
        case .duplicateEmail(let email): return "email \(email) used by two users"
        case .membershipInUnknownOrganization(let u, let o): return "user \(u) is a member of unknown organisation \(o) (not in drawbridge.json5)"
        case .duplicateAPIKey(let id): return "API key id \(id) used twice"
        case .apiKeyInUnknownOrganization(let k, let o): return "API key \(k) belongs to unknown organisation \(o)"
        case .duplicateOIDCLink(let i, let s): return "the OIDC account \(s) of \(i) is linked to two users"
        }
    }

    /// The part of an email after its last `@` (the whole text when it has none), as given (callers lower-case it).
    private static func domain(of email: String) -> String {
        email.split(separator: "@").last.map(String.init) ?? ""
    }

    /// The org an email belongs to: the user's membership (by domain when several), else the
    /// org owning the email's domain. nil: nobody we know.
    public func organization(forEmail email: String) -> (user: User?, org: Organization?) {
        let lower = email.lowercased()
        let domain = Self.domain(of: lower)
        if let user = directory.user(email: lower) {
            let preferred = orgByDomain[domain].flatMap { id in user.membership(in: id) != nil ? id : nil }
            let orgId = preferred ?? user.memberships.first?.orgId
            return (user, orgId.flatMap { directory.organization(id: $0) })
        }
        return (nil, orgByDomain[domain].flatMap { directory.organization(id: $0) })
    }

    /// The org a known user signs in to: the membership in the org owning the email's domain
    /// when there is one, else the first membership.
    public func organization(forUser user: User) -> Organization? {
        let domain = Self.domain(of: user.email)
        let preferred = orgByDomain[domain].flatMap { id in user.membership(in: id) != nil ? id : nil }
        return (preferred ?? user.memberships.first?.orgId).flatMap { directory.organization(id: $0) }
    }

    /// The org that owns an email's domain (what the sign-in pages go by: the same answer
    /// whether or not the account exists).
    public func organization(forDomainOf email: String) -> Organization? {
        let domain = Self.domain(of: email.lowercased())
        return orgByDomain[domain].flatMap { directory.organization(id: $0) }
    }

    /// Whether OIDC provider `name` may vouch for a member of `org` with this email: the org
    /// lists the provider (`trustedProviders`), or the provider lists the org or the email's
    /// domain (`trustedFor`). A provider nobody names is trusted for nobody.
    public func trusts(provider name: String, org: Organization, email: String) -> Bool {
        if trustedProvidersByOrg[org.id]?.contains(name) == true { return true }
        guard let p = providers[name]?.config else { return false }
        if p.trustedForOrganizations.contains(org.id) { return true }
        let domain = Self.domain(of: email.lowercased())
        return !domain.isEmpty && p.trustedForEmailDomains.contains(domain)
    }

    /// Whether the provider is trusted for anyone at all (buttons on the generic sign-in page).
    public func isTrustedAnywhere(provider name: String) -> Bool {
        guard let p = providers[name]?.config else { return false }
        return !p.trustedForOrganizations.isEmpty || !p.trustedForEmailDomains.isEmpty
            || trustedProvidersByOrg.values.contains { $0.contains(name) }
    }

    /// The modes the org allows, as the login page and refusal messages name them.
    public func allowedModes(_ org: Organization) -> [AuthMode] {
        AuthModeResolver.allowedModes(for: org, global: global)
    }
}

/// One configured OIDC provider with its client secret opened.
public struct OIDCProvider: Sendable {
    public let config: OIDCProviderConfig
    public let clientSecret: String
}
