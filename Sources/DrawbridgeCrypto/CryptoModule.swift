// DrawbridgeCrypto: OpenSSL-backed primitives for identity (sessions, passwords, tokens).
