import Foundation
@testable import DrawbridgeConfig

/// A temporary config directory with dummy cert/key files (content is irrelevant for the existence check).
struct Fixture {
    let directory: String
    static let file = "conf/drawbridge.json5"

    init() {
        directory = NSTemporaryDirectory() + "drawbridge-config-tests-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: directory + "/certs", withIntermediateDirectories: true)
        for name in ["certs/a.crt", "certs/a.key", "certs/b.crt", "certs/b.key", "ca.pem"] {
            _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data("dummy\n".utf8))
        }
    }

    func parse(_ text: String) throws -> GatewayConfig {
        try ConfigLoader.parse(json5: text, file: Fixture.file, baseDirectory: directory)
    }

    /// The issues produced by `text`; empty if it parsed.
    func issues(_ text: String) -> [ConfigIssue] {
        do {
            _ = try parse(text)
            return []
        } catch let error as ConfigErrors {
            return error.issues
        } catch {
            return [ConfigIssue(file: "?", path: "?", message: "unexpected error \(error)")]
        }
    }
}

/// A minimal valid config; `extra` is spliced in as additional top-level members, and the named
/// sections can be replaced.
func minimalConfig(listen: String = #"listen: { https: "0.0.0.0:8443" },"#,
                   tls: String = #"tls: { certificates: [ { cert: "certs/a.crt", key: "certs/a.key" } ] },"#,
                   upstreams: String = #"upstreams: { whoami: { servers: ["127.0.0.1:9000"] } },"#,
                   routes: String = #"routes: [ { upstream: "whoami", public: true } ],"#,
                   extra: String = "") -> String {
    """
    {
      \(listen)
      \(tls)
      \(upstreams)
      \(routes)
      \(extra)
    }
    """
}
