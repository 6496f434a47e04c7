/// Why a config snapshot could not become a Directory.
public enum DirectoryError: Error, Hashable, Sendable {
    case duplicateOrganization(String)
    case duplicateUser(String)
    case duplicateEmail(String)
    case membershipInUnknownOrganization(userId: String, orgId: String)
    case duplicateAPIKey(String)
    case apiKeyInUnknownOrganization(keyId: String, orgId: String)
    /// One OIDC account (issuer, subject) linked to two users.
    case duplicateOIDCLink(issuer: String, subject: String)
}

/// Organisations, users and API keys of one config snapshot, indexed once and then read-only
/// (safe to share between threads; a reload builds a new one).
public struct Directory: Sendable {
    private let orgsById: [String: Organization]
    private let usersById: [String: User]
    private let userIdByEmail: [String: String]
    private let apiKeysById: [String: APIKeyRecord]
    /// "issuer \0 subject" -> user id.
    private let userIdByOIDC: [String: String]

    public init(organizations: [Organization], users: [User], apiKeys: [APIKeyRecord] = []) throws(DirectoryError) {
        var orgs = [String: Organization]()
        for org in organizations {
            guard orgs.updateValue(org, forKey: org.id) == nil else { throw .duplicateOrganization(org.id) }
        }
        var byId = [String: User]()
        var byEmail = [String: String]()
        var byOIDC = [String: String]()
        for user in users {
            for l in user.oidcLinks {
                // One provider account signs in as one member, never as whichever claims it last.
                guard byOIDC.updateValue(user.id, forKey: Self.oidcKey(l.issuer, l.subject)) == nil else {
                    throw .duplicateOIDCLink(issuer: l.issuer, subject: l.subject)
                }
            }
            guard byId.updateValue(user, forKey: user.id) == nil else { throw .duplicateUser(user.id) }
            // Two users on one email would make email login ambiguous: refuse the snapshot.
            guard byEmail.updateValue(user.id, forKey: user.email.lowercased()) == nil else {
                throw .duplicateEmail(user.email.lowercased())
            }
            for m in user.memberships where orgs[m.orgId] == nil {
                throw .membershipInUnknownOrganization(userId: user.id, orgId: m.orgId)
            }
        }
        var keys = [String: APIKeyRecord]()
        for key in apiKeys {
            guard keys.updateValue(key, forKey: key.keyId) == nil else { throw .duplicateAPIKey(key.keyId) }
            guard orgs[key.orgId] != nil else { throw .apiKeyInUnknownOrganization(keyId: key.keyId, orgId: key.orgId) }
        }
        orgsById = orgs
        usersById = byId
        userIdByEmail = byEmail
        apiKeysById = keys
        userIdByOIDC = byOIDC
    }

    static func oidcKey(_ issuer: String, _ subject: String) -> String { issuer + "\u{0}" + subject }

    public func organization(id: String) -> Organization? { orgsById[id] }
    public func user(id: String) -> User? { usersById[id] }
    public func user(email: String) -> User? { userIdByEmail[email.lowercased()].flatMap { usersById[$0] } }
    public func apiKey(id: String) -> APIKeyRecord? { apiKeysById[id] }
    /// The member linked to the provider account (issuer, subject), if any.
    public func user(issuer: String, subject: String) -> User? {
        userIdByOIDC[Self.oidcKey(issuer, subject)].flatMap { usersById[$0] }
    }
}
