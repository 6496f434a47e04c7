import Foundation
import Testing
@testable import DrawbridgeConfig

private let auth = #"auth: { masterKeyFile: "/var/lib/drawbridge/master.key" }, roles: { r: { permissions: ["a:b"] } },"#

private func config(_ route: String) -> String {
    minimalConfig(routes: #"routes: [ { upstream: "whoami", access: { methods: { GET: "a:b" } }, \#(route) } ],"#, extra: auth)
}

private func oauth2(_ fields: String) -> String {
    config(#"upstreamCredential: { oauth2: { \#(fields) } }"#)
}

/// `upstreamCredential: { oauth2 }` and `identity` on routes.
@Suite struct UpstreamCredentialConfigTests {
    @Test func oauth2Parses() throws {
        let c = try Fixture().parse(oauth2(#"tokenEndpoint: "https://idp.example/oauth/token?x=1", clientId: "gw", clientSecret: "vendor", authMethod: "client_secret_post", scope: "read write", audience: "https://api.example", caFile: "ca.pem""#))
        let o = try #require(c.routes[0].upstreamOAuth2)
        #expect(o.tokenEndpoint == "https://idp.example/oauth/token?x=1" && o.clientId == "gw" && o.clientSecret == "vendor")
        #expect(o.authMethod == .clientSecretPost && o.scope == "read write" && o.audience == "https://api.example")
        #expect(o.caFile?.hasSuffix("/ca.pem") == true)
        #expect(c.routes[0].upstreamCredential == nil)
        // Defaults: basic, no scope, no audience, the system CAs.
        let d = try #require(try Fixture().parse(oauth2(#"tokenEndpoint: "https://idp.example/token", clientId: "gw", clientSecret: "s""#)).routes[0].upstreamOAuth2)
        #expect(d.authMethod == .clientSecretBasic && d.scope == nil && d.audience == nil && d.caFile == nil)
    }

    @Test func identityParses() throws {
        #expect(try Fixture().parse(config(#"identity: "pseudonymous""#)).routes[0].identity == .pseudonymous)
        #expect(try Fixture().parse(config(#"identity: "full""#)).routes[0].identity == .full)
        #expect(try Fixture().parse(config("")).routes[0].identity == .full)
    }

    static let errorCases: [ConfigErrorTests.Case] = [
        .init(name: "oauth2: http endpoint", text: oauth2(#"tokenEndpoint: "http://idp.example/token", clientId: "gw", clientSecret: "s""#),
              path: "routes[0].upstreamCredential.oauth2.tokenEndpoint", reason: "must be an https:// URL (the client secret is sent to it)"),
        .init(name: "oauth2: userinfo in endpoint", text: oauth2(#"tokenEndpoint: "https://gw:pw@idp.example/token", clientId: "gw", clientSecret: "s""#),
              path: "routes[0].upstreamCredential.oauth2.tokenEndpoint", reason: "must not contain user information"),
        .init(name: "oauth2: fragment", text: oauth2(#"tokenEndpoint: "https://idp.example/token#x", clientId: "gw", clientSecret: "s""#),
              path: "routes[0].upstreamCredential.oauth2.tokenEndpoint", reason: "must not contain a fragment"),
        .init(name: "oauth2: no client secret", text: oauth2(#"tokenEndpoint: "https://idp.example/token", clientId: "gw""#),
              path: "routes[0].upstreamCredential.oauth2.clientSecret", reason: "missing required key"),
        .init(name: "oauth2: empty client secret name", text: oauth2(#"tokenEndpoint: "https://idp.example/token", clientId: "gw", clientSecret: """#),
              path: "routes[0].upstreamCredential.oauth2.clientSecret", reason: "must name a secret"),
        .init(name: "oauth2: unknown auth method", text: oauth2(#"tokenEndpoint: "https://idp.example/token", clientId: "gw", clientSecret: "s", authMethod: "private_key_jwt""#),
              path: "routes[0].upstreamCredential.oauth2.authMethod", reason: "must be \"client_secret_basic\" or \"client_secret_post\""),
        .init(name: "oauth2: bad scope", text: oauth2(#"tokenEndpoint: "https://idp.example/token", clientId: "gw", clientSecret: "s", scope: "a  b""#),
              path: "routes[0].upstreamCredential.oauth2.scope", reason: "scope tokens separated by single spaces"),
        .init(name: "oauth2: control character in client id", text: oauth2(#"tokenEndpoint: "https://idp.example/token", clientId: "g\nw", clientSecret: "s""#),
              path: "routes[0].upstreamCredential.oauth2.clientId", reason: "printable ASCII"),
        .init(name: "oauth2: missing CA file", text: oauth2(#"tokenEndpoint: "https://idp.example/token", clientId: "gw", clientSecret: "s", caFile: "nope.pem""#),
              path: "routes[0].upstreamCredential.oauth2.caFile", reason: "file not found"),
        .init(name: "oauth2 with a static header", text: config(#"upstreamCredential: { header: "X-Api", oauth2: { tokenEndpoint: "https://i/t", clientId: "gw", clientSecret: "s" } }"#),
              path: "routes[0].upstreamCredential", reason: "oauth2 takes no header"),
        .init(name: "identity: unknown value", text: config(#"identity: "anonymous""#),
              path: "routes[0].identity", reason: "must be \"full\" or \"pseudonymous\""),
        .init(name: "identity on a public route",
              text: minimalConfig(routes: #"routes: [ { upstream: "whoami", public: true, identity: "pseudonymous" } ],"#, extra: auth),
              path: "routes[0].identity", reason: "a public route sends no identity"),
        .init(name: "identity: two routes of one audience disagree",
              text: minimalConfig(routes: #"routes: [ { pathPrefix: "/a", upstream: "whoami", identity: "pseudonymous", access: { methods: { GET: "a:b" } } }, { pathPrefix: "/b", upstream: "whoami", access: { methods: { GET: "a:b" } } } ],"#, extra: auth),
              path: "routes[1].identity", reason: "same audience \"whoami\""),
    ]

    @Test(arguments: errorCases)
    func reportsFilePathAndReason(_ c: ConfigErrorTests.Case) {
        let issues = Fixture().issues(c.text)
        let matching = issues.filter { $0.path == c.path && $0.message.contains(c.reason) }
        #expect(matching.count == 1, "issues were: \(issues.map(\.description))")
    }
}
