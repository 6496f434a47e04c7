import DrawbridgeCrypto
@testable import DrawbridgeOIDC
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A throwaway CA and a leaf certificate for 127.0.0.1 / localhost, made with the openssl CLI,
/// and the loopback issuer (Tests/IntegrationTests/Support/oidc_issuer.py) serving with them.
final class IssuerFixture: @unchecked Sendable {
    let dir: String
    let process = Process()
    let stdin = Pipe()
    let port: Int
    var issuer: String { "https://127.0.0.1:\(port)" }
    var caFile: String { dir + "/ca.pem" }
    var otherCAFile: String { dir + "/other-ca.pem" }

    static let script: String = {
        var u = URL(fileURLWithPath: #filePath)
        u.deleteLastPathComponent()   // DrawbridgeOIDCTests
        u.deleteLastPathComponent()   // Tests
        return u.appendingPathComponent("IntegrationTests/Support/oidc_issuer.py").path
    }()

    init() throws {
        signal(SIGPIPE, SIG_IGN)
        var template = Array("/tmp/drawbridge-oidc-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw FixtureError("mkdtemp failed") }
        dir = String(cString: p)
        Self.cleanup.add(dir)
        try """
        [req]
        distinguished_name = dn
        prompt = no
        [dn]
        CN = test
        [v3_ca]
        basicConstraints = critical,CA:TRUE
        keyUsage = critical,keyCertSign,cRLSign
        subjectKeyIdentifier = hash
        [leaf]
        basicConstraints = CA:FALSE
        subjectAltName = IP:127.0.0.1,DNS:localhost
        extendedKeyUsage = serverAuth
        """.write(toFile: dir + "/openssl.cnf", atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try Self.run("openssl", ["req", "-x509", "-config", "openssl.cnf", "-extensions", "v3_ca"] + ec
                     + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=drawbridge test CA"], in: dir)
        try Self.run("openssl", ["req", "-x509", "-config", "openssl.cnf", "-extensions", "v3_ca"] + ec
                     + ["-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=other CA"], in: dir)
        try Self.run("openssl", ["req", "-new", "-config", "openssl.cnf"] + ec
                     + ["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"], in: dir)
        try Self.run("openssl", ["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2",
                                 "-out", "leaf.pem", "-days", "2", "-extfile", "openssl.cnf", "-extensions", "leaf"], in: dir)

        let out = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, "--port", "0", "--cert", dir + "/leaf.pem", "--key", dir + "/leaf.key",
                             "--state-dir", dir + "/issuer-state", "--exit-on-stdin-eof"]
        process.standardOutput = out
        process.standardInput = stdin   // our end stays open until this process exits
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        // Blocks until the issuer prints its port (or exits: then availableData is empty).
        var line = ""
        while !line.contains("\n") {
            let d = out.fileHandleForReading.availableData
            if d.isEmpty { throw FixtureError("oidc_issuer.py exited before listening") }
            line += String(decoding: d, as: UTF8.self)
        }
        guard let p = line.split(separator: "\n").first?.split(separator: " ").last.flatMap({ Int($0) }) else {
            throw FixtureError("unexpected issuer output: \(line)")
        }
        port = p
    }

    /// Temporary directories removed when the test process exits (the shared fixture is a static,
    /// never deinitialised; the issuer itself exits when its stdin closes).
    final class Cleanup: @unchecked Sendable {
        private let lock = NSLock()
        private var dirs: [String] = []
        func add(_ d: String) {
            lock.lock(); dirs.append(d); lock.unlock()
            _ = Self.registered
        }
        func removeAll() {
            lock.lock(); let all = dirs; lock.unlock()
            for d in all { try? FileManager.default.removeItem(atPath: d) }
        }
        private static let registered: Void = { atexit { IssuerFixture.cleanup.removeAll() } }()
    }
    static let cleanup = Cleanup()

    deinit {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    static func run(_ tool: String, _ args: [String], in dir: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw FixtureError("\(tool) \(args.joined(separator: " ")) failed") }
    }

    func settings(issuer: String? = nil, caFile: String? = nil) -> OIDCProviderSettings {
        OIDCProviderSettings(name: "test", issuer: issuer ?? self.issuer, clientId: "drawbridge-test", clientSecret: "test-secret",
                             redirectURI: "https://gw.example/_auth/oidc/callback?x=1", caFile: caFile ?? self.caFile)
    }

    func control(_ path: String, _ json: String) throws {
        _ = try HTTPSClient.fetch(method: "POST", url: issuer + path, headers: [("Content-Type", "application/json")],
                                  body: Array(json.utf8), caFile: caFile, timeout: 10, context: "control")
    }

    func log() throws -> [String] {
        let r = try HTTPSClient.fetch(method: "GET", url: issuer + "/control/log", caFile: caFile, timeout: 10, context: "control")
        guard case .array(let items)? = StrictJSON.parse(r.body) else { throw FixtureError("bad log") }
        return items.compactMap { item in item["method"]?.stringValue.flatMap { m in item["path"]?.stringValue.map { "\(m) \($0)" } } }
    }

    /// The browser's part: follows the authorization URL to the 302 and returns (code, state).
    func authorize(_ url: String) throws -> (code: String, state: String) {
        let r = try HTTPSClient.send(method: "GET", url: url, headers: [], body: [], caFile: caFile, timeout: 10, context: "authorize")
        guard r.status == 302, let location = r.header("location"), let comps = URLComponents(string: location) else {
            throw FixtureError("authorize: HTTP \(r.status)")
        }
        #expect(location.hasPrefix("https://gw.example/_auth/oidc/callback?x=1&"))
        let items = comps.queryItems ?? []
        guard let code = items.first(where: { $0.name == "code" })?.value,
              let state = items.first(where: { $0.name == "state" })?.value else { throw FixtureError("no code in \(location)") }
        return (code, state)
    }
}

@Suite(.serialized) struct IssuerTests {
    static let fixture: Result<IssuerFixture, FixtureError> = {
        do { return .success(try IssuerFixture()) } catch { return .failure(error as? FixtureError ?? FixtureError("\(error)")) }
    }()

    /// One login: discovery, authorization, code exchange, ID token verification.
    func login(_ f: IssuerFixture, jwks: JWKSCache? = nil) throws -> Result<IDTokenClaims, IDTokenRejection> {
        let settings = f.settings()
        let endpoints = try OIDCDiscovery.fetch(settings: settings)
        let pkce = PKCE.generate()
        let state = Base64URL.encode(SecureRandom.bytes(16)), nonce = Base64URL.encode(SecureRandom.bytes(16))
        let url = AuthorizationRequest.url(endpoints: endpoints, settings: settings, state: state, nonce: nonce,
                                           codeChallenge: pkce.challenge, loginHint: "alice@example.com")
        let (code, returnedState) = try f.authorize(url)
        #expect(returnedState == state)
        let token = try TokenExchange.exchange(code: code, verifier: pkce.verifier, endpoints: endpoints, settings: settings)
        let cache = jwks ?? JWKSCache(jwksURI: endpoints.jwksURI, settings: settings)
        return IDTokenVerifier.verify(idToken: token.idToken, settings: settings, jwks: cache, nonce: nonce, now: Int64(time(nil)))
    }

    @Test func discovery() throws {
        let f = try Self.fixture.get()
        let e = try OIDCDiscovery.fetch(settings: f.settings())
        #expect(e == OIDCEndpoints(issuer: f.issuer, authorizationEndpoint: f.issuer + "/authorize",
                                   tokenEndpoint: f.issuer + "/token", jwksURI: f.issuer + "/jwks"))
    }

    @Test func wrongCAIsATLSError() throws {
        let f = try Self.fixture.get()
        do {
            _ = try OIDCDiscovery.fetch(settings: f.settings(caFile: f.otherCAFile))
            Issue.record("discovery succeeded with the wrong CA")
        } catch {
            guard case .tls(let context, let reason) = error else { Issue.record("not a TLS error: \(error)"); return }
            #expect(context == "discovery")
            #expect(reason.hasPrefix("certificate verify failed"))
        }
    }

    @Test func issuerMismatch() throws {
        let f = try Self.fixture.get()
        // localhost is in the certificate, so TLS succeeds; the document names 127.0.0.1.
        #expect(throws: OIDCError.invalidResponse(context: "discovery", reason: "issuer mismatch")) {
            try OIDCDiscovery.fetch(settings: f.settings(issuer: "https://localhost:\(f.port)"))
        }
    }

    @Test func loginRS256AndES256() throws {
        let f = try Self.fixture.get()
        try f.control("/control/user", #"{"sub":"u-1","email":"alice@example.com","email_verified":true,"hd":"example.com","alg":"RS256"}"#)
        let r = try login(f)
        guard case .success(let claims) = r else { Issue.record("RS256 login: \(r)"); return }
        #expect(claims.subject == "u-1")
        #expect(claims.email == "alice@example.com")
        #expect(claims.hostedDomain == "example.com")
        #expect(claims.expiresAt > claims.issuedAt)

        try f.control("/control/user", #"{"sub":"u-2","email":"bob@example.com","email_verified":"true","alg":"ES256"}"#)
        let r2 = try login(f)
        guard case .success(let claims2) = r2 else { Issue.record("ES256 login: \(r2)"); return }
        #expect(claims2.email == "bob@example.com")
    }

    @Test func badClaimsAreRejected() throws {
        let f = try Self.fixture.get()
        let cases: [(String, IDTokenRejection)] = [
            (#"{"email":"a@example.com","email_verified":true,"extra_claims":{"nonce":"wrong"}}"#, .nonce),
            (#"{"email":"a@example.com","email_verified":true,"extra_claims":{"iss":"https://evil"}}"#, .issuer),
            (#"{"email":"a@example.com","email_verified":true,"extra_claims":{"exp":1}}"#, .expired),
            (#"{"email":"a@example.com","email_verified":false}"#, .emailNotVerified),
            (#"{"email_verified":true}"#, .noEmail),
            (#"{"email":"a@example.com","email_verified":true,"alg":"none"}"#, .malformed),   // empty signature part
            (#"{"email":"a@example.com","email_verified":true,"kid":"no-such-kid"}"#, .signature),
        ]
        for (user, expected) in cases {
            try f.control("/control/user", user)
            #expect(try login(f) == .failure(expected), "\(user)")
        }
    }

    @Test func keyRotationRefetchesOnUnknownKid() throws {
        let f = try Self.fixture.get()
        try f.control("/control/user", #"{"email":"a@example.com","email_verified":true,"alg":"RS256"}"#)
        let endpoints = try OIDCDiscovery.fetch(settings: f.settings())
        let cache = JWKSCache(jwksURI: endpoints.jwksURI, settings: f.settings(), minRefreshInterval: 0)
        let before = try f.log().filter { $0 == "GET /jwks" }.count
        guard case .success = try login(f, jwks: cache) else { Issue.record("first login failed"); return }
        guard case .success = try login(f, jwks: cache) else { Issue.record("second login failed"); return }
        #expect(try f.log().filter { $0 == "GET /jwks" }.count == before + 1)   // cached for the second login
        try f.control("/control/rotate", "{}")
        guard case .success = try login(f, jwks: cache) else { Issue.record("login after rotation failed"); return }
        #expect(try f.log().filter { $0 == "GET /jwks" }.count == before + 2)
    }

    @Test func codeIsOneTimeAndClientAuthIsChecked() throws {
        let f = try Self.fixture.get()
        try f.control("/control/user", #"{"email":"a@example.com","email_verified":true}"#)
        let settings = f.settings()
        let endpoints = try OIDCDiscovery.fetch(settings: settings)
        let pkce = PKCE.generate()
        let url = AuthorizationRequest.url(endpoints: endpoints, settings: settings, state: "s", nonce: "n",
                                           codeChallenge: pkce.challenge, loginHint: nil)
        let (code, _) = try f.authorize(url)
        // Wrong PKCE verifier: refused (and the code is spent).
        #expect(throws: OIDCError.httpStatus(context: "token endpoint", status: 400, oauthError: "invalid_grant")) {
            try TokenExchange.exchange(code: code, verifier: PKCE.generate().verifier, endpoints: endpoints, settings: settings)
        }
        let (code2, _) = try f.authorize(url)
        _ = try TokenExchange.exchange(code: code2, verifier: pkce.verifier, endpoints: endpoints, settings: settings)
        do {
            _ = try TokenExchange.exchange(code: code2, verifier: pkce.verifier, endpoints: endpoints, settings: settings)
            Issue.record("a code was accepted twice")
        } catch {
            #expect(error == .httpStatus(context: "token endpoint", status: 400, oauthError: "invalid_grant"))
            #expect(!error.description.contains(code2))
        }
        var wrongSecret = settings
        wrongSecret.clientSecret = "nope"
        let (code3, _) = try f.authorize(url)
        #expect(throws: OIDCError.httpStatus(context: "token endpoint", status: 401, oauthError: "invalid_client")) {
            try TokenExchange.exchange(code: code3, verifier: pkce.verifier, endpoints: endpoints, settings: wrongSecret)
        }
    }

    @Test func connectionRefusedIsANetworkError() throws {
        // A port nothing listens on: bind one, note it, close it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = UInt16(bigEndian: addr.sin_port)
        close(fd)
        let s = OIDCProviderSettings(name: "x", issuer: "https://127.0.0.1:\(port)", clientId: "c", clientSecret: "s", redirectURI: "https://gw/cb")
        #expect(throws: OIDCError.self) { try OIDCDiscovery.fetch(settings: s) }
        do { _ = try OIDCDiscovery.fetch(settings: s) } catch {
            guard case .network = error else { Issue.record("expected a network error: \(error)"); return }
        }
    }
}
