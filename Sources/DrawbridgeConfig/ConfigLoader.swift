import DrawbridgeHTTP
import Foundation

/// Loads and validates `drawbridge.json5`.
public enum ConfigLoader {
    /// Name of the main configuration file inside the configuration directory.
    public static let mainFileName = "drawbridge.json5"

    /// Reads `directory/drawbridge.json5`, validates everything, resolves relative file paths against
    /// `directory` (results are absolute). Throws `ConfigErrors` listing every problem found.
    public static func load(directory: String) throws -> GatewayConfig {
        let file = directory.hasSuffix("/") ? directory + mainFileName : directory + "/" + mainFileName
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            guard let decoded = String(data: data, encoding: .utf8) else {
                throw ConfigErrors(issues: [ConfigIssue(file: file, path: "", message: "not valid UTF-8")])
            }
            text = decoded
        } catch let error as ConfigErrors {
            throw error
        } catch {
            let reason = FileManager.default.fileExists(atPath: file)
                ? "cannot read the file (\((error as NSError).localizedDescription))"
                : "file not found"
            throw ConfigErrors(issues: [ConfigIssue(file: file, path: "", message: reason)])
        }
        return try parse(json5: text, file: file, baseDirectory: directory)
    }

    /// Parses and validates configuration text. `file` is only used in messages; relative paths in the
    /// configuration are resolved against `baseDirectory`. Throws `ConfigErrors`.
    public static func parse(json5: String, file: String, baseDirectory: String) throws -> GatewayConfig {
        let issues = IssueCollector(file: file)
        guard let root = JSON5.decode(json5, issues: issues) else {
            throw ConfigErrors(issues: issues.issues)
        }
        var validator = Validator(issues: issues, baseDirectory: absolute(baseDirectory))
        let config = validator.gatewayConfig(root)
        guard issues.isEmpty, let config else {
            throw ConfigErrors(issues: issues.issues)
        }
        return config
    }

    /// `path` made absolute (relative to `base`, which is relative to the working directory) and
    /// lexically normalised.
    /// `path` relative to `base` (or the working directory), without any normalisation.
    static func joined(_ path: String, base: String) -> String {
        if path.hasPrefix("/") { return path }
        let full = base.hasSuffix("/") ? base + path : base + "/" + path
        return full.hasPrefix("/") ? full : FileManager.default.currentDirectoryPath + "/" + full
    }

    static func absolute(_ path: String, base: String? = nil) -> String {
        var full = path
        if !full.hasPrefix("/"), let base {
            full = base.hasSuffix("/") ? base + full : base + "/" + full
        }
        if !full.hasPrefix("/") {
            full = FileManager.default.currentDirectoryPath + "/" + full
        }
        return URL(fileURLWithPath: full).standardizedFileURL.path
    }
}

/// The validation pass: turns a `JSONValue` into a `GatewayConfig`, reporting every issue.
struct Validator {
    let issues: IssueCollector
    let baseDirectory: String

    static let topLevelKeys = ["workers", "listen", "tls", "hsts", "limits", "timeouts", "upstreams", "routes", "accessLog",
                                "auth", "organizations", "roles", "groups", "paths", "stripRequestHeaders", "underscoreHeaders", "backup", "admin",
                                "errorLog", "errorLogLevel"]

    mutating func gatewayConfig(_ root: JSONValue) -> GatewayConfig? {
        guard let top = ObjectReader(root, path: "", known: Self.topLevelKeys, issues: issues) else {
            return nil
        }
        let workers = top.int("workers", default: 0, range: 0...1024)
        let listen = listenSection(top)
        let tls = tlsSection(top)
        let hsts = hstsSection(top)
        let limits = limitsSection(top)
        let timeouts = timeoutsSection(top)
        let upstreams = upstreamsSection(top)
        let auth = authSection(top)
        let organizations = organizationsSection(top, auth: auth)
        let roles = rolesSection(top)
        let groups = groupsSection(top, roles: roles)
        let routes = routesSection(top, upstreams: upstreams, authConfigured: auth != nil)
        let accessLog = logTarget(top, "accessLog", default: .stdout)
        let (errorLog, errorLogLevel) = errorLogSection(top)
        identifierCollisions(organizations: organizations, roles: roles, groups: groups, upstreams: upstreams, auth: auth)

        let paths = pathsSection(top)
        let strip = stripSection(top)
        let underscores = underscoreSection(top)
        let backup = backupSection(top, auth: auth)
        let admin = adminSection(top, publicListeners: (listen?.https ?? []) + (listen?.redirect ?? []))
        guard let listen, let tls, let upstreams, let routes else { return nil }
        var config = GatewayConfig(workers: workers, httpsListen: listen.https, httpRedirectListen: listen.redirect,
                                   redirectPort: listen.redirectPort, tls: tls, hsts: hsts, limits: limits,
                                   timeouts: timeouts, upstreams: upstreams, routes: routes, accessLog: accessLog,
                                   auth: auth, organizations: organizations, roles: roles, groups: groups)
        config.pathPolicy = paths
        config.stripRequestHeaders = strip
        config.underscoreHeaders = underscores
        config.backup = backup
        config.admin = admin
        config.errorLog = errorLog
        config.errorLogLevel = errorLogLevel
        config.file = issues.file
        return config
    }

    /// `errorLog` ("stderr", "stdout" or a file) and `errorLogLevel` ("error", "warn", "info").
    private func errorLogSection(_ top: ObjectReader) -> (LogTarget, LogLevel) {
        var target = logTarget(top, "errorLog", default: .stderr)
        if target == .off {
            // nginx has no `error_log off` either (it would write to a file named "off").
            issues.add(top.fieldPath("errorLog"), "the error log cannot be turned off (use \"stderr\", \"stdout\" or a file path; "
                       + "errorLogLevel: \"error\" keeps it to failures)")
            target = .stderr
        }
        let level = top.choice("errorLogLevel", LogLevel.allCases, name: \.name, what: "level", default: .info)
        return (target, level)
    }

    // MARK: - paths, stripRequestHeaders

    /// `paths`: what the normaliser tolerates; every switch widens what an upstream may misjudge.
    private func pathsSection(_ top: ObjectReader) -> PathPolicy {
        guard let value = top.value("paths"),
              let p = ObjectReader(value, path: "paths", known: ["allowEncodedSlash", "allowBackslash", "allowPathParameters", "mergeSlashes",
                                                                 "allowEncodedWhitespace"],
                                   issues: issues) else { return PathPolicy() }
        return PathPolicy(allowEncodedSlash: p.bool("allowEncodedSlash", default: false), allowBackslash: p.bool("allowBackslash", default: false),
                          allowPathParameters: p.bool("allowPathParameters", default: false), mergeSlashes: p.bool("mergeSlashes", default: true),
                          allowEncodedWhitespace: p.bool("allowEncodedWhitespace", default: false))
    }

    /// `underscoreHeaders`: "drop" (default), "forward" or "reject".
    private func underscoreSection(_ top: ObjectReader) -> UnderscoreHeaders {
        top.choice("underscoreHeaders", UnderscoreHeaders.allCases, name: \.rawValue, what: "value", default: .drop)
    }

    private func stripSection(_ top: ObjectReader) -> [String] {
        guard let list = top.stringList("stripRequestHeaders") else { return [] }
        var names: [String] = []
        for (path, name) in list {
            guard Self.isFieldName(name) else { issues.add(path, "not a header field name: \"\(name)\""); continue }
            names.append(name.lowercased())
        }
        return names
    }

    /// RFC 9110 token characters.
    static func isFieldName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    // MARK: - listen

    private func listenSection(_ top: ObjectReader)
        -> (https: [ListenAddress], redirect: [ListenAddress], redirectPort: UInt16?)? {
        guard let value = top.required("listen"),
              let listen = ObjectReader(value, path: "listen", known: ["https", "httpRedirect", "redirectPort"], issues: issues)
        else { return nil }

        var seen: [ListenAddress: String] = [:]
        func addresses(_ key: String, required: Bool) -> [ListenAddress] {
            guard let list = listen.stringList(key) else {
                if required { issues.add(listen.fieldPath(key), "missing required key (an address like \"0.0.0.0:8443\" or an array of them)") }
                return []
            }
            if list.isEmpty && required {
                issues.add(listen.fieldPath(key), "must contain at least one address")
            }
            var result: [ListenAddress] = []
            for (path, text) in list {
                do {
                    let address = try ListenAddress(parsing: text)
                    if let other = seen[address] {
                        issues.add(path, "address \(address) is already used by \(other)")
                    } else {
                        seen[address] = path
                        result.append(address)
                    }
                } catch {
                    issues.add(path, "bad listen address: \(error)")
                }
            }
            return result
        }
        let https = addresses("https", required: true)
        let redirect = addresses("httpRedirect", required: false)
        var redirectPort: UInt16?
        if listen.value("redirectPort") != nil {
            redirectPort = UInt16(listen.int("redirectPort", default: 443, range: 1...65535))
        }
        return (https, redirect, redirectPort)
    }

    // MARK: - tls

    private func tlsSection(_ top: ObjectReader) -> TLSConfig? {
        guard let value = top.required("tls"),
              let tls = ObjectReader(value, path: "tls", known: ["certificates", "sessionTickets", "ticketKeyRotationSeconds"], issues: issues)
        else { return nil }
        let sessionTickets = tls.bool("sessionTickets", default: true)
        let rotation = tls.int("ticketKeyRotationSeconds", default: 3600, range: 60...604_800)

        guard let list = tls.required("certificates") else { return nil }
        let listPath = tls.fieldPath("certificates")
        guard case .array(let elements) = list else {
            issues.add(listPath, "expected an array of certificates, got \(list.kindDescription)")
            return nil
        }
        if elements.isEmpty {
            issues.add(listPath, "must contain at least one certificate")
            return nil
        }
        var certificates: [CertificateConfig] = []
        var defaultPath: String?
        var namesSeen: [String: String] = [:]
        for (index, element) in elements.enumerated() {
            let path = "\(listPath)[\(index)]"
            guard let cert = ObjectReader(element, path: path, known: ["cert", "key", "serverNames", "default"], issues: issues)
            else { continue }
            let certFile = readableFile(cert, "cert", required: true)
            let keyFile = readableFile(cert, "key", required: true)
            var names: [String] = []
            for (namePath, name) in cert.stringList("serverNames") ?? [] {
                let lower = name.lowercased()
                if !AddressParsing.isHostPattern(lower, allowBracketedIPv6: false) {
                    issues.add(namePath, "invalid server name \"\(name)\" (expected a DNS name or a wildcard like \"*.example.com\")")
                } else if let other = namesSeen[lower] {
                    issues.add(namePath, "server name \"\(lower)\" is already used by \(other)")
                } else {
                    namesSeen[lower] = namePath
                    names.append(lower)
                }
            }
            let isDefault = cert.bool("default", default: false)
            if isDefault {
                if let defaultPath {
                    issues.add(cert.fieldPath("default"), "more than one default certificate (\(defaultPath) is already the default)")
                } else {
                    defaultPath = path
                }
            }
            if let certFile, let keyFile {
                certificates.append(CertificateConfig(certFile: certFile, keyFile: keyFile, serverNames: names, isDefault: isDefault))
            }
        }
        if defaultPath == nil, !certificates.isEmpty {
            certificates[0].isDefault = true
        }
        return TLSConfig(certificates: certificates, sessionTickets: sessionTickets, ticketKeyRotationSeconds: rotation)
    }

    /// A file path field: resolved against the config directory, must be a readable regular file.
    func readableFile(_ object: ObjectReader, _ key: String, required: Bool) -> String? {
        guard let raw = required ? object.requiredString(key) : object.string(key) else { return nil }
        if raw.isEmpty {
            issues.add(object.fieldPath(key), "must not be empty")
            return nil
        }
        let path = ConfigLoader.absolute(raw, base: baseDirectory)
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            issues.add(object.fieldPath(key), "file not found: \(path)")
            return nil
        }
        if isDirectory.boolValue {
            issues.add(object.fieldPath(key), "is a directory, not a file: \(path)")
            return nil
        }
        if !FileManager.default.isReadableFile(atPath: path) {
            issues.add(object.fieldPath(key), "file is not readable: \(path)")
            return nil
        }
        return path
    }

    // MARK: - hsts, limits, timeouts

    private func hstsSection(_ top: ObjectReader) -> HSTSConfig {
        guard let value = top.value("hsts"),
              let hsts = ObjectReader(value, path: "hsts", known: ["maxAgeSeconds", "includeSubDomains", "preload"], issues: issues)
        else { return HSTSConfig() }
        let maxAge = hsts.int("maxAgeSeconds", default: 31_536_000, range: 0...315_360_000)
        let includeSubDomains = hsts.bool("includeSubDomains", default: true)
        let preload = hsts.bool("preload", default: true)
        if preload {
            if !includeSubDomains {
                issues.add(hsts.fieldPath("preload"), "preload requires includeSubDomains: true (hstspreload.org rules)")
            }
            if maxAge < 31_536_000 {
                issues.add(hsts.fieldPath("preload"), "preload requires maxAgeSeconds >= 31536000 (one year; hstspreload.org rules), got \(maxAge)")
            }
        }
        return HSTSConfig(maxAgeSeconds: maxAge, includeSubDomains: includeSubDomains, preload: preload)
    }

    private func limitsSection(_ top: ObjectReader) -> LimitsConfig {
        let keys = ["maxRequestLineBytes", "maxHeaderBytes", "maxHeaderCount", "maxChunkLineBytes", "maxTrailerBytes",
                    "maxRequestBodyBytes", "maxConnectionsPerWorker"]
        guard let value = top.value("limits"),
              let limits = ObjectReader(value, path: "limits", known: keys, issues: issues)
        else { return LimitsConfig() }
        let d = LimitsConfig()
        return LimitsConfig(
            maxRequestLineBytes: limits.int("maxRequestLineBytes", default: d.maxRequestLineBytes, range: 256...1_048_576),
            maxHeaderBytes: limits.int("maxHeaderBytes", default: d.maxHeaderBytes, range: 1024...1_048_576),
            maxHeaderCount: limits.int("maxHeaderCount", default: d.maxHeaderCount, range: 1...10_000),
            maxChunkLineBytes: limits.int("maxChunkLineBytes", default: d.maxChunkLineBytes, range: 16...65_536),
            maxTrailerBytes: limits.int("maxTrailerBytes", default: d.maxTrailerBytes, range: 0...1_048_576),
            maxRequestBodyBytes: limits.int64("maxRequestBodyBytes", default: d.maxRequestBodyBytes, range: 0...Int64.max),
            maxConnectionsPerWorker: limits.int("maxConnectionsPerWorker", default: d.maxConnectionsPerWorker, range: 1...1_000_000))
    }

    private func timeoutsSection(_ top: ObjectReader) -> TimeoutsConfig {
        let keys = ["clientHeaderSeconds", "clientBodySeconds", "clientIdleSeconds", "clientSendSeconds",
                    "upstreamConnectSeconds", "upstreamResponseSeconds", "drainSeconds", "tunnelLifetimeSeconds"]
        guard let value = top.value("timeouts"),
              let t = ObjectReader(value, path: "timeouts", known: keys, issues: issues)
        else { return TimeoutsConfig() }
        return TimeoutsConfig(
            clientHeaderSeconds: t.seconds("clientHeaderSeconds", default: 10),
            clientBodySeconds: t.seconds("clientBodySeconds", default: 60),
            clientIdleSeconds: t.seconds("clientIdleSeconds", default: 60),
            clientSendSeconds: t.seconds("clientSendSeconds", default: 60),
            upstreamConnectSeconds: t.seconds("upstreamConnectSeconds", default: 5),
            upstreamResponseSeconds: t.seconds("upstreamResponseSeconds", default: 60),
            drainSeconds: t.seconds("drainSeconds", default: 30),
            tunnelLifetimeSeconds: t.seconds("tunnelLifetimeSeconds", default: 86400, maximum: 7 * 86400))
    }

    // MARK: - upstreams

    private func upstreamsSection(_ top: ObjectReader) -> [String: UpstreamConfig]? {
        guard let value = top.required("upstreams") else { return nil }
        guard case .object(let members) = value else {
            issues.add("upstreams", "expected an object mapping upstream names to upstreams, got \(value.kindDescription)")
            return nil
        }
        if members.isEmpty {
            issues.add("upstreams", "must define at least one upstream")
        }
        let keys = ["servers", "tls", "caFile", "serverName", "balance", "maxIdleConnections", "idleTimeoutSeconds", "caseInsensitivePaths",
                    "maxFails", "failTimeoutSeconds", "healthCheck"]
        var result: [String: UpstreamConfig] = [:]
        for name in members.keys.sorted() {
            let path = "upstreams.\(name)"
            if name.isEmpty || !name.utf8.allSatisfy(Self.isNameByte) {
                issues.add(path, "invalid upstream name \"\(name)\" (allowed characters: A-Z a-z 0-9 _ -)")
            }
            guard let upstream = ObjectReader(members[name]!, path: path, known: keys, issues: issues) else { continue }

            var servers: [UpstreamServer] = []
            if let list = upstream.stringList("servers") {
                if list.isEmpty { issues.add(upstream.fieldPath("servers"), "must contain at least one server") }
                for (serverPath, text) in list {
                    do {
                        servers.append(try UpstreamServer(parsing: text))
                    } catch {
                        issues.add(serverPath, "bad upstream server address: \(error)")
                    }
                }
            } else if upstream.value("servers") == nil {
                issues.add(upstream.fieldPath("servers"), "missing required key (an array like [\"127.0.0.1:9000\"])")
            }

            let tls = upstream.bool("tls", default: false)
            let caFile = readableFile(upstream, "caFile", required: false)
            if !tls, upstream.value("caFile") != nil {
                issues.add(upstream.fieldPath("caFile"), "only allowed with tls: true")
            }
            var serverName = upstream.string("serverName")
            if let name = serverName {
                if !tls {
                    issues.add(upstream.fieldPath("serverName"), "only allowed with tls: true")
                }
                if !AddressParsing.isHostName(name) {
                    issues.add(upstream.fieldPath("serverName"), "invalid server name \"\(name)\" (expected a DNS name)")
                }
                serverName = name.lowercased()
            }
            let balance = upstream.choice("balance", BalanceStrategy.allCases, name: \.rawValue, what: "strategy", default: .roundRobin)
            let maxIdle = upstream.int("maxIdleConnections", default: 32, range: 0...10_000)
            let idle = upstream.seconds("idleTimeoutSeconds", default: 60)
            let caseInsensitive = upstream.bool("caseInsensitivePaths", default: false)
            result[name] = UpstreamConfig(name: name, servers: servers, tls: tls, caFile: caFile, serverName: serverName,
                                          balance: balance, maxIdleConnections: maxIdle, idleTimeoutSeconds: idle,
                                          caseInsensitivePaths: caseInsensitive, health: upstreamHealth(upstream))
        }
        return result
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
            || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }

    // MARK: - routes

    private func routesSection(_ top: ObjectReader, upstreams: [String: UpstreamConfig]?, authConfigured: Bool) -> [RouteConfig]? {
        guard let value = top.required("routes") else { return nil }
        guard case .array(let elements) = value else {
            issues.add("routes", "expected an array of routes, got \(value.kindDescription)")
            return nil
        }
        if elements.isEmpty {
            issues.add("routes", "must contain at least one route")
        }
        var definedNames: String {
            let names = (upstreams ?? [:]).keys.sorted()
            return names.isEmpty ? "none" : names.joined(separator: ", ")
        }
        var routes: [RouteConfig] = []
        var indices: [Int] = []
        var seen: [String: String] = [:]
        var seenFolded: [String: (path: String, folded: Bool)] = [:]
        for (index, element) in elements.enumerated() {
            let path = "routes[\(index)]"
            guard let route = ObjectReader(element, path: path, known: ["host", "pathPrefix", "upstream", "public", "access", "upstreamCredential",
                                                                         "forwardOverrideHeaders", "identity"], issues: issues)
            else { continue }
            var ok = true

            var host: String?
            if let text = route.string("host"), text != "*" {
                let lower = text.lowercased()
                if AddressParsing.isHostPattern(lower, allowBracketedIPv6: true) {
                    // The form requests are compared in (an IPv6 literal in its canonical text).
                    if lower.hasPrefix("*.") {
                        host = lower
                    } else if let normal = HostName.normalize(lower), normal.port == HostName.noPort {
                        host = normal.name
                    } else {
                        issues.add(route.fieldPath("host"), "invalid host \"\(text)\": a numeric host must be a dotted-quad IPv4 address (like \"192.0.2.1\")")
                        ok = false
                    }
                } else {
                    let hint = lower.contains(":") && !lower.hasPrefix("[") ? " (a route host must not contain a port)" : ""
                    issues.add(route.fieldPath("host"), "invalid host \"\(text)\": expected \"*\", a DNS name or a wildcard like \"*.example.com\"\(hint)")
                    ok = false
                }
            } else if route.value("host") != nil, route.string("host") == nil {
                ok = false  // wrong type, reported
            }

            let prefix = route.string("pathPrefix") ?? "/"
            if let problem = Self.pathPrefixProblem(prefix) {
                issues.add(route.fieldPath("pathPrefix"), problem)
                ok = false
            }

            let upstream = route.requiredString("upstream")
            if let upstream, let upstreams, upstreams[upstream] == nil {
                issues.add(route.fieldPath("upstream"), "unknown upstream \"\(upstream)\" (defined: \(definedNames))")
                ok = false
            }
            let isPublic = route.bool("public", default: false)
            // Deny by default: a route is protected unless it says otherwise, and protection needs identity.
            if !isPublic, !authConfigured {
                issues.add(path, "protected route but no auth section: configure auth, or mark the route public: true")
                ok = false
            }
            var access: AccessRule?
            if let value = route.value("access") {
                if isPublic {
                    issues.add(route.fieldPath("access"), "a public route takes no access rule (remove it, or drop public: true)")
                    ok = false
                } else {
                    access = accessRule(value, path: route.fieldPath("access"), prefix: prefix, upstream: upstream ?? "")
                    if access == nil { ok = false }
                }
            }
            var credential: UpstreamCredentialConfig?
            var oauth2: UpstreamOAuth2Config?
            if let value = route.value("upstreamCredential") {
                switch upstreamCredential(value, path: route.fieldPath("upstreamCredential")) {
                case .static(let c)?: credential = c
                case .oauth2(let c)?: oauth2 = c
                case nil: ok = false
                }
                if !authConfigured {
                    issues.add(route.fieldPath("upstreamCredential"), "needs the auth section (the secret store)")
                    ok = false
                }
            }
            let identity = identityDisclosure(route, isPublic: isPublic)
            if identity == nil { ok = false }
            let overrides = forwardOverrides(route)
            if overrides == nil { ok = false }
            guard ok, let upstream else { continue }

            // Routes to a case-insensitive upstream match case-folded: "/Admin" and "/admin" would be one prefix.
            let folded = upstreams?[upstream]?.caseInsensitivePaths ?? false
            let key = "\(host ?? "*") \(prefix)"
            let foldedKey = "\(host ?? "*") \(prefix.lowercased())"
            if let other = seen[key] {
                issues.add(path, "duplicate route: same host (\(host ?? "any")) and pathPrefix (\(prefix)) as \(other)")
                continue
            }
            if let other = seenFolded[foldedKey], folded || other.folded {
                issues.add(path, "duplicate route: pathPrefix \(prefix) equals that of \(other.path) when case is ignored, and one of them goes to an upstream with caseInsensitivePaths")
                continue
            }
            seen[key] = path
            if seenFolded[foldedKey] == nil || folded { seenFolded[foldedKey] = (path, folded) }
            var config = RouteConfig(host: host, pathPrefix: prefix, upstream: upstream, isPublic: isPublic, access: access)
            config.upstreamCredential = credential
            config.upstreamOAuth2 = oauth2
            config.identity = identity ?? .full
            config.forwardOverrideHeaders = overrides ?? []
            routes.append(config)
            indices.append(index)
        }
        audienceOwnership(routes, indices: indices, upstreams: upstreams)
        audienceDisclosure(routes, indices: indices)
        return routes
    }

    /// `forwardOverrideHeaders`: names from the override list only (identity, forwarding and
    /// framing fields can never be let through). nil when something is wrong (reported).
    private func forwardOverrides(_ route: ObjectReader) -> [String]? {
        guard route.value("forwardOverrideHeaders") != nil else { return [] }
        guard let list = route.stringList("forwardOverrideHeaders") else { return nil }
        let allowed = FieldNameSet(GatewayFieldNames.overrides)
        var names: [String] = []
        var ok = true
        for (path, name) in list {
            let lookup = Array(name.utf8)
            let isOverride = Self.isFieldName(name) && lookup.withUnsafeBytes { allowed.contains($0) }
            guard isOverride, !name.utf8.contains(UInt8(ascii: "_")) else {
                let known = GatewayFieldNames.overrides.joined(separator: ", ")
                issues.add(path, "\"\(name)\" is not an override field a route can forward (one of: \(known))")
                ok = false
                continue
            }
            names.append(name)
        }
        return ok ? names : nil
    }

    static func pathPrefixProblem(_ prefix: String) -> String? {
        guard prefix.hasPrefix("/") else { return "must start with \"/\", got \"\(prefix)\"" }
        for b in prefix.utf8 {
            if b <= 0x20 || b == 0x7F { return "must not contain spaces or control characters" }
            if b >= 0x80 { return "must be ASCII (percent-encode other characters as they appear on the wire)" }
            if b == UInt8(ascii: "?") || b == UInt8(ascii: "#") { return "must not contain \"?\" or \"#\" (the query is not matched)" }
        }
        let segments = prefix.split(separator: "/", omittingEmptySubsequences: false)
        if segments.contains(where: { $0 == "." || $0 == ".." }) {
            return "must not contain \".\" or \"..\" segments"
        }
        return nil
    }
}
