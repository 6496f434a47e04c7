import COpenSSL
import CTLSSupport
import DrawbridgeConfig

struct TLSSetupError: Error, CustomStringConvertible {
    var description: String
}

/// The OpenSSL contexts of one configuration snapshot: one server context per certificate,
/// chosen by SNI, and one client context per TLS upstream. Shared by all workers (SSL_CTX is
/// thread-safe for creating connections); freed when the last snapshot using it goes.
final class TLSContexts {
    let defaultServer: OpaquePointer
    private var servers: [OpaquePointer] = []
    private let sni: OpaquePointer?
    private(set) var upstreamClients: [String: OpaquePointer] = [:]

    init(config: GatewayConfig) throws {
        var built: [OpaquePointer] = []
        var defaultIndex = 0
        let map = CTLS_sni_map_new()
        do {
            for (i, c) in config.tls.certificates.enumerated() {
                let ctx = try TLSContexts.serverContext(c, tickets: config.tls.sessionTickets, file: config.file, field: "tls.certificates[\(i)]")
                built.append(ctx)
                if c.isDefault { defaultIndex = i }
                if c.serverNames.isEmpty {
                    _ = CTLS_sni_map_add_certificate_names(map, ctx)
                } else {
                    for n in c.serverNames { _ = CTLS_sni_map_add(map, n, ctx) }
                }
            }
            guard !built.isEmpty else { throw TLSSetupError(description: "tls.certificates: at least one certificate is required") }
            for (name, u) in config.upstreams where u.tls {
                guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TLSSetupError(description: "upstreams.\(name): cannot create TLS context") }
                if CTLS_configure_client(ctx, u.caFile) != 1 {
                    SSL_CTX_free(ctx)
                    throw TLSSetupError(description: "upstreams.\(name).caFile: cannot load CA bundle: \(TLSContexts.lastError())")
                }
                upstreamClients[name] = ctx
            }
        } catch {
            for c in built { SSL_CTX_free(c) }
            for (_, c) in upstreamClients { SSL_CTX_free(c) }
            CTLS_sni_map_free(map)
            throw error
        }
        servers = built
        defaultServer = built[defaultIndex]
        sni = map
        CTLS_sni_attach(defaultServer, map)
    }

    /// Whether a certificate of the HTTPS listener covers `name` (`HostName` normal form): a name
    /// SNI selects a certificate for, or an IP literal in a certificate's IP subjectAltNames.
    func presentsCertificate(for name: UnsafeRawBufferPointer) -> Bool {
        guard name.count > 0, name.count < 256 else { return false }
        var text = [CChar](repeating: 0, count: name.count + 1)
        let isIPv6 = name[0] == 0x5B
        // without brackets for an IPv6 literal; digits and dots only is an IPv4 address (in
        // normal form: `HostName` refuses other numeric names)
        let bytes = isIPv6 ? UnsafeRawBufferPointer(rebasing: name[1..<name.count - 1]) : name
        for (i, b) in bytes.enumerated() { text[i] = CChar(bitPattern: b) }
        if isIPv6 || bytes.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }) {
            return servers.contains { CTLS_certificate_covers_ip($0, text) == 1 }
        }
        return CTLS_sni_map_covers(sni, text) == 1
    }

    deinit {
        CTLS_sni_map_free(sni)
        for c in servers { SSL_CTX_free(c) }
        for (_, c) in upstreamClients { SSL_CTX_free(c) }
    }

    /// A certificate's context. Its key problems name the configuration file, the field and the
    /// files, in words (nginx: "SSL_CTX_use_PrivateKey_file(...) failed (SSL: ... key values mismatch)").
    private static func serverContext(_ c: CertificateConfig, tickets: Bool, file: String, field: String) throws -> OpaquePointer {
        func refuse(_ ctx: OpaquePointer, _ path: String, _ message: String) -> ConfigErrors {
            SSL_CTX_free(ctx)
            return ConfigErrors(issues: [ConfigIssue(file: file.isEmpty ? ConfigLoader.mainFileName : file, path: path, message: message)])
        }
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSSetupError(description: "\(field): cannot create TLS context") }
        guard CTLS_configure_server(ctx) == 1 else { throw refuse(ctx, field, "TLS profile rejected: \(lastError())") }
        if !tickets { CTLS_disable_tickets(ctx) }
        if SSL_CTX_use_certificate_chain_file(ctx, c.certFile) != 1 {
            throw refuse(ctx, field + ".cert", "cannot load the certificate chain \(c.certFile): not a PEM certificate OpenSSL accepts (\(lastError()))")
        }
        if SSL_CTX_use_PrivateKey_file(ctx, c.keyFile, SSL_FILETYPE_PEM) != 1 {
            let reason = lastError()
            // OpenSSL checks the pair while loading the key: a mismatch surfaces here already.
            if reason.contains("mismatch") {
                throw refuse(ctx, field + ".key", "the key \(c.keyFile) does not match the certificate \(c.certFile) (\(reason))")
            }
            throw refuse(ctx, field + ".key", "cannot load the private key \(c.keyFile): not a PEM private key OpenSSL can read (\(reason))")
        }
        if SSL_CTX_check_private_key(ctx) != 1 {
            throw refuse(ctx, field + ".key", "the key \(c.keyFile) does not match the certificate \(c.certFile) (\(lastError()))")
        }
        return ctx
    }

    static func lastError() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        CTLS_last_error(&buf, 256)
        return String(cString: buf)
    }
}
