/// The idle and absolute session limits that apply to an org: the org's own values override
/// the global defaults.
public struct SessionTimeouts: Hashable, Sendable {
    public var idleSeconds: UInt64
    public var absoluteSeconds: UInt64

    public init(idleSeconds: UInt64, absoluteSeconds: UInt64) {
        self.idleSeconds = idleSeconds
        self.absoluteSeconds = absoluteSeconds
    }

    public init(org: Organization, global: GlobalAuthSettings) {
        idleSeconds = org.idleTimeoutSeconds ?? global.idleTimeoutSeconds
        absoluteSeconds = org.absoluteTimeoutSeconds ?? global.absoluteTimeoutSeconds
    }
}
