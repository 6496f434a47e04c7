import Testing
import DrawbridgeCrypto
@testable import DrawbridgeIdentity

struct SessionTokenTests {
    static let keyA = SessionKey.generate(id: 1)
    static let keyB = SessionKey.generate(id: 2)
    static let ringA = try! SessionKeyRing(current: keyA)
    static let now = Fixture.now

    static func claims(mode: AuthMode = Fixture.google, mfa: Bool = true) -> SessionClaims {
        SessionClaims.issue(user: Fixture.alice, org: Fixture.acme, mode: mode, mfa: mfa, global: Fixture.global, now: now)
    }

    static func raw(_ token: String) -> [UInt8] { Base64URL.decode(token)! }
    static func text(_ raw: [UInt8]) -> String { Base64URL.encode(raw) }

    static let modes: [AuthMode] = [.password, .apiKey, Fixture.google, .oidc(provider: ""), .oidc(provider: "ünïcode-idp")]

    @Test(arguments: modes, [false, true])
    func roundTrip(_ mode: AuthMode, _ mfa: Bool) throws {
        let c = Self.claims(mode: mode, mfa: mfa)
        let token = try SessionToken.seal(c, with: Self.ringA)
        #expect(try SessionToken.open(token, with: Self.ringA, now: Self.now).get() == c)
        #expect(try SessionToken.open(Array(token.utf8), with: Self.ringA, now: Self.now).get() == c)
        #expect(c.expiresAt == Self.now + Fixture.global.absoluteTimeoutSeconds)
        #expect(c.epoch == Fixture.alice.sessionEpoch)
    }

    @Test func sealingTwiceGivesDifferentTokensAndIds() throws {
        let a = try SessionToken.seal(Self.claims(), with: Self.ringA)
        let b = try SessionToken.seal(Self.claims(), with: Self.ringA)
        #expect(a != b)
        #expect(Self.claims().sessionId != Self.claims().sessionId)
    }

    @Test func everySingleBitFlipIsRejected() throws {
        let raw = Self.raw(try SessionToken.seal(Self.claims(), with: Self.ringA))
        for position in raw.indices {
            for mask: UInt8 in [0x01, 0x80, 0xff] {
                var t = raw
                t[position] ^= mask
                let result = SessionToken.open(Self.text(t), with: Self.ringA, now: Self.now)
                guard case .failure(let why) = result else {
                    Issue.record("flip at \(position) mask \(mask) accepted"); continue
                }
                switch position {
                case 0: #expect(why == .unsupportedVersion(raw[0] ^ mask))
                case 1: #expect(why == .unknownKeyId(raw[1] ^ mask))
                default: #expect(why == .authenticationFailed)
                }
            }
        }
    }

    @Test func everyTruncationIsRejected() throws {
        let raw = Self.raw(try SessionToken.seal(Self.claims(), with: Self.ringA))
        for length in 0..<raw.count {
            let result = SessionToken.open(Self.text(Array(raw.prefix(length))), with: Self.ringA, now: Self.now)
            let expected: SessionRejection = length < SessionToken.minimumSize ? .truncated : .authenticationFailed
            #expect(result == .failure(expected), "length \(length)")
        }
    }

    @Test(arguments: [[0], [0, 0], Array(repeating: 0xAA, count: 16)] as [[UInt8]])
    func extendedIsRejected(_ suffix: [UInt8]) throws {
        let raw = Self.raw(try SessionToken.seal(Self.claims(), with: Self.ringA))
        #expect(SessionToken.open(Self.text(raw + suffix), with: Self.ringA, now: Self.now) == .failure(.authenticationFailed))
    }

    @Test func wrongKeyUnderSameIdIsRejected() throws {
        let impostor = try SessionKeyRing(current: SessionKey.generate(id: 1))
        let token = try SessionToken.seal(Self.claims(), with: impostor)
        #expect(SessionToken.open(token, with: Self.ringA, now: Self.now) == .failure(.authenticationFailed))
    }

    @Test func rotationKeepsOldSessionsUntilTheKeyIsRemoved() throws {
        let old = try SessionToken.seal(Self.claims(), with: Self.ringA)
        let rotated = try SessionKeyRing(current: Self.keyB, previous: [Self.keyA])
        #expect(try SessionToken.open(old, with: rotated, now: Self.now).get().userId == "u-alice")
        let fresh = try SessionToken.seal(Self.claims(), with: rotated)
        #expect(Self.raw(fresh)[1] == 2)
        #expect(SessionToken.open(fresh, with: Self.ringA, now: Self.now) == .failure(.unknownKeyId(2)))
        let retired = try SessionKeyRing(current: Self.keyB)
        #expect(SessionToken.open(old, with: retired, now: Self.now) == .failure(.unknownKeyId(1)))
    }

    @Test func keyIdSwapToAnotherRingKeyFailsAuthentication() throws {
        // Both ids are known: the id is in the AAD and picks the key, so either way the tag fails.
        let ring = try SessionKeyRing(current: Self.keyA, previous: [Self.keyB])
        var raw = Self.raw(try SessionToken.seal(Self.claims(), with: ring))
        raw[1] = 2
        #expect(SessionToken.open(Self.text(raw), with: ring, now: Self.now) == .failure(.authenticationFailed))
    }

    @Test(arguments: [0 as UInt8, 1, 0xff])   // 1: the format before per-purpose subkeys
    func otherVersionsAreRejected(_ v: UInt8) throws {
        var raw = Self.raw(try SessionToken.seal(Self.claims(), with: Self.ringA))
        raw[0] = v
        #expect(SessionToken.open(Self.text(raw), with: Self.ringA, now: Self.now) == .failure(.unsupportedVersion(v)))
    }

    @Test func expiresAtTheAbsoluteEnd() throws {
        let c = Self.claims()
        let token = try SessionToken.seal(c, with: Self.ringA)
        #expect((try? SessionToken.open(token, with: Self.ringA, now: c.expiresAt - 1).get()) == c)
        #expect(SessionToken.open(token, with: Self.ringA, now: c.expiresAt) == .failure(.expired))
        #expect(SessionToken.open(token, with: Self.ringA, now: UInt64.max) == .failure(.expired))
    }

    static let garbage: [String] = ["", "=", "not base64!", "AAAA====", String(repeating: "A", count: 4097), "A", "é"]

    @Test(arguments: garbage)
    func malformedCookiesAreRejected(_ cookie: String) {
        let r = SessionToken.open(cookie, with: Self.ringA, now: Self.now)
        #expect(r == .failure(.malformedEncoding) || r == .failure(.truncated))
    }

    @Test func invalidUTF8BytesAreRejected() {
        #expect(SessionToken.open([0xff, 0xfe, 0x41] as [UInt8], with: Self.ringA, now: Self.now) == .failure(.malformedEncoding))
    }

    @Test func authenticButInconsistentClaimsAreRejected() throws {
        var c = Self.claims()
        c.lastSeen = c.expiresAt + 1
        let token = try SessionToken.seal(c, with: Self.ringA)
        #expect(SessionToken.open(token, with: Self.ringA, now: Self.now) == .failure(.malformedClaims))
    }

    @Test func overlongClaimIsASealError() {
        var c = Self.claims()
        c.userId = String(repeating: "x", count: ClaimsCodec.maxStringLength + 1)
        #expect(throws: SessionSealError.claimTooLong) { try SessionToken.seal(c, with: Self.ringA) }
    }

    @Test func codecIsStrict() {
        let c = Self.claims()
        let bytes = ClaimsCodec.encode(c)!
        #expect(ClaimsCodec.decode(bytes) == c)
        var badMfa = bytes
        badMfa[badMfa.count - 16 - 1 - 32 - 1] = 2   // the mfa byte sits before the four u64s
        #expect(ClaimsCodec.decode(badMfa) == nil)
        #expect(ClaimsCodec.decode(bytes + [0]) == nil)
        for n in 0..<bytes.count { #expect(ClaimsCodec.decode(Array(bytes.prefix(n))) == nil) }
    }

    @Test(arguments: [(SessionKeyRingError.wrongKeyLength(id: 7), 31), (.wrongKeyLength(id: 7), 33), (.wrongKeyLength(id: 7), 0)])
    func keysMustBe32Bytes(_ err: SessionKeyRingError, _ length: Int) {
        #expect(throws: err) { try SessionKey(id: 7, material: Array(repeating: 1, count: length)) }
    }

    @Test func duplicateKeyIdsAreRefused() {
        #expect(throws: SessionKeyRingError.duplicateKeyId(1)) {
            try SessionKeyRing(current: Self.keyA, previous: [SessionKey.generate(id: 1)])
        }
    }
}
