import DrawbridgeHTTP
import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeIdentity
import Testing
@testable import DrawbridgeDecision

@Suite struct FormsTests {
    @Test(arguments: [
        ("a=1&b=2", ["a": "1", "b": "2"]),
        ("email=a%40b.test&x=+y+", ["email": "a@b.test", "x": " y "]),
        ("a=1&a=2", ["a": "1"]),                 // first wins: a later duplicate cannot override a checked value
        ("bad=%zz%4", ["bad": "%zz%4"]),         // invalid escapes stay literal
        ("flag&=v&&", ["flag": "", "": "v"]),
        ("n=%00x", ["n": "\u{0}x"]),
    ])
    func parse(_ input: String, _ expected: [String: String]) {
        #expect(Forms.parse(Array(input.utf8)) == expected)
    }

    @Test func percentEncodeKeepsOnlyUnreserved() {
        #expect(Forms.percentEncode("a b/c?d=é~._-") == "a%20b%2Fc%3Fd%3D%C3%A9~._-")
    }

    @Test func htmlEscapesEveryMarkupCharacter() {
        #expect(Forms.html("<a href=\"x\" onclick='y'>&</a>") == "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;")
    }
}

@Suite struct SealedValueTests {
    let ring = try! SessionKeyRing(current: SessionKey.generate(id: 2), previous: [SessionKey.generate(id: 1)])

    @Test func roundTripAndPurposeBinding() {
        let s = Sealed.seal(["u1", "acme"], purpose: .mfa, expiresAt: 2000, ring: ring)
        #expect(Sealed.open(s, purpose: .mfa, ring: ring, now: 1000, count: 2) == ["u1", "acme"])
        #expect(Sealed.open(s, purpose: .returnAddress, ring: ring, now: 1000, count: 2) == nil)  // minted for another purpose
        #expect(Sealed.open(s, purpose: .mfa, ring: ring, now: 2000, count: 2) == nil)     // expired
        #expect(Sealed.open(s, purpose: .mfa, ring: ring, now: 1000, count: 3) == nil)     // wrong shape
        let other = try! SessionKeyRing(current: SessionKey.generate(id: 2))
        #expect(Sealed.open(s, purpose: .mfa, ring: other, now: 1000, count: 2) == nil)    // another key
        var bytes = Base64URL.decode(s)!
        for i in [0, 1, 14, bytes.count - 1] {
            var t = bytes
            t[i] ^= 1
            #expect(Sealed.open(Base64URL.encode(t), purpose: .mfa, ring: ring, now: 1000, count: 2) == nil, "byte \(i)")
        }
        bytes.removeLast()
        #expect(Sealed.open(Base64URL.encode(bytes), purpose: .mfa, ring: ring, now: 1000, count: 2) == nil)
    }

    struct ReturnCase: Sendable {
        let host: String, path: String, requestHost: String, expected: String
    }

    @Test(arguments: [
        ReturnCase(host: "app.test", path: "/x?y=1", requestHost: "app.test", expected: "/x?y=1"),
        ReturnCase(host: "App.Test:8443", path: "/x", requestHost: "app.test:8443", expected: "/x"),
        ReturnCase(host: "app.test.:443", path: "/x", requestHost: "APP.test", expected: "/x"),           // one host, one normal form
        ReturnCase(host: "[0::1]:8443", path: "/x", requestHost: "[::1]:8443", expected: "/x"),
        ReturnCase(host: "[::1]:8443", path: "/x", requestHost: "[::2]:8443", expected: "/"),
        ReturnCase(host: "allowed.test:8443", path: "/x", requestHost: "app.test", expected: "https://allowed.test:8443/x"),
        ReturnCase(host: "app.test:8443", path: "/x", requestHost: "app.test:9443", expected: "/"),
        ReturnCase(host: "other.test", path: "/x", requestHost: "app.test", expected: "/"),              // not configured
        ReturnCase(host: "allowed.test", path: "/x", requestHost: "app.test", expected: "https://allowed.test/x"),
        ReturnCase(host: "app.test", path: "//evil.test/x", requestHost: "app.test", expected: "/"),     // scheme-relative
        ReturnCase(host: "app.test", path: "/\\evil.test", requestHost: "app.test", expected: "/"),
        ReturnCase(host: "app.test", path: "https://evil.test/", requestHost: "app.test", expected: "/"),
        ReturnCase(host: "app.test", path: "/a\r\nSet-Cookie: x=1", requestHost: "app.test", expected: "/"),
    ])
    func returnAddress(_ c: ReturnCase) {
        let sealed = ReturnAddress.seal(host: c.host, pathAndQuery: c.path, ring: ring, now: 1000)
        #expect(ReturnAddress.resolve(sealed, requestHost: c.requestHost, allowed: ["allowed.test"], ring: ring, now: 1001) == c.expected)
    }

    @Test func unsealedReturnAddressIsIgnored() {
        #expect(ReturnAddress.resolve("https://evil.test/", requestHost: "app.test", allowed: [], ring: ring, now: 1) == "/")
        #expect(ReturnAddress.resolve("", requestHost: "app.test", allowed: [], ring: ring, now: 1) == "/")
    }
}

@Suite struct LoginThrottleTests {
    let limits = LoginLimitsConfig(perAddress: 5, perAccountFailures: 3, windowSeconds: 60, lockoutSeconds: 10, maxLockoutSeconds: 40)

    /// A clock the test moves by hand (the throttle's own is CLOCK_MONOTONIC).
    final class Clock: @unchecked Sendable { var now: Double = 0 }

    @Test func accountLocksAfterFailuresAndTheLockDoublesThenDecays() {
        let c = Clock(), t = LoginThrottle(clock: { c.now })
        func failed(at s: Double) -> Double? { c.now = s; return t.failed(account: "a", limits: limits) }
        #expect(failed(at: 0) == nil)
        #expect(failed(at: 1) == nil)
        #expect(failed(at: 2) == 10)           // 3rd failure: 10 s
        c.now = 5
        #expect(t.attempt(address: "ip1", account: "a", limits: limits) == .accountLocked(remainingSeconds: 7))
        #expect(t.attempt(address: "ip1", account: "b", limits: limits) == .allowed) // other accounts unaffected
        for s in 13...14 { _ = failed(at: Double(s)) }
        #expect(failed(at: 15) == 20)          // next lockout: 20 s
        for s in 36...37 { _ = failed(at: Double(s)) }
        #expect(failed(at: 38) == 40)          // 40 s: capped at maxLockoutSeconds
        // Quiet for long enough: the level decays back and the next lockout is short again.
        for s in 300...301 { _ = failed(at: Double(s)) }
        #expect(failed(at: 302) == 10)
    }

    @Test func addressLimitCountsEveryAttemptAndResetsWithTheWindow() {
        let c = Clock(), t = LoginThrottle(clock: { c.now })
        for i in 0..<5 { #expect(t.attempt(address: "ip", account: "u\(i)", limits: limits) == .allowed) }
        c.now = 1
        #expect(t.attempt(address: "ip", account: "new", limits: limits) == .addressLimited)
        #expect(t.attempt(address: "other", account: nil, limits: limits) == .allowed)
        c.now = 61
        #expect(t.attempt(address: "ip", account: "new", limits: limits) == .allowed)
    }

    @Test func onlyAWholeSignInClearsTheFailureCount() {
        let c = Clock(), t = LoginThrottle(clock: { c.now })
        _ = t.failed(account: "a", limits: limits)
        _ = t.failed(account: "a", limits: limits)
        t.succeeded(account: "a")
        #expect(t.failed(account: "a", limits: limits) == nil)
        // Failures are consecutive, not per window: a slow guesser is locked all the same.
        c.now = 1000
        #expect(t.failed(account: "a", limits: limits) == nil)
        c.now = 5000
        #expect(t.failed(account: "a", limits: limits) == 10)
    }

    @Test func theRealClockIsMonotonic() {
        let a = LoginThrottle.monotonicSeconds(), b = LoginThrottle.monotonicSeconds()
        #expect(b >= a)
    }
}
