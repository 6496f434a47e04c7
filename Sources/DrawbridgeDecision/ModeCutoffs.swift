import DrawbridgeConfig
import DrawbridgeIdentity

/// When each (organisation, auth mode) was last switched off or back on. A session or API key of
/// that mode issued at or before that time stays dead even after the mode is switched back on:
/// turning a mode on again restores nothing, users sign in again (and keys made while it was off
/// are made again).
///
/// Computed at every (re)load from the previous table and the new configuration, and kept in a
/// small state file next to the secrets file (`auth-state.json`, read and written by the server's
/// `AuthStateFile.swift`), so a restart between "off" and "on" does not revive old sessions either.
/// Only a switch (off → on, on → off) changes the table: a load that changes nothing writes
/// nothing, so a start needs no free disk. Read-only once built.
public struct ModeCutoffs: Sendable, Equatable {
    public private(set) var byOrg: [String: [String: UInt64]] = [:]   // org id -> mode description -> unix seconds
    /// Per org, the modes that were off at the last load.
    public private(set) var off: [String: Set<String>] = [:]

    public init(byOrg: [String: [String: UInt64]] = [:], off: [String: Set<String>] = [:]) {
        self.byOrg = byOrg
        self.off = off
    }

    public func cutoff(org: String, mode: AuthMode) -> UInt64? { byOrg[org]?[mode.description] }

    /// A mode the gateway knows (configured or remembered) that was switched off, or back on,
    /// since the last load moves its org's cutoff: switched off, to `now` (what was issued until
    /// now ends); back on, to the second before `now` (what was issued while it was off ends too;
    /// sign-ins from now on count). Never moves backwards.
    public func updated(orgs: [Organization], knownModes: [AuthMode], global: GlobalAuthSettings, now: UInt64) -> ModeCutoffs {
        var next = self
        for org in orgs {
            var modes = Set(knownModes.map(\.description))
            modes.formUnion(byOrg[org.id]?.keys.map { $0 } ?? [])
            modes.formUnion(off[org.id] ?? [])
            for text in modes {
                guard let mode = ModeCutoffs.mode(text) else { continue }
                let isOff = !AuthModeResolver.isEnabled(mode, in: org, global: global)
                let wasOff = off[org.id]?.contains(text) ?? false
                guard isOff != wasOff else { continue }
                // Back on: a sign-in in the very second of the reload must work, so the second before.
                next.byOrg[org.id, default: [:]][text] = max(byOrg[org.id]?[text] ?? 0, isOff || now == 0 ? now : now - 1)
                if isOff {
                    next.off[org.id, default: []].insert(text)
                } else {
                    next.off[org.id]?.remove(text)
                    if next.off[org.id]?.isEmpty == true { next.off[org.id] = nil }
                }
            }
        }
        return next
    }

    public static func mode(_ text: String) -> AuthMode? {
        switch text {
        case "password": return .password
        case "api_key": return .apiKey
        default: return text.hasPrefix("oidc:") && text.count > 5 ? .oidc(provider: String(text.dropFirst(5))) : nil
        }
    }
}
