import Foundation
import Testing
@testable import DrawbridgeConfig

private let auth = #"auth: { masterKeyFile: "/var/lib/drawbridge/master.key" },"#

@Suite struct BackupConfigTests {
    @Test func defaultsAndPaths() throws {
        let fixture = Fixture()
        let config = try fixture.parse(minimalConfig(extra: auth + #"backup: { directory: "/var/backups/drawbridge" },"#))
        #expect(config.backup == BackupConfig(directory: "/var/backups/drawbridge", everyHours: 6, keepDays: 4,
                                              keyFile: fixture.directory + "/backup-keys.json"))
        let custom = try fixture.parse(minimalConfig(extra: auth + #"backup: { directory: "b", everyHours: 1, keepDays: 30, keyFile: "/k/keys.json" },"#))
        #expect(custom.backup == BackupConfig(directory: fixture.directory + "/b", everyHours: 1, keepDays: 30, keyFile: "/k/keys.json"))
        #expect(try fixture.parse(minimalConfig()).backup == nil)
    }

    static let cases: [(String, String, String)] = [
        (auth + "backup: {},", "backup.directory", "missing required key"),
        (auth + #"backup: { directory: "" },"#, "backup.directory", "must not be empty"),
        (auth + #"backup: { directory: "/b", everyHours: 0 },"#, "backup.everyHours", "1"),
        (auth + #"backup: { directory: "/b", keepDays: 0 },"#, "backup.keepDays", "1"),
        (auth + #"backup: { directory: "/b", keepDays: "4" },"#, "backup.keepDays", "expected"),
        (auth + #"backup: { directory: "/b", keyFile: "/b/keys.json" },"#, "backup.keyFile", "must not be inside the backup directory"),
        (auth + #"backup: { directory: "." },"#, "backup.directory", "directory of its own"),
        (auth + #"backup: { directory: "backups" },"#, "backup.directory", "the directory of the key file"),
        (auth + #"backup: { directory: "/k/b", keyFile: "/k/keys.json" },"#, "backup.directory", "the directory of the key file"),
        (auth + #"backup: { directory: "/b", keepdays: 4 },"#, "backup.keepdays", "did you mean keepDays"),
        (#"backup: { directory: "/b" },"#, "backup", "needs the auth section"),
    ]

    @Test(arguments: cases)
    func rejected(_ extra: String, _ path: String, _ message: String) {
        let issues = Fixture().issues(minimalConfig(extra: extra))
        #expect(issues.contains { $0.path == path && $0.message.contains(message) }, "\(issues)")
    }
}
