/// OpenID Connect relying-party pieces (discovery, JWKS, PKCE, code exchange, ID token checks).
enum DrawbridgeOIDCModule {}
