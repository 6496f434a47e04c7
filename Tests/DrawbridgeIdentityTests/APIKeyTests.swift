import Testing
import DrawbridgeCrypto
@testable import DrawbridgeIdentity

struct APIKeyTests {
    static let issued = APIKey.generate(orgId: "acme", roles: ["ci"], now: Fixture.now)

    static func directory(_ record: APIKeyRecord = issued.record, orgs: [Organization] = [Fixture.acme, Fixture.googleOnly, Fixture.noPassword]) -> Directory {
        Fixture.directory(orgs: orgs, apiKeys: [record])
    }

    @Test func generatedKeyHasTheDocumentedShapeAndVerifies() throws {
        let (presented, record) = Self.issued
        #expect(presented.utf8.count == APIKey.length)
        #expect(presented.hasPrefix("db_\(record.keyId)_"))
        #expect(record.hash.count == 32)
        #expect(!presented.contains(Base64URL.encode(record.hash)))
        let id = try APIKey.verify(presented, directory: Self.directory(), global: Fixture.global).get()
        #expect(id == APIKeyIdentity(keyId: record.keyId, orgId: "acme", roles: ["ci"]))
    }

    @Test func keysAreUnique() {
        let a = APIKey.generate(orgId: "acme", roles: [], now: 0)
        let b = APIKey.generate(orgId: "acme", roles: [], now: 0)
        #expect(a.presented != b.presented && a.record.keyId != b.record.keyId)
    }

    @Test func parseRoundTrip() throws {
        let parsed = try #require(APIKey.parse(Self.issued.presented))
        #expect(parsed.keyId == Self.issued.record.keyId)
        #expect(APIKey.hash(secret: parsed.secret) == Self.issued.record.hash)
    }

    @Test func wrongSecretIsRefused() {
        let other = APIKey.generate(orgId: "acme", roles: [], now: 0).presented
        // Same key id, someone else's secret.
        let forged = "db_\(Self.issued.record.keyId)_" + String(other.suffix(43))
        #expect(APIKey.verify(forged, directory: Self.directory(), global: Fixture.global) == .failure(.wrongSecret))
    }

    @Test func everySecretCharacterChangeIsRefused() {
        let p = Array(Self.issued.presented.utf8)
        for i in (4 + 16)..<p.count {
            var t = p
            t[i] = t[i] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            let r = APIKey.verify(String(decoding: t, as: UTF8.self), directory: Self.directory(), global: Fixture.global)
            // The last character also carries padding bits, so a change there can be malformed instead.
            #expect(r == .failure(.wrongSecret) || r == .failure(.malformed), "position \(i)")
        }
    }

    @Test func unknownKeyIdIsRefused() {
        let other = APIKey.generate(orgId: "acme", roles: [], now: 0).presented
        #expect(APIKey.verify(other, directory: Self.directory(), global: Fixture.global) == .failure(.unknownKey))
    }

    @Test func revokedKeyIsRefused() {
        var r = Self.issued.record
        r.revoked = true
        #expect(APIKey.verify(Self.issued.presented, directory: Self.directory(r), global: Fixture.global) == .failure(.revoked))
    }

    static let modeCases: [(String, OrgModePolicy, Set<AuthMode>, APIKeyRejection?)] = [
        ("inherit", .inheritGlobal, Fixture.allModes, nil),
        ("org disables api keys", .disable([.apiKey]), Fixture.allModes, .modeDisabled),
        ("org allows only google", .only([Fixture.google]), Fixture.allModes, .modeDisabled),
        ("org allows api keys", .only([.apiKey]), Fixture.allModes, nil),
        ("globally off", .inheritGlobal, [.password], .modeDisabled),
    ]

    @Test(arguments: modeCases)
    func modeMustBeEnabledForTheKeysOrg(_ name: String, _ policy: OrgModePolicy, _ enabled: Set<AuthMode>, _ expected: APIKeyRejection?) {
        var org = Fixture.acme
        org.modePolicy = policy
        let d = Self.directory(orgs: [org, Fixture.googleOnly, Fixture.noPassword])
        let r = APIKey.verify(Self.issued.presented, directory: d, global: GlobalAuthSettings(enabledModes: enabled))
        if let expected { #expect(r == .failure(expected), "\(name)") } else { #expect((try? r.get()) != nil, "\(name)") }
    }

    static var malformed: [String] {
        let good = Self.issued.presented
        let id = Self.issued.record.keyId
        let secret = String(good.suffix(43))
        return [
            "", "db_", "db__", good + "A", String(good.dropLast()), " " + good, good + "\n",
            "DB_\(id)_\(secret)", "xx_\(id)_\(secret)",
            "db_\(id.uppercased())_\(secret)",             // key id must be lowercase hex
            "db_\(String(id.dropLast()))g_\(secret)",      // non-hex key id
            "db_\(id)-\(secret)",                          // wrong separator
            "db_\(id)_\(String(secret.dropLast()))=",      // padding
            "db_\(id)_\(String(secret.dropLast()))+",      // standard base64 alphabet
            "db_\(id)_\(String(secret.dropLast()))B",      // non-zero trailing bits (non-canonical)
            "db_\(id)_" + String(repeating: "é", count: 21) + "A",
            "Bearer " + good,
        ]
    }

    @Test(arguments: malformed)
    func malformedKeysAreRefused(_ s: String) {
        #expect(APIKey.parse(s) == nil)
        #expect(APIKey.verify(s, directory: Self.directory(), global: Fixture.global) == .failure(.malformed))
    }

    @Test func hashIsDomainSeparated() {
        let secret = Array(repeating: UInt8(7), count: 32)
        #expect(APIKey.hash(secret: secret) != SHA256.hash(secret))
    }
}
