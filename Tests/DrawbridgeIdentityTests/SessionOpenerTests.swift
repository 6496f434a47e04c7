import Testing
import DrawbridgeCrypto
@testable import DrawbridgeIdentity

/// `SessionOpener` (reused buffers and AES-GCM context) must decide exactly as `SessionToken.open`.
struct SessionOpenerTests {
    static let ringA = SessionTokenTests.ringA
    static let now = Fixture.now

    static func open(_ o: SessionOpener, _ token: [UInt8], ring: SessionKeyRing = ringA, now: UInt64 = now) -> Result<SessionClaims, SessionRejection> {
        token.withUnsafeBytes { o.open($0, with: ring, now: now) }
    }

    @Test func agreesWithSessionTokenOnEveryFlipAndTruncation() throws {
        let o = SessionOpener()   // one opener for everything: state must not leak between calls
        let raw = SessionTokenTests.raw(try SessionToken.seal(SessionTokenTests.claims(), with: Self.ringA))
        var variants: [[UInt8]] = [raw]
        for position in raw.indices {
            for mask: UInt8 in [0x01, 0x80] {
                var t = raw
                t[position] ^= mask
                variants.append(t)
            }
        }
        for length in 0..<raw.count { variants.append(Array(raw.prefix(length))) }
        variants.append(raw + [0])
        for (i, v) in variants.enumerated() {
            let text = SessionTokenTests.text(v)
            let expected = SessionToken.open(text, with: Self.ringA, now: Self.now)
            #expect(Self.open(o, Array(text.utf8)) == expected, "variant \(i)")
            // A good token right after a bad one still opens (no stale state in the context).
            #expect(Self.open(o, Array(SessionTokenTests.text(raw).utf8)) == SessionToken.open(SessionTokenTests.text(raw), with: Self.ringA, now: Self.now))
        }
    }

    @Test func switchesKeysAndModes() throws {
        let o = SessionOpener()
        let keyB = SessionKey.generate(id: 2)
        let both = try SessionKeyRing(current: keyB, previous: [SessionTokenTests.keyA])
        for mode in SessionTokenTests.modes {
            for ring in [Self.ringA, both, Self.ringA] {
                let c = SessionTokenTests.claims(mode: mode)
                let token = Array(try SessionToken.seal(c, with: ring).utf8)
                #expect(try Self.open(o, token, ring: both).get() == c)
            }
        }
        // A token sealed under an impostor key with a known id fails, and the right key still works after.
        let impostor = try SessionKeyRing(current: SessionKey.generate(id: 1))
        let fake = Array(try SessionToken.seal(SessionTokenTests.claims(), with: impostor).utf8)
        #expect(Self.open(o, fake, ring: both) == .failure(.authenticationFailed))
        let good = Array(try SessionToken.seal(SessionTokenTests.claims(), with: Self.ringA).utf8)
        #expect((try? Self.open(o, good, ring: both).get()) != nil)
    }

    @Test(arguments: SessionTokenTests.garbage)
    func garbageIsRejectedLikeSessionToken(_ cookie: String) {
        #expect(Self.open(SessionOpener(), Array(cookie.utf8)) == SessionToken.open(cookie, with: Self.ringA, now: Self.now))
    }

    @Test func expiryAndInconsistentClaims() throws {
        let o = SessionOpener()
        let c = SessionTokenTests.claims()
        let token = Array(try SessionToken.seal(c, with: Self.ringA).utf8)
        #expect(Self.open(o, token, now: c.expiresAt) == .failure(.expired))
        #expect((try? Self.open(o, token, now: c.expiresAt - 1).get()) == c)
        var bad = c
        bad.lastSeen = c.expiresAt + 1
        #expect(Self.open(o, Array(try SessionToken.seal(bad, with: Self.ringA).utf8)) == .failure(.malformedClaims))
    }

    /// `resolve` + `check` (what a cached session is judged by) gives validate's answer in every case.
    @Test(arguments: SessionValidatorTests.cases)
    func standingJudgesLikeValidate(_ c: SessionValidatorTests.Case) throws {
        guard c.expected != .revoked else { return }   // revocation is the caller's check
        let directory = try Directory(organizations: c.orgs, users: c.users)
        let standing = SessionValidator.resolve(c.claims, directory: directory, global: c.global)
        #expect(SessionValidator.check(c.claims, standing, now: c.now) == c.expected)
    }
}

/// Base64URL decoding into a reused buffer must accept and refuse exactly what `decode` does.
struct Base64URLBufferTests {
    @Test func agreesWithDecode() {
        var buffer: [UInt8] = []
        var inputs: [String] = ["", "A", "AA", "AB", "AAA", "AAB", "AAAA", "_-_-", "a+b/", "AA==", "é", "AAAAA"]
        for n in 0..<40 { inputs.append(Base64URL.encode((0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })) }
        for s in inputs {
            let expected = Base64URL.decode(s)
            let length = Array(s.utf8).withUnsafeBytes { Base64URL.decode($0, into: &buffer) }
            #expect(length.map { Array(buffer[0..<$0]) } == expected, "\(s)")
        }
        // Every character value at every position of a 4- and 3-character group.
        for c in 0...255 {
            for template in ["AAAA", "AAA", "AA"] {
                for p in 0..<template.utf8.count {
                    var bytes = Array(template.utf8)
                    bytes[p] = UInt8(c)
                    let expected = Base64URL.decode(String(decoding: bytes, as: UTF8.self))
                    let viaBuffer = bytes.withUnsafeBytes { Base64URL.decode($0, into: &buffer) }.map { Array(buffer[0..<$0]) }
                    if c < 0x80 { #expect(viaBuffer == expected, "\(bytes)") } else { #expect(viaBuffer == nil) }
                }
            }
        }
    }
}

/// The reusable AES-GCM context opens what `sealCombined` seals and nothing else.
struct AESGCMOpenerTests {
    @Test func opensAndRefuses() throws {
        let o = AESGCM.Opener()
        var scratch: [UInt8] = []
        let keys = [SecureRandom.bytes(32), SecureRandom.bytes(32)]
        for round in 0..<6 {
            let key = keys[round % 2]
            let plain = Array(SecureRandom.bytes(round * 40))
            let aad = Array("aad-\(round)".utf8)
            let sealed = try AESGCM.sealCombined(key: key, plaintext: plain, aad: aad)
            let n = sealed.withUnsafeBytes { s in aad.withUnsafeBytes { o.open(key: key, combined: s, aad: $0, scratch: &scratch) } }
            #expect(n.map { Array(scratch[0..<$0]) } == plain)
            // Wrong key, wrong AAD, flipped tag: refused, then the right one opens again.
            let other = keys[(round + 1) % 2]
            #expect(sealed.withUnsafeBytes { s in aad.withUnsafeBytes { o.open(key: other, combined: s, aad: $0, scratch: &scratch) } } == nil)
            #expect(sealed.withUnsafeBytes { s in [0x41].withUnsafeBytes { o.open(key: key, combined: s, aad: $0, scratch: &scratch) } } == nil)
            var flipped = sealed
            flipped[flipped.count - 1] ^= 1
            #expect(flipped.withUnsafeBytes { s in aad.withUnsafeBytes { o.open(key: key, combined: s, aad: $0, scratch: &scratch) } } == nil)
            if !plain.isEmpty { #expect(!scratch[0..<plain.count].elementsEqual(plain)) }   // nothing left behind
            #expect(sealed.withUnsafeBytes { s in aad.withUnsafeBytes { o.open(key: key, combined: s, aad: $0, scratch: &scratch) } }
                        .map { Array(scratch[0..<$0]) } == plain)
        }
        #expect([UInt8](repeating: 0, count: 27).withUnsafeBytes { o.open(key: keys[0], combined: $0, aad: $0, scratch: &scratch) } == nil)
    }
}
