/// The one rule for whether an auth mode may be used.
public enum AuthModeResolver {
    /// Whether `mode` is usable by `user` in `org`: the user is a member of the org and
    /// `isEnabled(mode, in: org, global:)`. Sessions are re-checked against this on every request.
    public static func isUsable(_ mode: AuthMode, for user: User, in org: Organization, global: GlobalAuthSettings) -> Bool {
        // A non-member gets nothing from the org's policy, whatever the mode.
        guard user.membership(in: org.id) != nil else { return false }
        return isEnabled(mode, in: org, global: global)
    }

    /// The mode rule without a user (API keys belong to an org, not to a user).
    public static func isEnabled(_ mode: AuthMode, in org: Organization, global: GlobalAuthSettings) -> Bool {
        // Global first: an org can only narrow the gateway's modes, never switch one back on.
        guard global.enabledModes.contains(mode) else { return false }
        switch org.modePolicy {
        case .inheritGlobal: return true
        case .disable(let off): return !off.contains(mode)
        // Allow-list: a mode enabled globally later stays off for this org (fail closed).
        case .only(let on): return on.contains(mode)
        }
    }

    /// The modes `org` may use, in a stable order (for the login page and refusal messages).
    public static func allowedModes(for org: Organization, global: GlobalAuthSettings) -> [AuthMode] {
        global.enabledModes.filter { isEnabled($0, in: org, global: global) }.sorted { $0.description < $1.description }
    }
}
