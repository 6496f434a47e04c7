import DrawbridgeIdentity
import Foundation

/// When each (organisation, auth mode) was last seen switched off. A session or API key of that
/// mode issued at or before that time stays dead even after the mode is switched back on: turning
/// a mode on again restores nothing, users sign in again.
///
/// Computed at every (re)load from the previous table and the new configuration, and kept in a
/// small state file next to the secrets file (`auth-state.json`), so a restart between "off" and
/// "on" does not revive old sessions either. Read-only once built.
struct ModeCutoffs: Sendable, Equatable {
    private(set) var byOrg: [String: [String: UInt64]] = [:]   // org id -> mode description -> unix seconds

    func cutoff(org: String, mode: AuthMode) -> UInt64? { byOrg[org]?[mode.description] }

    /// Every mode the gateway knows (configured or remembered) that is off for an org moves its
    /// cutoff to `now`; modes that are on keep the cutoff they had.
    func updated(orgs: [Organization], knownModes: [AuthMode], global: GlobalAuthSettings, now: UInt64) -> ModeCutoffs {
        var next = self
        for org in orgs {
            var modes = Set(knownModes.map(\.description))
            modes.formUnion(byOrg[org.id]?.keys ?? [:].keys)
            for text in modes {
                guard let mode = ModeCutoffs.mode(text), !AuthModeResolver.isEnabled(mode, in: org, global: global) else { continue }
                next.byOrg[org.id, default: [:]][text] = max(byOrg[org.id]?[text] ?? 0, now)
            }
        }
        return next
    }

    static func mode(_ text: String) -> AuthMode? {
        switch text {
        case "password": return .password
        case "api_key": return .apiKey
        default: return text.hasPrefix("oidc:") && text.count > 5 ? .oidc(provider: String(text.dropFirst(5))) : nil
        }
    }

    // MARK: State file

    static func load(path: String) throws -> ModeCutoffs {
        guard let data = FileManager.default.contents(atPath: path) else { return ModeCutoffs() }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let cutoffs = root["modeCutoffs"] as? [String: [String: NSNumber]] else {
            throw AuthSetupError(description: "\(path): not a Drawbridge state file (expected {\"modeCutoffs\": {...}}); move it away to start afresh")
        }
        var c = ModeCutoffs()
        for (org, modes) in cutoffs { for (m, t) in modes { c.byOrg[org, default: [:]][m] = t.uint64Value } }
        return c
    }

    /// Temp file, fsync, rename: a crash leaves the old or the new table, never half of one.
    func save(path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: ["version": 1, "modeCutoffs": byOrg], options: [.sortedKeys])
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw AuthSetupError(description: "\(path): cannot write the state file")
        }
        let fd = open(tmp, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw AuthSetupError(description: "\(path): cannot replace the state file")
        }
    }
}
