import COpenSSL

// MARK: - Shared EVP_PKEY helpers

enum PKey {
    /// Builds a public EVP_PKEY of `type` ("EC", "RSA") from an OSSL_PARAM_BLD filled by `fill`.
    static func fromData(type: String, _ fill: (OpaquePointer) -> Bool) throws -> OpaquePointer {
        guard let bld = OSSL_PARAM_BLD_new() else { throw OSSL.backend("OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(bld) }
        guard fill(bld), let params = OSSL_PARAM_BLD_to_param(bld) else { throw OSSL.backend("OSSL_PARAM_BLD") }
        defer { OSSL_PARAM_free(params) }
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, type, nil) else { throw OSSL.backend("EVP_PKEY_CTX_new_from_name") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer? = nil
        guard EVP_PKEY_fromdata_init(ctx) == 1,
              EVP_PKEY_fromdata(ctx, &pkey, COpenSSL_EVP_PKEY_PUBLIC_KEY(), params) == 1, let pkey else {
            OSSL.drainErrors()
            throw CryptoError.invalidInput("\(type) public key rejected")
        }
        return pkey
    }

    /// EVP_DigestVerify with SHA-256 and the key's default scheme (ECDSA with a DER signature;
    /// RSA PKCS#1 v1.5). Leaves no errors queued.
    static func verifySHA256(_ pkey: OpaquePointer, message: [UInt8], signature: [UInt8]) -> Bool {
        guard !signature.isEmpty, let md = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(md); OSSL.drainErrors() }
        guard EVP_DigestVerifyInit_ex(md, nil, "SHA256", nil, nil, pkey, nil) == 1 else { return false }
        let rc = OSSL.withBytes(message) { m, mn in
            signature.withUnsafeBufferPointer { s in EVP_DigestVerify(md, s.baseAddress, s.count, m, mn) }
        }
        return rc == 1
    }

    static func bnParam(_ pkey: OpaquePointer, _ name: CName, width: Int) throws -> [UInt8] {
        var bn: OpaquePointer? = nil
        guard EVP_PKEY_get_bn_param(pkey, name.ptr, &bn) == 1, let bn else { throw OSSL.backend("EVP_PKEY_get_bn_param") }
        defer { BN_free(bn) }
        var out = [UInt8](repeating: 0, count: width)
        guard BN_bn2binpad(bn, &out, Int32(width)) == Int32(width) else { throw OSSL.backend("BN_bn2binpad") }
        return out
    }
}

/// ECDSA P-256 signatures: raw r||s (JOSE / IEEE P1363) <-> DER (what OpenSSL speaks).
enum ECDSASig {
    static func derFromRaw(_ raw: [UInt8]) -> [UInt8]? {
        guard raw.count == 64, let sig = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(sig) }
        let r = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, 32, nil) }
        let s = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress! + 32, 32, nil) }
        guard let r, let s else { BN_free(r); BN_free(s); return nil }
        guard ECDSA_SIG_set0(sig, r, s) == 1 else { BN_free(r); BN_free(s); return nil }
        let len = i2d_ECDSA_SIG(sig, nil)
        guard len > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(len))
        let written = der.withUnsafeMutableBufferPointer { buf -> Int32 in
            var p: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            return i2d_ECDSA_SIG(sig, &p)
        }
        return written == len ? der : nil
    }

    static func rawFromDER(_ der: [UInt8]) -> [UInt8]? {
        let sig = der.withUnsafeBufferPointer { buf -> OpaquePointer? in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            return d2i_ECDSA_SIG(nil, &p, buf.count)
        }
        guard let sig else { return nil }
        defer { ECDSA_SIG_free(sig) }
        var out = [UInt8](repeating: 0, count: 64)
        guard let r = ECDSA_SIG_get0_r(sig), let s = ECDSA_SIG_get0_s(sig),
              BN_bn2binpad(r, &out, 32) == 32,
              out.withUnsafeMutableBufferPointer({ BN_bn2binpad(s, $0.baseAddress! + 32, 32) }) == 32 else { return nil }
        return out
    }
}

// MARK: - P-256

/// A P-256 (secp256r1) public key, validated on construction (on the curve, not infinity).
public struct ECPublicKey: Sendable {
    let box: PKeyBox
    /// Affine coordinates, 32 bytes each, big-endian.
    public let x: [UInt8]
    public let y: [UInt8]

    public init(x: [UInt8], y: [UInt8]) throws {
        guard x.count == 32, y.count == 32 else { throw CryptoError.invalidInput("P-256 coordinates must be 32 bytes each") }
        let point = [0x04] + x + y
        let pkey = try point.withUnsafeBufferPointer { pt in
            try PKey.fromData(type: "EC") { bld in
                OSSL_PARAM_BLD_push_utf8_string(bld, ParamName.group.ptr, ParamName.prime256v1.ptr, 0) == 1
                    && OSSL_PARAM_BLD_push_octet_string(bld, ParamName.pub.ptr, pt.baseAddress, pt.count) == 1
            }
        }
        let box = PKeyBox(pkey)
        // Full public-key check (point on the curve, not at infinity, correct order).
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { throw OSSL.backend("EVP_PKEY_CTX_new_from_pkey") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_public_check(ctx) == 1 else {
            OSSL.drainErrors()
            throw CryptoError.invalidInput("P-256 public key is not a valid curve point")
        }
        self.box = box
        self.x = x
        self.y = y
    }

    /// From a JWK's `crv`, `x`, `y` members (base64url). Only `crv == "P-256"` is accepted.
    public init(jwkCrv crv: String = "P-256", x: String, y: String) throws {
        guard crv == "P-256" else { throw CryptoError.invalidInput("unsupported EC curve \(crv)") }
        guard let xb = Base64URL.decode(x), let yb = Base64URL.decode(y) else { throw CryptoError.invalidInput("JWK x/y: bad base64url") }
        try self.init(x: xb, y: yb)
    }

    /// From an uncompressed SEC1 point, 0x04 || x || y (65 bytes).
    public init(uncompressedPoint p: [UInt8]) throws {
        guard p.count == 65, p[0] == 0x04 else { throw CryptoError.invalidInput("expected a 65-byte uncompressed P-256 point") }
        try self.init(x: Array(p[1...32]), y: Array(p[33...64]))
    }

    /// ES256 (RFC 7518 §3.4): ECDSA P-256 / SHA-256 with a 64-byte r||s signature.
    public func verifyES256(message: [UInt8], rawSignature: [UInt8]) -> Bool {
        guard let der = ECDSASig.derFromRaw(rawSignature) else { OSSL.drainErrors(); return false }
        return PKey.verifySHA256(box.pkey, message: message, signature: der)
    }

    /// ECDSA P-256 / SHA-256 with a DER (X9.62 Ecdsa-Sig-Value) signature. OpenSSL re-encodes
    /// the parsed signature and rejects anything that is not the canonical DER.
    public func verifyDER(message: [UInt8], derSignature: [UInt8]) -> Bool {
        PKey.verifySHA256(box.pkey, message: message, signature: derSignature)
    }
}

/// A P-256 private key (for the gateway's own ES256 assertions).
public struct ECPrivateKey: Sendable {
    let box: PKeyBox
    public let publicKey: ECPublicKey
    /// PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), unencrypted: protect it at rest.
    public let pem: String

    public static func generate() throws -> ECPrivateKey {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else { throw OSSL.backend("EVP_PKEY_CTX_new_from_name") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer? = nil
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_CTX_set_group_name(ctx, "P-256") == 1,
              EVP_PKEY_generate(ctx, &pkey) == 1, let pkey else { throw OSSL.backend("EC key generation") }
        return try ECPrivateKey(box: PKeyBox(pkey))
    }

    /// Reads a PEM private key (PKCS#8 or SEC1 "EC PRIVATE KEY"); it must be a P-256 key.
    public init(pem: String) throws {
        let bytes = Array(pem.utf8)
        guard !bytes.isEmpty, bytes.count < 1 << 20 else { throw CryptoError.invalidInput("empty or oversized PEM") }
        let pkey: OpaquePointer? = bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let pkey else { OSSL.drainErrors(); throw CryptoError.invalidInput("not a PEM private key") }
        try self.init(box: PKeyBox(pkey))
    }

    private init(box: PKeyBox) throws {
        let pkey = box.pkey
        guard EVP_PKEY_is_a(pkey, "EC") == 1 else { throw CryptoError.invalidInput("not an EC key") }
        var name = [CChar](repeating: 0, count: 64)
        var len = 0
        guard EVP_PKEY_get_utf8_string_param(pkey, ParamName.group.ptr, &name, name.count, &len) == 1 else {
            throw OSSL.backend("EC group name")
        }
        let group = String(cString: name)
        guard group == "prime256v1" || group == "P-256" || group == "secp256r1" else {
            throw CryptoError.invalidInput("EC key is on \(group), not P-256")
        }
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { throw OSSL.backend("EVP_PKEY_CTX_new_from_pkey") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_pairwise_check(ctx) == 1 else {
            OSSL.drainErrors()
            throw CryptoError.invalidInput("EC private key is inconsistent")
        }
        self.box = box
        self.publicKey = try ECPublicKey(x: PKey.bnParam(pkey, ParamName.ecX, width: 32),
                                         y: PKey.bnParam(pkey, ParamName.ecY, width: 32))
        guard let bio = BIO_new(BIO_s_mem()) else { throw OSSL.backend("BIO_new") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, pkey, nil, nil, 0, nil, nil) == 1 else { throw OSSL.backend("PEM_write_bio_PrivateKey") }
        let n = Int(BIO_ctrl_pending(bio))
        var buf = [UInt8](repeating: 0, count: n)
        guard n > 0, BIO_read(bio, &buf, Int32(n)) == Int32(n) else { throw OSSL.backend("BIO_read") }
        self.pem = String(decoding: buf, as: UTF8.self)
        buf.wipe()
    }

    /// ES256 signature over `message`: 64 bytes, r||s (randomised ECDSA from OpenSSL).
    public func signES256(_ message: [UInt8]) throws -> [UInt8] {
        guard let md = EVP_MD_CTX_new() else { throw OSSL.backend("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(md) }
        guard EVP_DigestSignInit_ex(md, nil, "SHA256", nil, nil, box.pkey, nil) == 1 else { throw OSSL.backend("DigestSignInit") }
        var sigLen = 0
        var der = [UInt8](repeating: 0, count: 80)   // max DER ECDSA P-256 signature is 72 bytes
        sigLen = der.count
        let rc = OSSL.withBytes(message) { m, mn in EVP_DigestSign(md, &der, &sigLen, m, mn) }
        guard rc == 1 else { throw OSSL.backend("DigestSign") }
        guard let raw = ECDSASig.rawFromDER(Array(der[0..<sigLen])) else { throw OSSL.backend("ECDSA signature decoding") }
        return raw
    }
}

// MARK: - RSA

/// An RSA public key for RS256 (RSASSA-PKCS1-v1_5 with SHA-256) verification.
/// Moduli under 2048 or over 8192 bits are refused, as are even or < 3 exponents.
public struct RSAPublicKey: Sendable {
    let box: PKeyBox
    public let modulusBits: Int

    public init(modulus n: [UInt8], exponent e: [UInt8]) throws {
        let nt = Array(n.drop(while: { $0 == 0 }))
        let et = Array(e.drop(while: { $0 == 0 }))
        let bits = nt.isEmpty ? 0 : nt.count * 8 - nt[0].leadingZeroBitCount
        guard bits >= 2048 else { throw CryptoError.invalidInput("RSA modulus under 2048 bits") }
        guard bits <= 8192 else { throw CryptoError.invalidInput("RSA modulus over 8192 bits") }
        guard nt.last! & 1 == 1 else { throw CryptoError.invalidInput("RSA modulus is even") }
        guard !et.isEmpty, et.count <= 8, et.last! & 1 == 1, et != [1] else { throw CryptoError.invalidInput("bad RSA exponent") }
        guard let bnN = BN_bin2bn(nt, Int32(nt.count), nil) else { throw OSSL.backend("BN_bin2bn") }
        defer { BN_free(bnN) }
        guard let bnE = BN_bin2bn(et, Int32(et.count), nil) else { throw OSSL.backend("BN_bin2bn") }
        defer { BN_free(bnE) }
        let pkey = try PKey.fromData(type: "RSA") { bld in
            OSSL_PARAM_BLD_push_BN(bld, ParamName.rsaN.ptr, bnN) == 1 && OSSL_PARAM_BLD_push_BN(bld, ParamName.rsaE.ptr, bnE) == 1
        }
        self.box = PKeyBox(pkey)
        self.modulusBits = Int(EVP_PKEY_get_bits(pkey))
    }

    /// From a JWK's `n` and `e` members (base64url).
    public init(jwkN n: String, e: String) throws {
        guard let nb = Base64URL.decode(n), let eb = Base64URL.decode(e) else { throw CryptoError.invalidInput("JWK n/e: bad base64url") }
        try self.init(modulus: nb, exponent: eb)
    }

    /// RS256: RSASSA-PKCS1-v1_5 with SHA-256. The signature must be exactly the modulus length.
    public func verifyRS256(message: [UInt8], signature: [UInt8]) -> Bool {
        guard signature.count == (modulusBits + 7) / 8 else { return false }
        return PKey.verifySHA256(box.pkey, message: message, signature: signature)
    }
}
