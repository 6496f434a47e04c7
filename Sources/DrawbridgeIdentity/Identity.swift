/// Who is asking, as the rest of the gateway sees it after a session or API key checked out.
public struct Identity: Hashable, Sendable {
    public var userId: String
    public var email: String
    public var orgId: String
    /// Org-level roles from the user's current membership (not from the token: a role removed
    /// at reload is gone on the next request).
    public var roles: [String]
    public var groups: [String]
    public var authMode: AuthMode
    public var mfa: Bool
    public var sessionId: SessionID
    /// The limits that applied (the org's, or the global defaults), for renewal decisions.
    public var timeouts: SessionTimeouts
}
