import DrawbridgeConfig
import DrawbridgeDecision
import DrawbridgeStore
import Foundation

/// The identity runtime's files: the mode cut-offs' state file (`auth-state.json`), read at start
/// and written when the cut-offs change, and the runtime built from the identity files.
extension AuthRuntime {
    /// `previous`: the cutoffs of the snapshot being replaced (nil at start: read from the state file).
    convenience init(config: GatewayConfig, data: IdentityData, previous: ModeCutoffs?, now: UInt64) throws {
        let stateFile = config.auth.map(StateFiles.cutoffsFile) ?? ""
        try self.init(config: config, users: data.users, apiKeys: data.apiKeys, sessionKeys: data.sessionKeys,
                      totpSecrets: data.totpSecrets, secrets: data.secrets,
                      previous: try previous ?? ModeCutoffs.load(path: stateFile), now: now)
    }

    var stateFile: String { StateFiles.cutoffsFile(config) }

    /// Writes the cutoffs (main thread, at start and reload when they changed, and again after a failure).
    func saveCutoffs() throws {
        try cutoffs.save(path: stateFile)
    }
}

extension ModeCutoffs {
    /// The table in `path`; empty when the file does not exist. A file that exists but cannot be
    /// read (or is a symbolic link, or not a state file) is an error naming it, never an empty table.
    static func load(path: String) throws -> ModeCutoffs {
        guard let text = try AtomicFile.read(path) else { return ModeCutoffs() }
        guard let root = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let cutoffs = root["modeCutoffs"] as? [String: [String: NSNumber]] else {
            throw AuthSetupError(description: "\(path): not a Drawbridge state file (expected {\"modeCutoffs\": {...}}); restore it from a backup, or move it away to start afresh (sessions from before a mode was switched off would then count again)")
        }
        var byOrg: [String: [String: UInt64]] = [:], offModes: [String: Set<String>] = [:]
        for (org, modes) in cutoffs { for (m, t) in modes { byOrg[org, default: [:]][m] = t.uint64Value } }
        // Files of older versions have no "off": the next load records the modes that are off now.
        if let off = root["off"] as? [String: [String]] {
            for (org, modes) in off where !modes.isEmpty { offModes[org] = Set(modes) }
        }
        return ModeCutoffs(byOrg: byOrg, off: offModes)
    }

    /// Through the one atomic writer: a crash leaves the old or the new table, never half of one.
    func save(path: String) throws {
        let value = JSONValue.object([
            "version": .int(1),
            "modeCutoffs": .object(byOrg.mapValues { .object($0.mapValues { .int(Int64(clamping: $0)) }) }),
            "off": .object(off.mapValues { .array($0.sorted().map(JSONValue.string)) }),
        ])
        try AtomicFile.write(path, contents: Array(JSONWriter.write(value).utf8))
    }
}
