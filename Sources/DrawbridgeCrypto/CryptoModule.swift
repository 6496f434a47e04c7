// DrawbridgeCrypto: OpenSSL-backed primitives for identity (sessions, passwords, tokens).
//
// Everything goes through OpenSSL 3's EVP layer (EVP_MAC via EVP_Q_mac, EVP_KDF for PBKDF2 and
// scrypt, EVP_PKEY_fromdata / EVP_DigestSign / EVP_DigestVerify for keys and signatures,
// EVP_aes_256_gcm for AEAD); no deprecated low-level calls and no Foundation ([UInt8] in and out).
//
// Conventions:
// - Errors a caller (or an attacker feeding one) can cause are thrown `CryptoError`s; boolean
//   verifiers return false. Only a failing system RNG or an OpenSSL failure on a valid fixed
//   input (digest/HMAC of any bytes) traps.
// - Every failure path drains OpenSSL's per-thread error queue, so nothing leaks into the TLS
//   code's SSL_get_error on the same thread.
// - Secret comparisons use `ConstantTime.equals` (CRYPTO_memcmp).
// - JWS: the algorithm comes from the key type (EC P-256 → ES256, RSA ≥ 2048 → RS256), never from
//   the token; see JWS.swift. Headers are read by a small strict JSON reader (JSON.swift).
