// DrawbridgeConfig: JSON5 configuration files into a validated, immutable snapshot.

/// One problem found in a configuration file.
/// `description` is `"file: path: message"` (or `"file: message"` when `path` is empty).
public struct ConfigIssue: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file as it was named to the loader, e.g. `conf/drawbridge.json5`.
    public var file: String
    /// Field path such as `routes[2].upstream`, or `line 12` for syntax errors; may be empty.
    public var path: String
    /// What is wrong.
    public var message: String

    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String {
        path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)"
    }
}

/// All problems found in one load; `description` has one issue per line.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]

    public init(issues: [ConfigIssue]) {
        self.issues = issues
    }

    public var description: String {
        issues.map(\.description).joined(separator: "\n")
    }
}

/// Accumulates issues for one file during a validation pass.
package final class IssueCollector {
    package let file: String
    package private(set) var issues: [ConfigIssue] = []

    package init(file: String) {
        self.file = file
    }

    package func add(_ path: String, _ message: String) {
        issues.append(ConfigIssue(file: file, path: path, message: message))
    }

    package var isEmpty: Bool { issues.isEmpty }
}
