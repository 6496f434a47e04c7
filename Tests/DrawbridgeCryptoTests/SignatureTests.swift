import Foundation
import Testing
@testable import DrawbridgeCrypto

@Suite struct ECDSATests {
    @Test func es256SignVerifyRoundTrip() throws {
        let key = try ECPrivateKey.generate()
        let msg = Array("gateway assertion".utf8)
        let sig = try key.signES256(msg)
        #expect(sig.count == 64)
        #expect(key.publicKey.verifyES256(message: msg, rawSignature: sig))
        #expect(!key.publicKey.verifyES256(message: msg + [0], rawSignature: sig))
        var bad = sig; bad[10] ^= 1
        #expect(!key.publicKey.verifyES256(message: msg, rawSignature: bad))
        #expect(!key.publicKey.verifyES256(message: msg, rawSignature: Array(sig.prefix(63))))
        #expect(!key.publicKey.verifyES256(message: msg, rawSignature: []))
        let other = try ECPrivateKey.generate()
        #expect(!other.publicKey.verifyES256(message: msg, rawSignature: sig))
        // Empty message signs fine too.
        #expect(key.publicKey.verifyES256(message: [], rawSignature: try key.signES256([])))
    }

    @Test func pemRoundTrip() throws {
        let key = try ECPrivateKey.generate()
        #expect(key.pem.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let again = try ECPrivateKey(pem: key.pem)
        #expect(again.publicKey.x == key.publicKey.x && again.publicKey.y == key.publicKey.y)
        let msg = Array("m".utf8)
        #expect(key.publicKey.verifyES256(message: msg, rawSignature: try again.signES256(msg)))
        let pub = try ECPublicKey(x: key.publicKey.x, y: key.publicKey.y)
        #expect(pub.verifyES256(message: msg, rawSignature: try key.signES256(msg)))
    }

    @Test func badPEMs() {
        #expect(throws: CryptoError.self) { try ECPrivateKey(pem: "") }
        #expect(throws: CryptoError.self) { try ECPrivateKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
    }

    @Test func rejectsPointsOffTheCurve() throws {
        let key = try ECPrivateKey.generate()
        var y = key.publicKey.y; y[31] ^= 1
        #expect(throws: CryptoError.self) { try ECPublicKey(x: key.publicKey.x, y: y) }
        #expect(throws: CryptoError.self) { try ECPublicKey(x: [UInt8](repeating: 0, count: 32), y: [UInt8](repeating: 0, count: 32)) }
        #expect(throws: CryptoError.self) { try ECPublicKey(x: Array(key.publicKey.x.prefix(31)), y: key.publicKey.y) }
        #expect(throws: CryptoError.self) { try ECPublicKey(jwkCrv: "P-384", x: "AA", y: "AA") }
    }
}

@Suite struct RSATests {
    @Test func rejectsSmallOrBadKeys() {
        let n1024 = [UInt8](repeating: 0xff, count: 128)
        #expect(throws: CryptoError.self) { try RSAPublicKey(modulus: n1024, exponent: [1, 0, 1]) }
        let n2048 = [UInt8](repeating: 0xff, count: 256)
        #expect(throws: CryptoError.self) { try RSAPublicKey(modulus: n2048, exponent: [1]) }
        #expect(throws: CryptoError.self) { try RSAPublicKey(modulus: n2048, exponent: [2]) }
        #expect(throws: CryptoError.self) { try RSAPublicKey(modulus: n2048, exponent: []) }
        #expect(throws: CryptoError.self) { try RSAPublicKey(modulus: n2048.dropLast() + [0xfe], exponent: [1, 0, 1]) }
        // 2047 bits: one bit short.
        #expect(throws: CryptoError.self) { try RSAPublicKey(modulus: [0x7f] + [UInt8](repeating: 0xff, count: 255), exponent: [1, 0, 1]) }
    }
}

@Suite struct JWSTests {
    static func json(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func signAndVerify() throws {
        let key = try ECPrivateKey.generate()
        let payload = Self.json(#"{"sub":"alice","exp":1700000000}"#)
        let token = try JWS.signES256(payloadJSON: payload, kid: "gw-1", key: key)
        var seenKid: String?? = nil
        let (header, body) = try JWS.verify(token) { kid in seenKid = kid; return [.ec(key.publicKey)] }
        #expect(seenKid == .some("gw-1"))
        #expect(body == payload)
        #expect(String(decoding: header, as: UTF8.self) == #"{"alg":"ES256","typ":"JWT","kid":"gw-1"}"#)
        // Wrong key, no keys, tampered payload.
        let other = try ECPrivateKey.generate()
        #expect(throws: CryptoError.verificationFailed) { try JWS.verify(token) { _ in [.ec(other.publicKey)] } }
        #expect(throws: CryptoError.verificationFailed) { try JWS.verify(token) { _ in [] } }
        var parts = token.split(separator: ".").map(String.init)
        parts[1] = Base64URL.encode(Self.json(#"{"sub":"mallory","exp":1700000000}"#))
        #expect(throws: CryptoError.verificationFailed) { try JWS.verify(parts.joined(separator: ".")) { _ in [.ec(key.publicKey)] } }
        // Multiple candidate keys: the right one is found.
        #expect(try JWS.verify(token) { _ in [.ec(other.publicKey), .ec(key.publicKey)] }.payload == payload)
    }

    @Test func kidIsEscaped() throws {
        let key = try ECPrivateKey.generate()
        let token = try JWS.signES256(payloadJSON: Self.json("{}"), kid: "a\"b\\c\n", key: key)
        var seen: String? = nil
        _ = try JWS.verify(token) { kid in seen = kid; return [.ec(key.publicKey)] }
        #expect(seen == "a\"b\\c\n")
        #expect(throws: CryptoError.self) { try JWS.signES256(payloadJSON: Self.json("[1]"), kid: "k", key: key) }
        #expect(throws: CryptoError.self) { try JWS.signES256(payloadJSON: Self.json("{"), kid: "k", key: key) }
    }

    /// Tokens whose header we forge around a genuine ES256 signature.
    static func forged(header: String, key: ECPrivateKey, sign: Bool = true) throws -> String {
        let input = Base64URL.encode(json(header)) + "." + Base64URL.encode(json("{}"))
        let sig = sign ? try key.signES256(Array(input.utf8)) : []
        return input + "." + Base64URL.encode(sig)
    }

    @Test func algorithmIsFixedByTheKey() throws {
        let key = try ECPrivateKey.generate()
        let ok = try Self.forged(header: #"{"alg":"ES256"}"#, key: key)
        var seenKid: String? = "unset"
        let verified = try JWS.verify(ok) { kid in seenKid = kid; return [.ec(key.publicKey)] }
        #expect(verified.payload == Self.json("{}"))
        #expect(seenKid == nil)
        for header in [#"{"alg":"none"}"#, #"{"alg":"HS256"}"#, #"{"alg":"ES384"}"#, #"{"alg":"RS256"}"#, #"{"alg":"es256"}"#,
                       #"{"alg":"PS256"}"#, #"{"alg":"ES256","crit":["b64"],"b64":false}"#] {
            let t = try Self.forged(header: header, key: key)
            #expect(throws: CryptoError.self, "\(header)") { try JWS.verify(t) { _ in [.ec(key.publicKey)] } }
        }
        // HS256 "signed" with the public key bytes as the HMAC secret (classic confusion).
        let input = Base64URL.encode(Self.json(#"{"alg":"HS256"}"#)) + "." + Base64URL.encode(Self.json("{}"))
        let mac = HMAC.sha256(key: [0x04] + key.publicKey.x + key.publicKey.y, data: Array(input.utf8))
        #expect(throws: CryptoError.verificationFailed) { try JWS.verify(input + "." + Base64URL.encode(mac)) { _ in [.ec(key.publicKey)] } }
        // alg:none with an empty signature.
        let none = Base64URL.encode(Self.json(#"{"alg":"none"}"#)) + "." + Base64URL.encode(Self.json("{}")) + "."
        #expect(throws: CryptoError.self) { try JWS.verify(none) { _ in [.ec(key.publicKey)] } }
    }

    @Test(arguments: [
        #"{"alg":"ES256","alg":"none"}"#,   // duplicate member
        #"{"alg":"ES256""#, #"["ES256"]"#, #"{"alg":256}"#, #"{"kid":"x"}"#, #"{"alg":"ES256","kid":7}"#,
        #"{"alg":"ES256"} "x""#, "{\"alg\":\"ES256\",\"x\":\"\u{1}\"}", #"{"alg":"ES\ud800256"}"#,
    ])
    func malformedHeadersRejected(_ header: String) throws {
        let key = try ECPrivateKey.generate()
        let t = try Self.forged(header: header, key: key)
        #expect(throws: CryptoError.self) { try JWS.verify(t) { _ in [.ec(key.publicKey)] } }
    }

    @Test func headerWhitespaceAndEscapesAccepted() throws {
        let key = try ECPrivateKey.generate()
        let t = try Self.forged(header: "{ \"alg\" :\t\"ES\\u0032\\u00356\",\n \"kid\":\"k\\/1\", \"x\":[1,-2.5e3,true,null,{}] }", key: key)
        var kidSeen: String? = nil
        _ = try JWS.verify(t) { kid in kidSeen = kid; return [.ec(key.publicKey)] }
        #expect(kidSeen == "k/1")
    }

    @Test func jwkSetSelection() throws {
        let a = try ECPrivateKey.generate(), b = try ECPrivateKey.generate()
        func ec(_ k: ECPrivateKey, _ extra: String) -> String {
            #"{"kty":"EC","crv":"P-256","x":"\#(Base64URL.encode(k.publicKey.x))","y":"\#(Base64URL.encode(k.publicKey.y))"\#(extra)}"#
        }
        let set = #"{"keys":[\#(ec(a, #","kid":"a","use":"sig","alg":"ES256""#)),\#(ec(b, #","kid":"b","use":"enc""#)),\#(ec(b, #","kid":"b2","alg":"RS256""#)),{"kty":"oct","k":"AAAA","kid":"h"},{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"small"}]}"#
        let entries = try JWK.parseSet(Self.json(set))
        #expect(entries.map(\.kid) == ["a"])
        let token = try JWS.signES256(payloadJSON: Self.json("{}"), kid: "a", key: a)
        #expect(throws: Never.self) { try JWS.verify(token) { JWK.select(entries, kid: $0) } }
        let tokenB = try JWS.signES256(payloadJSON: Self.json("{}"), kid: "b", key: b)
        #expect(throws: CryptoError.verificationFailed) { try JWS.verify(tokenB) { JWK.select(entries, kid: $0) } }
        #expect(throws: CryptoError.self) { try JWK.parseSet(Self.json(#"{"keys":{}}"#)) }
    }

    @Test(arguments: ["", ".", "..", "a.b", "a.b.c.d", "e30.e30.", ".e30.AA", "e30=.e30.AA", "e30.e30.AA==", "e30 .e30.AA"])
    func structurallyMalformed(_ t: String) throws {
        let key = try ECPrivateKey.generate()
        #expect(throws: CryptoError.self) { try JWS.verify(t) { _ in [.ec(key.publicKey)] } }
    }
}
