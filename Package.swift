// swift-tools-version:6.0
import PackageDescription

// No package dependencies, by design: Foundation, Dispatch, Glibc and the system OpenSSL only.

// The request path (parsing, the loops) runs without dynamic exclusivity checks in release
// builds: they cost about 5% of a keep-alive request (measured with callgrind). Debug builds and
// the test suite keep them, so a violation is still caught there.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
let package = Package(
    name: "Drawbridge",
    products: [
        .executable(name: "drawbridge", targets: ["drawbridge"]),
        .executable(name: "whoami", targets: ["whoami"]),
    ],
    targets: [
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .target(name: "CLinux", path: "Sources/CLinux",
                cSettings: [.define("_GNU_SOURCE")]),
        .target(name: "CTLSSupport", path: "Sources/CTLSSupport",
                linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        .target(name: "DrawbridgeHTTP", path: "Sources/DrawbridgeHTTP", swiftSettings: hotPath),
        // The exchange state machine: socket-free, no Foundation (see docs/ARCHITECTURE.md for the import rule).
        .target(name: "DrawbridgeProxy", dependencies: ["DrawbridgeHTTP"], path: "Sources/DrawbridgeProxy", swiftSettings: hotPath),
        .target(name: "DrawbridgeCrypto", dependencies: ["COpenSSL"], path: "Sources/DrawbridgeCrypto"),
        .target(name: "DrawbridgeIdentity", dependencies: ["DrawbridgeCrypto"], path: "Sources/DrawbridgeIdentity"),
        .target(name: "DrawbridgeConfig", dependencies: ["DrawbridgeHTTP"], path: "Sources/DrawbridgeConfig"),
        .target(name: "DrawbridgePolicy", dependencies: ["DrawbridgeConfig", "DrawbridgeHTTP", "DrawbridgeIdentity"],
                path: "Sources/DrawbridgePolicy", swiftSettings: hotPath),
        .target(name: "DrawbridgeOIDC", dependencies: ["COpenSSL", "DrawbridgeCrypto", "DrawbridgeHTTP"],
                path: "Sources/DrawbridgeOIDC"),
        .target(name: "DrawbridgeStore", dependencies: ["CLinux", "DrawbridgeConfig", "DrawbridgeIdentity", "DrawbridgeCrypto"],
                path: "Sources/DrawbridgeStore"),
        // The decision about a request (decide, credentials, sign-out list): socket-free, no Foundation on the request path.
        .target(name: "DrawbridgeDecision", dependencies: ["DrawbridgeHTTP", "DrawbridgeConfig", "DrawbridgeCrypto", "DrawbridgeIdentity", "DrawbridgePolicy"],
                path: "Sources/DrawbridgeDecision", swiftSettings: hotPath),
        .target(name: "DrawbridgeServer",
                dependencies: ["CLinux", "COpenSSL", "CTLSSupport", "DrawbridgeHTTP", "DrawbridgeConfig", "DrawbridgeDecision",
                               "DrawbridgeIdentity", "DrawbridgeOIDC", "DrawbridgePolicy", "DrawbridgeProxy", "DrawbridgeStore"],
                path: "Sources/DrawbridgeServer", swiftSettings: hotPath),
        .executableTarget(name: "drawbridge", dependencies: ["DrawbridgeServer", "DrawbridgeConfig", "DrawbridgeCrypto",
                                                                  "DrawbridgeIdentity", "DrawbridgeStore"],
                          path: "Sources/drawbridge"),
        .executableTarget(name: "policy-bench", dependencies: ["DrawbridgePolicy", "DrawbridgeConfig", "DrawbridgeIdentity"],
                          path: "Sources/policy-bench"),
        .executableTarget(name: "whoami", dependencies: ["CLinux"], path: "Sources/whoami"),
        .testTarget(name: "DrawbridgeHTTPTests", dependencies: ["DrawbridgeHTTP"]),
        .testTarget(name: "DrawbridgeProxyTests", dependencies: ["DrawbridgeProxy", "DrawbridgeHTTP"]),
        .testTarget(name: "DrawbridgeConfigTests", dependencies: ["DrawbridgeConfig", "DrawbridgeHTTP"]),
        .testTarget(name: "DrawbridgePolicyTests", dependencies: ["DrawbridgePolicy", "DrawbridgeConfig", "DrawbridgeIdentity"]),
        .testTarget(name: "DrawbridgeIdentityTests", dependencies: ["DrawbridgeIdentity"]),
        .testTarget(name: "DrawbridgeOIDCTests", dependencies: ["DrawbridgeOIDC", "DrawbridgeCrypto"]),
        .testTarget(name: "DrawbridgeStoreTests", dependencies: ["DrawbridgeStore", "DrawbridgeIdentity", "DrawbridgeCrypto"]),
        .testTarget(name: "DrawbridgeCryptoTests", dependencies: ["DrawbridgeCrypto"],
                    resources: [.copy("Vectors")]),
        .testTarget(name: "DrawbridgeDecisionTests", dependencies: ["DrawbridgeDecision", "DrawbridgeHTTP", "DrawbridgeConfig", "DrawbridgeCrypto",
                                                                 "DrawbridgeIdentity", "DrawbridgePolicy"]),
        .testTarget(name: "DrawbridgeServerTests", dependencies: ["DrawbridgeServer", "DrawbridgeDecision", "DrawbridgeHTTP", "DrawbridgeIdentity", "DrawbridgeCrypto", "DrawbridgeConfig",
                                                               "DrawbridgePolicy", "DrawbridgeStore"]),
        .testTarget(name: "IntegrationTests", dependencies: ["COpenSSL", "CLinux", "DrawbridgeCrypto", "DrawbridgeIdentity", "DrawbridgeConfig", "DrawbridgeStore"],
                    exclude: ["Support/oidc_issuer.py", "Support/oauth2_token_server.py"]),
    ],
    swiftLanguageModes: [.v5]
)
