import Foundation
import Testing
@testable import DrawbridgeCrypto

@Suite struct TOTPTests {
    // RFC 6238 Appendix B: seeds are the ASCII strings below; 8 digits, 30 s steps.
    static let seed1 = Array("12345678901234567890".utf8)
    static let seed256 = Array("12345678901234567890123456789012".utf8)
    static let seed512 = Array("1234567890123456789012345678901234567890123456789012345678901234".utf8)
    static let rfc6238: [(UInt64, String, String, String)] = [
        (59, "94287082", "46119246", "90693936"),
        (1111111109, "07081804", "68084774", "25091201"),
        (1111111111, "14050471", "67062674", "99943326"),
        (1234567890, "89005924", "91819424", "93441116"),
        (2000000000, "69279037", "90698825", "38618901"),
        (20000000000, "65353130", "77737706", "47863826"),
    ]

    @Test(arguments: rfc6238)
    func rfc6238AppendixB(_ v: (UInt64, String, String, String)) throws {
        #expect(try TOTP.code(secret: Self.seed1, time: v.0, digits: 8, algorithm: .sha1) == v.1)
        #expect(try TOTP.code(secret: Self.seed256, time: v.0, digits: 8, algorithm: .sha256) == v.2)
        #expect(try TOTP.code(secret: Self.seed512, time: v.0, digits: 8, algorithm: .sha512) == v.3)
        #expect(TOTP.verify(v.1, secret: Self.seed1, time: v.0, digits: 8, algorithm: .sha1))
    }

    @Test func sixDigitsIsTheLastSixOfEight() throws {
        #expect(try TOTP.code(secret: Self.seed1, time: 59) == "287082")
    }

    @Test func window() throws {
        let t: UInt64 = 1_700_000_000
        let now = try TOTP.code(secret: Self.seed1, time: t)
        #expect(TOTP.matchingCounter(now, secret: Self.seed1, time: t) == t / 30)
        #expect(TOTP.verify(now, secret: Self.seed1, time: t + 30))            // one step late: inside window 1
        #expect(!TOTP.verify(now, secret: Self.seed1, time: t + 60))           // two steps: outside
        #expect(!TOTP.verify(now, secret: Self.seed1, time: t + 30, window: 0))
        #expect(TOTP.matchingCounter(now, secret: Self.seed1, time: t - 30) == t / 30)
    }

    @Test(arguments: ["", "12345", "1234567", "12a456", " 12345", "１２３４５６"])
    func malformedCodesAreRejected(_ code: String) {
        #expect(!TOTP.verify(code, secret: Self.seed1, time: 59))
    }

    @Test func badParametersThrow() {
        #expect(throws: CryptoError.self) { try TOTP.code(secret: Self.seed1, time: 0, digits: 5) }
        #expect(throws: CryptoError.self) { try TOTP.code(secret: Self.seed1, time: 0, digits: 9) }
        #expect(throws: CryptoError.self) { try TOTP.code(secret: Self.seed1, time: 0, step: 0) }
        #expect(throws: CryptoError.self) { try TOTP.code(secret: [], time: 0) }
        #expect(!TOTP.verify("287082", secret: Self.seed1, time: 59, window: -1))
        #expect(TOTP.verify("755224", secret: Self.seed1, time: 0))   // counter 0 (RFC 4226 App. D), window at time 0
    }
}

@Suite struct KDFTests {
    // RFC 7914 §12.
    @Test func scryptRFC7914() throws {
        let a = try Scrypt.derive(password: [], salt: [], n: 16, r: 1, p: 1, length: 64)
        #expect(hex(a) == "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906")
        let b = try Scrypt.derive(password: Array("password".utf8), salt: Array("NaCl".utf8), n: 1024, r: 8, p: 16, length: 64)
        #expect(hex(b) == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
    }

    @Test func scryptRejectsBadParameters() {
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: [], salt: [], n: 15, r: 1, p: 1, length: 32) }
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: [], salt: [], n: 1, r: 1, p: 1, length: 32) }
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: [], salt: [], n: 16, r: 0, p: 1, length: 32) }
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: [], salt: [], n: 1 << 24, r: 64, p: 1, length: 32) } // 2 GiB
        #expect(throws: CryptoError.self) { try Scrypt.derive(password: [], salt: [], n: 16, r: 1, p: 1, length: 0) }
    }

    @Test func pbkdf2RejectsBadParameters() {
        #expect(throws: CryptoError.self) { try PBKDF2.sha256(password: [1], salt: [2], iterations: 0, length: 32) }
        #expect(throws: CryptoError.self) { try PBKDF2.sha256(password: [1], salt: [2], iterations: 1, length: 0) }
    }

    @Test func hashesAndHMACKnownAnswers() {
        #expect(hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SHA1.hash(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        // RFC 4231 test case 2.
        #expect(hex(HMAC.sha256(key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(hex(HMAC.sha512(key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8)))
                == "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737")
        #expect(HMAC.sha256(key: [], data: []).count == 32)
        #expect(SecureRandom.bytes(32).count == 32)
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
        #expect(SecureRandom.bytes(0) == [] && SecureRandom.bytes(-1) == [])
    }

    @Test(arguments: [([UInt8](), [UInt8](), true), ([1, 2], [1, 2], true), ([1, 2], [1, 3], false), ([1], [1, 0], false)])
    func constantTimeEquals(_ v: ([UInt8], [UInt8], Bool)) {
        #expect(ConstantTime.equals(v.0, v.1) == v.2)
    }
}

@Suite struct PasswordHashTests {
    // Cheap parameters keep the suite fast; the defaults are exercised once below.
    static let fastSchemes: [PasswordHash.Scheme] = [.scrypt(logN: 10, r: 8, p: 1), .pbkdf2SHA256(iterations: 1000)]

    @Test(arguments: fastSchemes)
    func roundTrip(_ scheme: PasswordHash.Scheme) throws {
        let h = try PasswordHash.hash("correct horse battery staple ✓", scheme: scheme)
        #expect(PasswordHash.verify("correct horse battery staple ✓", against: h))
        #expect(!PasswordHash.verify("correct horse battery staple", against: h))
        #expect(!PasswordHash.verify("", against: h))
        #expect(!PasswordHash.needsRehash(h, scheme: scheme))
        #expect(PasswordHash.needsRehash(h))
        // Salted: the same password hashes differently each time.
        #expect(try PasswordHash.hash("pw", scheme: scheme) != PasswordHash.hash("pw", scheme: scheme))
    }

    @Test func defaultsAndFormat() throws {
        let s = try PasswordHash.hash("hunter2")
        #expect(s.hasPrefix("$scrypt$ln=17,r=8,p=1$")) // OWASP 2024: N=2^17, r=8, p=1
        #expect(PasswordHash.verify("hunter2", against: s))
        #expect(!PasswordHash.verify("hunter3", against: s))
        #expect(!PasswordHash.needsRehash(s))
        let p = try PasswordHash.hash("hunter2", scheme: .pbkdf2SHA256)
        #expect(p.hasPrefix("$pbkdf2-sha256$i=600000$"))
        #expect(PasswordHash.verify("hunter2", against: p))
        // Weaker hashes are upgraded at the next sign-in; stronger ones are left alone.
        #expect(PasswordHash.needsRehash(p))
        #expect(PasswordHash.needsRehash("$scrypt$ln=15,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$ZEBCzLptWM7dhpNJDU2HbQ945ovKHmVEozHkePPbSqw"))
        #expect(!PasswordHash.needsRehash("$scrypt$ln=18,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$ZEBCzLptWM7dhpNJDU2HbQ945ovKHmVEozHkePPbSqw"))
        // The unknown-account stand-in: well formed, default cost, matches nothing.
        let dummy = PasswordHash.unmatchable()
        #expect(dummy.hasPrefix("$scrypt$ln=17,r=8,p=1$") && !PasswordHash.needsRehash(dummy))
        #expect(!PasswordHash.verify("", against: PasswordHash.unmatchable(scheme: .scrypt(logN: 10, r: 8, p: 1))))
    }

    /// RFC 5869 test case 1 (HKDF-SHA256).
    @Test func hkdfKnownAnswer() {
        let ikm = [UInt8](repeating: 0x0b, count: 22)
        let salt: [UInt8] = Array(0x00...0x0c)
        let info: [UInt8] = Array(0xf0...0xf9)
        let okm = HKDF.sha256(ikm: ikm, salt: salt, info: info, length: 42)
        #expect(okm.map { String(format: "%02x", $0) }.joined()
            == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    /// Fixed strings computed independently (Python hashlib.pbkdf2_hmac / hashlib.scrypt,
    /// base64url without padding), salt "0123456789abcdef", password "password".
    @Test(arguments: [
        "$pbkdf2-sha256$i=1000$MDEyMzQ1Njc4OWFiY2RlZg$hRRjgXWkW8ResfIvBP99J_T4vkgEmMRV_0tJTOjR59I",
        "$scrypt$ln=10,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$ZEBCzLptWM7dhpNJDU2HbQ945ovKHmVEozHkePPbSqw",
    ])
    func verifiesKnownStrings(_ encoded: String) {
        #expect(PasswordHash.verify("password", against: encoded))
        #expect(!PasswordHash.verify("Password", against: encoded))
    }

    static let good = "$pbkdf2-sha256$i=1000$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    @Test(arguments: [
        "", "$", "garbage", "$scrypt$", "$bcrypt$i=1000$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA",
        "$pbkdf2-sha256$i=0$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA",                 // zero iterations
        "$pbkdf2-sha256$i=01000$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA",             // non-canonical number
        "$pbkdf2-sha256$i=-1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA",
        "$pbkdf2-sha256$i=99999999999$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA",       // absurd work factor
        "$pbkdf2-sha256$i=1000$MDEyMzQ1Njc4OWFiY2RlZg==$AAAAAAAAAAAAAAAAAAAAAA",           // padded base64
        "$pbkdf2-sha256$i=1000$MDEy$AAAAAAAAAAAAAAAAAAAAAA",                                // salt too short
        "$pbkdf2-sha256$i=1000$MDEyMzQ1Njc4OWFiY2RlZg$AAAA",                                // hash too short
        "$pbkdf2-sha256$i=1000,x=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA",
        "$pbkdf2-sha256$i=1000$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA$",
        "$scrypt$ln=40,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA",              // 2^40: refused, not run
        "$scrypt$r=8,ln=10,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA",              // wrong order
        "$scrypt$ln=10,r=8$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA",
        "$scrypt$ln=10,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAA!",
        good,                                                                                // well-formed, wrong hash
    ])
    func malformedOrWrongIsFalse(_ encoded: String) {
        #expect(!PasswordHash.verify("password", against: encoded))
    }

    @Test func outOfRangeSchemesThrow() {
        #expect(throws: CryptoError.self) { try PasswordHash.hash("x", scheme: .scrypt(logN: 25, r: 8, p: 1)) }
        #expect(throws: CryptoError.self) { try PasswordHash.hash("x", scheme: .pbkdf2SHA256(iterations: 0)) }
    }
}

@Suite struct EncodingTests {
    // RFC 4648 §10 test vectors, in base64url without padding.
    @Test(arguments: [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy")])
    func base64urlRFC4648(_ v: (String, String)) {
        #expect(Base64URL.encode(Array(v.0.utf8)) == v.1)
        #expect(Base64URL.decode(v.1) == Array(v.0.utf8))
    }

    @Test func base64urlAlphabet() {
        #expect(Base64URL.encode([0xfb, 0xff, 0xbf]) == "-_-_")
        #expect(Base64URL.decode("-_-_") == [0xfb, 0xff, 0xbf])
        for n in 0..<40 {
            let b = SecureRandom.bytes(n)
            #expect(Base64URL.decode(Base64URL.encode(b)) == b)
        }
    }

    @Test(arguments: [
        "Zg==", "Zg=", "Zm9v=",            // padding
        "Zh", "Zm9", "Zm8v/", "Zm+v",      // non-canonical trailing bits; standard alphabet
        "Z", "Zm9vY",                      // impossible lengths (4k+1)
        "Zm 9v", " Zm9v", "Zm9v\n", "Zm9v\0", "Zm.9", "Zm9é",
    ])
    func base64urlStrictRejects(_ s: String) {
        #expect(Base64URL.decode(s) == nil)
    }

    // RFC 4648 §10 base32 vectors.
    @Test(arguments: [("", ""), ("f", "MY======"), ("fo", "MZXQ===="), ("foo", "MZXW6==="), ("foob", "MZXW6YQ="),
                      ("fooba", "MZXW6YTB"), ("foobar", "MZXW6YTBOI======")])
    func base32RFC4648(_ v: (String, String)) {
        #expect(Base32.encode(Array(v.0.utf8), padding: true) == v.1)
        #expect(Base32.decode(v.1) == Array(v.0.utf8))
        let unpadded = String(v.1.prefix { $0 != "=" })
        #expect(Base32.encode(Array(v.0.utf8)) == unpadded)
        #expect(Base32.decode(unpadded) == Array(v.0.utf8))
        #expect(Base32.decode(unpadded.lowercased()) == Array(v.0.utf8))
    }

    @Test(arguments: ["M", "MZX", "MZXW6Y", "MZ", "MY=", "MY=======", "MY==A===", "MZXW 6YTB", "MZXW6YT1", "MZXW6YT8"])
    func base32Rejects(_ s: String) {
        #expect(Base32.decode(s) == nil)
    }
}

@Suite struct AESGCMTests {
    let key = SecureRandom.bytes(32)
    let nonce = SecureRandom.bytes(12)
    let plaintext = Array("session: user=42; exp=1700000000".utf8)
    let aad = Array("cookie-v1".utf8)

    @Test func roundTrip() throws {
        let (ct, tag) = try AESGCM.seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
        #expect(ct.count == plaintext.count && tag.count == 16 && ct != plaintext)
        #expect(try AESGCM.open(key: key, nonce: nonce, ciphertext: ct, tag: tag, aad: aad) == plaintext)
        let combined = try AESGCM.sealCombined(key: key, plaintext: plaintext, aad: aad)
        #expect(combined.count == 12 + plaintext.count + 16)
        #expect(try AESGCM.openCombined(key: key, combined: combined, aad: aad) == plaintext)
        #expect(try AESGCM.sealCombined(key: key, plaintext: plaintext) != AESGCM.sealCombined(key: key, plaintext: plaintext))
        let empty = try AESGCM.sealCombined(key: key, plaintext: [])
        #expect(try AESGCM.openCombined(key: key, combined: empty) == [])
    }

    enum Part: CaseIterable { case ciphertext, tag, aad, nonce }

    @Test(arguments: Part.allCases, [0, 7, 100, 255])
    func tamperedFails(_ part: Part, bit: Int) throws {
        var (ct, tag) = try AESGCM.seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
        var a = aad, n = nonce
        func flip(_ b: inout [UInt8]) { let i = (bit / 8) % b.count; b[i] ^= 1 << UInt8(bit % 8) }
        switch part {
        case .ciphertext: flip(&ct)
        case .tag: flip(&tag)
        case .aad: flip(&a)
        case .nonce: flip(&n)
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(key: key, nonce: n, ciphertext: ct, tag: tag, aad: a)
        }
    }

    @Test func wrongKeyTruncationAndSizes() throws {
        let combined = try AESGCM.sealCombined(key: key, plaintext: plaintext, aad: aad)
        #expect(throws: CryptoError.authenticationFailed) { try AESGCM.openCombined(key: SecureRandom.bytes(32), combined: combined, aad: aad) }
        #expect(throws: CryptoError.authenticationFailed) { try AESGCM.openCombined(key: key, combined: Array(combined.dropLast()), aad: aad) }
        #expect(throws: CryptoError.authenticationFailed) { try AESGCM.openCombined(key: key, combined: Array(combined.prefix(27)), aad: aad) }
        #expect(throws: CryptoError.authenticationFailed) { try AESGCM.openCombined(key: key, combined: combined, aad: []) }
        #expect(throws: CryptoError.self) { try AESGCM.seal(key: Array(key.prefix(16)), nonce: nonce, plaintext: [], aad: []) }
        #expect(throws: CryptoError.self) { try AESGCM.seal(key: key, nonce: Array(nonce.prefix(8)), plaintext: [], aad: []) }
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(key: key, nonce: nonce, ciphertext: [], tag: Array(repeating: 0, count: 15), aad: [])
        }
    }
}
