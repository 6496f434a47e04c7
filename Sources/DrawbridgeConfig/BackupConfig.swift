import Foundation

/// The `backup` section: scheduled, encrypted backups of the gateway's state (docs/BACKUP.md).
public struct BackupConfig: Sendable, Equatable {
    /// Absolute path of the directory holding the archives (created with mode 0700 when missing).
    public var directory: String
    /// A backup is made when the newest one is this old (and at start when none is).
    public var everyHours: Int
    /// The rolling window: an archive older than this has its data key destroyed, then its file.
    public var keepDays: Int
    /// Absolute path of the file of sealed data keys; never inside `directory`.
    public var keyFile: String

    public init(directory: String, everyHours: Int = 6, keepDays: Int = 4, keyFile: String) {
        self.directory = directory
        self.everyHours = everyHours
        self.keepDays = keepDays
        self.keyFile = keyFile
    }
}

extension Validator {
    static let backupKeys = ["directory", "everyHours", "keepDays", "keyFile"]

    func backupSection(_ top: ObjectReader, auth: AuthConfig?) -> BackupConfig? {
        guard let value = top.value("backup"),
              let b = ObjectReader(value, path: "backup", known: Self.backupKeys, issues: issues) else { return nil }
        let everyHours = b.int("everyHours", default: 6, range: 1...168)
        let keepDays = b.int("keepDays", default: 4, range: 1...365)
        guard let directoryText = b.requiredString("directory") else { return nil }
        guard !directoryText.isEmpty else { issues.add(b.fieldPath("directory"), "must not be empty"); return nil }
        guard let auth else {
            issues.add("backup", "needs the auth section (the master key seals the archives' data keys)")
            return nil
        }
        let directory = ConfigLoader.absolute(directoryText, base: baseDirectory)
        // Default: next to the secrets file, so it is never in the directory that gets copied off the machine.
        let stateDirectory = (auth.secretsFile as NSString).deletingLastPathComponent
        let keyFile = b.string("keyFile").map { ConfigLoader.absolute($0, base: baseDirectory) } ?? stateDirectory + "/backup-keys.json"
        // A key file travelling with the archives would undo crypto-erasure for every copy of the directory.
        if keyFile.hasPrefix(directory.hasSuffix("/") ? directory : directory + "/") {
            issues.add(b.fieldPath(b.value("keyFile") == nil ? "directory" : "keyFile"),
                       "the key file \(keyFile) must not be inside the backup directory \(directory)")
        }
        let keyDirectory = (keyFile as NSString).deletingLastPathComponent
        if directory == ConfigLoader.absolute(".", base: baseDirectory) || directory == stateDirectory {
            issues.add(b.fieldPath("directory"), "must be a directory of its own, not the configuration or state directory")
        } else if directory.hasPrefix(keyDirectory.hasSuffix("/") ? keyDirectory : keyDirectory + "/") {
            // A copy of the key file's directory would carry the archives together with their keys.
            issues.add(b.fieldPath("directory"), "must not be inside \(keyDirectory), the directory of the key file \(keyFile)")
        }
        return BackupConfig(directory: directory, everyHours: everyHours, keepDays: keepDays, keyFile: keyFile)
    }
}
