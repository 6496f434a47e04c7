import Foundation
import Testing
@testable import DrawbridgeCrypto

/// Project Wycheproof vectors (Tests/DrawbridgeCryptoTests/Vectors, Apache-2.0, see LICENSE there).
/// Every test counts the vectors it ran and asserts the count, so an empty or truncated file fails.
@Suite struct WycheproofTests {

    @Test func aesGCM256() throws {
        let file = try loadVectors("aes_gcm_test")
        var ran = 0, valid = 0
        for c in cases(file) {
            // Only what AESGCM supports: 256-bit keys, 96-bit nonces, 128-bit tags.
            guard c.group["keySize"] as? Int == 256, c.group["ivSize"] as? Int == 96, c.group["tagSize"] as? Int == 128 else { continue }
            ran += 1
            let key = c.hex("key"), iv = c.hex("iv"), aad = c.hex("aad"), msg = c.hex("msg"), ct = c.hex("ct"), tag = c.hex("tag")
            if c.result == "valid" {
                valid += 1
                let sealed = try AESGCM.seal(key: key, nonce: iv, plaintext: msg, aad: aad)
                #expect(sealed.ciphertext == ct, "tcId \(c.tcId)")
                #expect(sealed.tag == tag, "tcId \(c.tcId)")
                let opened = try AESGCM.open(key: key, nonce: iv, ciphertext: ct, tag: tag, aad: aad)
                #expect(opened == msg, "tcId \(c.tcId)")
                #expect(try AESGCM.openCombined(key: key, combined: iv + ct + tag, aad: aad) == msg, "tcId \(c.tcId)")
            } else {
                #expect(throws: CryptoError.authenticationFailed, "tcId \(c.tcId)") {
                    _ = try AESGCM.open(key: key, nonce: iv, ciphertext: ct, tag: tag, aad: aad)
                }
            }
        }
        #expect(ran == 66)
        #expect(valid == 39)
    }

    @Test func hmacSHA256() throws {
        let file = try loadVectors("hmac_sha256_test")
        var ran = 0
        for c in cases(file) {
            ran += 1
            let tagBytes = (c.group["tagSize"] as? Int ?? 256) / 8
            let full = HMAC.sha256(key: c.hex("key"), data: c.hex("msg"))
            #expect(full.count == 32)
            let matches = ConstantTime.equals(Array(full.prefix(tagBytes)), c.hex("tag"))
            #expect(matches == (c.result == "valid"), "tcId \(c.tcId)")
        }
        #expect(ran == 174)
    }

    @Test func pbkdf2HMACSHA256() throws {
        let file = try loadVectors("pbkdf2_hmacsha256_test")
        var ran = 0
        // All 60 vectors run: the largest iteration count in the file is 80 000 (well under a
        // second), so nothing is skipped. A guard stays in case the file is replaced.
        for c in cases(file) {
            let iterations = c.test["iterationCount"] as? Int ?? 0
            guard iterations <= 1_000_000 else { continue }
            ran += 1
            let dk = try PBKDF2.sha256(password: c.hex("password"), salt: c.hex("salt"), iterations: iterations,
                                       length: c.test["dkLen"] as? Int ?? 0)
            #expect((dk == c.hex("dk")) == (c.result == "valid"), "tcId \(c.tcId)")
        }
        #expect(ran == 60)
    }

    @Test func ecdsaP256P1363() throws {
        let file = try loadVectors("ecdsa_secp256r1_sha256_p1363_test")
        var ran = 0, accepted = 0
        for c in cases(file) {
            ran += 1
            let pub = c.group["publicKey"] as? [String: Any] ?? [:]
            let key = try ECPublicKey(uncompressedPoint: hexBytes(pub["uncompressed"] as? String ?? ""))
            let ok = key.verifyES256(message: c.hex("msg"), rawSignature: c.hex("sig"))
            if ok { accepted += 1 }
            #expect(ok == (c.result == "valid"), "tcId \(c.tcId) \(c.test["comment"] ?? "")")
        }
        #expect(ran == 262)
        #expect(accepted == 173)
    }

    @Test func ecdsaP256DER() throws {
        let file = try loadVectors("ecdsa_secp256r1_sha256_test")
        var ran = 0, accepted = 0
        for c in cases(file) {
            ran += 1
            let pub = c.group["publicKey"] as? [String: Any] ?? [:]
            let key = try ECPublicKey(uncompressedPoint: hexBytes(pub["uncompressed"] as? String ?? ""))
            let ok = key.verifyDER(message: c.hex("msg"), derSignature: c.hex("sig"))
            if ok { accepted += 1 }
            #expect(ok == (c.result == "valid"), "tcId \(c.tcId) \(c.test["comment"] ?? "")")
        }
        #expect(ran == 484)
        #expect(accepted == 174)
    }

    @Test func rsaPKCS1SHA256() throws {
        let file = try loadVectors("rsa_signature_2048_sha256_test")
        var ran = 0, acceptable = 0
        for c in cases(file) {
            ran += 1
            let pub = c.group["publicKey"] as? [String: Any] ?? [:]
            let key = try RSAPublicKey(modulus: hexBytes(pub["modulus"] as? String ?? ""),
                                       exponent: hexBytes(pub["publicExponent"] as? String ?? ""))
            #expect(key.modulusBits == 2048)
            let ok = key.verifyRS256(message: c.hex("msg"), signature: c.hex("sig"))
            switch c.result {
            case "valid": #expect(ok, "tcId \(c.tcId)")
            case "invalid": #expect(!ok, "tcId \(c.tcId) \(c.test["comment"] ?? "") \(c.flags)")
            default: acceptable += 1   // "acceptable" (MissingNull): either outcome is fine
            }
        }
        #expect(ran == 259)
        #expect(acceptable == 1)
    }

    /// JWS: the keys of each group are offered through `JWK.parseKey` (so `use`/`key_ops`/`alg`
    /// rules apply) for any kid. Only ES256 (P-256) and RS256 are supported, so "valid" vectors
    /// for HS256, RS384/512, PS*, ES512 must be REJECTED here: the allow-list is the point.
    @Test func jsonWebSignature() throws {
        let file = try loadVectors("json_web_signature_test")
        var ran = 0, refusedUnsupported = 0
        var accepted: [Int] = []
        for c in cases(file) {
            ran += 1
            guard let compact = c.test["jws"] as? String else {
                // JSON serialisation vectors (tcId 17) are not compact JWS: nothing to accept.
                #expect(c.result == "invalid")
                continue
            }
            let jwk = (c.group["public"] ?? c.group["private"]) as? [String: Any] ?? [:]
            let jwkData = try JSONSerialization.data(withJSONObject: jwk)
            let entry = JWK.parseKey(Array(jwkData))
            let alg = jwk["alg"] as? String
            let supported = entry != nil && (alg == nil || alg == "ES256" || alg == "RS256")
            var ok = false
            do {
                _ = try JWS.verify(compact) { _ in entry.map { [$0.key] } ?? [] }
                ok = true
                accepted.append(c.tcId)
            } catch {}
            if !supported || !headerAlgIsSupported(compact) {
                #expect(!ok, "tcId \(c.tcId) \(c.test["comment"] ?? ""): unsupported algorithm must be refused")
                if c.result == "valid" { refusedUnsupported += 1 }
            } else if c.result == "valid" {
                #expect(ok, "tcId \(c.tcId) \(c.test["comment"] ?? "")")
            } else if c.result == "invalid" {
                #expect(!ok, "tcId \(c.tcId) \(c.test["comment"] ?? "") \(c.flags)")
            }
            // alg:none and algorithm-confusion cases are always refused.
            if c.flags.contains("AlgIsNone") || (c.test["comment"] as? String ?? "").contains("Confusion") { #expect(!ok) }
        }
        #expect(ran == 401)
        // The valid ES256/RS256 vectors: es256, rs256, five rs256 payload cases, RFC 7520 figure 13
        // (with and without key_ops) and the SpecialCaseEs256 baseline.
        #expect(accepted == [18, 33, 259, 260, 261, 262, 263, 345, 349, 378])
        #expect(refusedUnsupported > 0)
    }

    private func headerAlgIsSupported(_ compact: String) -> Bool {
        guard let h = compact.split(separator: ".", omittingEmptySubsequences: false).first,
              let bytes = Base64URL.decode(String(h)),
              let obj = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return true }
        let alg = obj["alg"] as? String
        return alg == "ES256" || alg == "RS256"
    }
}
