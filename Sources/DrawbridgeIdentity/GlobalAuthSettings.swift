/// Gateway-wide auth settings. A mode missing from `enabledModes` is off for every org.
public struct GlobalAuthSettings: Hashable, Sendable {
    public var enabledModes: Set<AuthMode>
    public var idleTimeoutSeconds: UInt64
    public var absoluteTimeoutSeconds: UInt64

    public init(enabledModes: Set<AuthMode>, idleTimeoutSeconds: UInt64 = 30 * 60,
                absoluteTimeoutSeconds: UInt64 = 12 * 60 * 60) {
        self.enabledModes = enabledModes
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.absoluteTimeoutSeconds = absoluteTimeoutSeconds
    }
}
