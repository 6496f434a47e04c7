import DrawbridgeCrypto
import DrawbridgeIdentity
import Foundation
import Glibc

/// A user as the tests write it into users.json.
struct TestUser {
    var id: String
    var email: String
    var org = "acme"
    var roles: [String] = ["member"]
    var groups: [String] = []
    /// Memberships in further organisations (org, roles), after the one above.
    var moreMemberships: [(org: String, roles: [String])] = []
    var password: String? = "correct horse battery staple"
    var totpSeed: [UInt8]? = nil
    var status = "active"
    var expiresAt: UInt64? = nil
    var epoch: UInt64 = 0
}

/// Writes the identity files (users, API keys, sealed secrets) in the documented formats, with
/// a master key kept outside the configuration directory, as an operator's CLI would.
final class IdentityFiles {
    let masterKey = SecureRandom.bytes(32)
    let keyDir: String
    var keyPath: String { keyDir + "/master.key" }
    let sessionKey = SecureRandom.bytes(32)
    /// More session keys by id (rotation): the highest id seals.
    var extraSessionKeys: [Int: [UInt8]] = [:]
    /// Other sealed secrets by name (OIDC client secrets).
    var secrets: [String: [UInt8]] = [:]
    /// The gateway's assertion signing key (assertion-key-1).
    let assertionKey = try! ECPrivateKey.generate()
    var users: [TestUser] = []
    var apiKeys: [(record: APIKeyRecord, presented: String)] = []
    /// Cheap parameters: the tests hash many passwords; the gateway reads them from the hash.
    static let testScheme = PasswordHash.Scheme.scrypt(logN: 10, r: 8, p: 1)
    private var hashes: [String: String] = [:]

    init() {
        keyDir = FileManager.default.temporaryDirectory.appendingPathComponent("db-key-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: keyDir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: keyPath, contents: Data(hex(masterKey).utf8), attributes: [.posixPermissions: 0o600])
    }

    deinit { try? FileManager.default.removeItem(atPath: keyDir) }

    /// The `auth` and `organizations` sections for the gateway configuration.
    /// Roles for the tests' routes: `access: { methods: { "*": "app:use" } }` lets members in.
    static let defaultPolicy = #"roles: { member: { permissions: ["app:use"] }, admin: { permissions: ["*"] } },"#

    func configSections(modes: String = #"["password", "api_key"]"#, orgs: String? = nil, authExtra: String = "",
                        policy: String = IdentityFiles.defaultPolicy) -> String {
        """
        \(policy)
        auth: { masterKeyFile: "\(keyPath)", modes: \(modes), auditLog: "audit.log",
                loginLimits: { perAddress: 1000, perAccountFailures: 3, lockoutSeconds: 60 }, \(authExtra) },
        organizations: \(orgs ?? #"{ acme: { name: "Acme", emailDomains: ["acme.test"] }, beta: { name: "Beta", emailDomains: ["beta.test"] } }"#),
        """
    }

    @discardableResult
    func addAPIKey(org: String, roles: [String], revoked: Bool = false) -> String {
        var (presented, record) = APIKey.generate(orgId: org, roles: roles, now: UInt64(Date().timeIntervalSince1970))
        record.revoked = revoked
        apiKeys.append((record, presented))
        return presented
    }

    func write(to dir: String) throws {
        var userObjects: [String] = []
        for u in users {
            let more = u.moreMemberships.map { #", { "org": "\#($0.org)", "roles": \#(json($0.roles)), "groups": [] }"# }.joined()
            var fields = [#""id": "\#(u.id)""#, #""email": "\#(u.email)""#, #""status": "\#(u.status)""#,
                          #""memberships": [ { "org": "\#(u.org)", "roles": \#(json(u.roles)), "groups": \#(json(u.groups)) }\#(more) ]"#,
                          #""sessionEpoch": \#(u.epoch)"#]
            if let p = u.password {
                let key = u.id + "\u{0}" + p
                if hashes[key] == nil { hashes[key] = try PasswordHash.hash(p, scheme: Self.testScheme) }
                fields.append(#""passwordHash": "\#(hashes[key]!)""#)
            }
            if let e = u.expiresAt { fields.append(#""expiresAt": \#(e)"#) }
            if let seed = u.totpSeed { fields.append(#""totp": "\#(try seal(seed, name: "user/\(u.id)/totp", kind: "totp-seed"))""#) }
            userObjects.append("{ " + fields.joined(separator: ", ") + " }")
        }
        try #"{ "version": 1, "users": [ \#(userObjects.joined(separator: ",\n")) ] }"#
            .write(toFile: dir + "/users.json", atomically: true, encoding: .utf8)
        let keys = apiKeys.map { k in
            #"{ "id": "\#(k.record.keyId)", "org": "\#(k.record.orgId)", "roles": \#(json(k.record.roles)), "name": "test", "createdAt": \#(k.record.createdAt), "revoked": \#(k.record.revoked), "hash": "\#(Base64URL.encode(k.record.hash))" }"#
        }
        try #"{ "version": 1, "keys": [ \#(keys.joined(separator: ",\n")) ] }"#
            .write(toFile: dir + "/apikeys.json", atomically: true, encoding: .utf8)
        var sealed = [#""session-key-1": "\#(try seal(sessionKey, name: "session-key-1"))""#]
        for (id, key) in extraSessionKeys.sorted(by: { $0.key < $1.key }) {
            sealed.append(#""session-key-\#(id)": "\#(try seal(key, name: "session-key-\(id)"))""#)
        }
        sealed.append(#""assertion-key-1": "\#(try seal(Array(assertionKey.pem.utf8), name: "assertion-key-1"))""#)
        for (name, value) in secrets.sorted(by: { $0.key < $1.key }) {
            sealed.append(#""\#(name)": "\#(try seal(value, name: name))""#)
        }
        try #"{ "version": 1, "secrets": { \#(sealed.joined(separator: ", ")) } }"#
            .write(toFile: dir + "/secrets.json", atomically: true, encoding: .utf8)
    }

    /// The documented format (IDENTITY.md, "Secrets at rest"), written independently of the
    /// gateway's code: base64url( 2 | nonce | ciphertext | tag ) under
    /// HKDF-SHA256(master key, info "drawbridge at-rest v2 <kind>"), AAD "drawbridge-sealed-v2\0<kind>\0<name>".
    func seal(_ value: [UInt8], name: String, kind: String = "secret") throws -> String {
        let key = HKDF.sha256(ikm: masterKey, info: Array("drawbridge at-rest v2 \(kind)".utf8))
        let sealed = try AESGCM.sealCombined(key: key, plaintext: value, aad: Array("drawbridge-sealed-v2\u{0}\(kind)\u{0}\(name)".utf8))
        return Base64URL.encode([2] + sealed)
    }

    /// The format of earlier releases (version 1): what `drawbridge secret reseal` converts.
    func sealVersion1(_ value: [UInt8], name: String) throws -> String {
        let sealed = try AESGCM.sealCombined(key: masterKey, plaintext: value, aad: Array("drawbridge-secret-v1\u{0}\(name)".utf8))
        return Base64URL.encode([1] + sealed)
    }

    private func json(_ list: [String]) -> String { "[" + list.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
    private func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
}

/// A browser-like client for the sign-in flow: keeps cookies, speaks raw HTTP over TLS.
final class SignInClient {
    let gw: GatewayFixture
    var cookies: [String: String] = [:]
    var host = "localhost"

    init(_ gw: GatewayFixture) { self.gw = gw }

    var cookieHeader: String {
        cookies.isEmpty ? "" : "Cookie: " + cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") + "\r\n"
    }

    func absorb(_ r: Response) {
        for c in r.headers("set-cookie") {
            let pair = c.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(pair[0]), value = pair.count > 1 ? String(pair[1]) : ""
            if value.isEmpty || c.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
    }

    @discardableResult
    func get(_ path: String, headers: String = "") throws -> Response {
        let r = try gw.request("GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\(cookieHeader)\(headers)Connection: close\r\n\r\n")
        absorb(r)
        return r
    }

    @discardableResult
    func post(_ path: String, form: [(String, String)], headers: String = "") throws -> Response {
        let body = form.map { "\(enc($0.0))=\(enc($0.1))" }.joined(separator: "&")
        let r = try gw.request("POST \(path) HTTP/1.1\r\nHost: \(host)\r\n\(cookieHeader)\(headers)Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        absorb(r)
        return r
    }

    var csrf: String { cookies["__Host-drawbridge-csrf"] ?? "" }

    /// The whole password sign-in: login page (CSRF cookie), password form. Returns the last response.
    func signIn(email: String, password: String, rd: String = "") throws -> Response {
        try get("/.drawbridge/login")
        return try post("/.drawbridge/login/password", form: [("csrf", csrf), ("rd", rd), ("email", email), ("password", password)])
    }

    private func enc(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s
    }
}
