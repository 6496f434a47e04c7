import Foundation

/// Validation of the `auth` and `organizations` sections.
extension Validator {
    static let authKeys = ["usersFile", "apiKeysFile", "secretsFile", "masterKeyFile", "modes", "session", "oidc",
                           "loginLimits", "auditLog", "returnHosts", "totpIssuer", "workQueues"]

    func authSection(_ top: ObjectReader) -> AuthConfig? {
        guard let value = top.value("auth"),
              let auth = ObjectReader(value, path: "auth", known: Self.authKeys, issues: issues) else { return nil }
        let oidc = oidcProviders(auth)
        let modes = modeList(auth, "modes", providers: oidc) ?? [.password]
        if modes.isEmpty { issues.add(auth.fieldPath("modes"), "must enable at least one mode") }

        var idle = 1800, absolute = 43200
        if let s = auth.value("session"),
           let session = ObjectReader(s, path: auth.fieldPath("session"),
                                      known: ["idleTimeoutSeconds", "absoluteTimeoutSeconds"], issues: issues) {
            idle = session.int("idleTimeoutSeconds", default: idle, range: 60...2_592_000)
            absolute = session.int("absoluteTimeoutSeconds", default: absolute, range: 60...31_536_000)
            if idle > absolute {
                issues.add(session.fieldPath("idleTimeoutSeconds"), "must not exceed absoluteTimeoutSeconds (\(absolute))")
            }
        }
        // Kept as written (only made absolute): normalising would resolve a symbolic link, and the
        // key file is opened with O_NOFOLLOW so that a link is refused.
        let masterKeyFile = auth.string("masterKeyFile").map { ConfigLoader.joined($0, base: baseDirectory) }
        if let path = masterKeyFile.map({ ConfigLoader.absolute($0) }), path.hasPrefix(baseDirectory.hasSuffix("/") ? baseDirectory : baseDirectory + "/") {
            // The key that opens the secrets must not travel with them (backups, config repos).
            issues.add(auth.fieldPath("masterKeyFile"), "must be outside the configuration directory \(baseDirectory)")
        }
        var returnHosts: [String] = []
        for (path, host) in auth.stringList("returnHosts") ?? [] {
            if AddressParsing.isHostName(host.lowercased()) { returnHosts.append(host.lowercased()) }
            else { issues.add(path, "invalid host \"\(host)\" (expected an exact DNS name, no port or wildcard)") }
        }
        return AuthConfig(
            usersFile: dataFile(auth, "usersFile", default: "users.json"),
            apiKeysFile: dataFile(auth, "apiKeysFile", default: "apikeys.json"),
            secretsFile: dataFile(auth, "secretsFile", default: "secrets.json"),
            masterKeyFile: masterKeyFile, modes: modes, idleTimeoutSeconds: idle, absoluteTimeoutSeconds: absolute,
            oidc: oidc, loginLimits: loginLimits(auth), auditLog: logTarget(auth, "auditLog", default: .stderr),
            returnHosts: returnHosts, totpIssuer: auth.string("totpIssuer") ?? "Drawbridge", workQueues: workQueues(auth))
    }

    private func workQueues(_ auth: ObjectReader) -> WorkQueuesConfig {
        let d = WorkQueuesConfig()
        guard let value = auth.value("workQueues"),
              let w = ObjectReader(value, path: auth.fieldPath("workQueues"),
                                   known: ["signInThreads", "signInQueue", "providerThreads", "providerQueue"], issues: issues) else { return d }
        return WorkQueuesConfig(signInThreads: w.int("signInThreads", default: d.signInThreads, range: 0...64),
                                signInQueue: w.int("signInQueue", default: d.signInQueue, range: 1...100_000),
                                providerThreads: w.int("providerThreads", default: d.providerThreads, range: 1...256),
                                providerQueue: w.int("providerQueue", default: d.providerQueue, range: 1...100_000))
    }

    /// A data file path (may not exist yet): resolved against the config directory.
    private func dataFile(_ object: ObjectReader, _ key: String, default name: String) -> String {
        let raw = object.string(key) ?? name
        if raw.isEmpty { issues.add(object.fieldPath(key), "must not be empty") }
        return ConfigLoader.absolute(raw.isEmpty ? name : raw, base: baseDirectory)
    }

    /// A list of mode names; each oidc mode must name a configured provider.
    private func modeList(_ object: ObjectReader, _ key: String, providers: [String: OIDCProviderConfig]) -> [AuthModeName]? {
        guard let list = object.stringList(key) else { return nil }
        var modes: [AuthModeName] = []
        for (path, text) in list {
            guard let mode = AuthModeName(parsing: text) else {
                issues.add(path, "unknown auth mode \"\(text)\" (allowed: \"password\", \"api_key\", \"oidc:<provider>\")")
                continue
            }
            if case .oidc(let name) = mode, providers[name] == nil {
                let known = providers.keys.sorted().joined(separator: ", ")
                issues.add(path, "no OIDC provider \"\(name)\" under auth.oidc (defined: \(known.isEmpty ? "none" : known))")
                continue
            }
            if modes.contains(mode) { issues.add(path, "\"\(text)\" is listed twice") } else { modes.append(mode) }
        }
        return modes
    }

    private func oidcProviders(_ auth: ObjectReader) -> [String: OIDCProviderConfig] {
        guard let value = auth.value("oidc") else { return [:] }
        guard case .object(let members) = value else {
            issues.add(auth.fieldPath("oidc"), "expected an object mapping provider names to providers, got \(value.kindDescription)")
            return [:]
        }
        var result: [String: OIDCProviderConfig] = [:]
        let keys = ["issuer", "clientId", "clientSecret", "displayName", "hostedDomain", "caFile", "scopes", "trustedFor"]
        for name in members.keys.sorted() {
            let path = join(auth.fieldPath("oidc"), name)
            if name.isEmpty || !name.utf8.allSatisfy(Self.isNameByte) {
                issues.add(path, "invalid provider name \"\(name)\" (allowed characters: A-Z a-z 0-9 _ -)")
            }
            guard let p = ObjectReader(members[name]!, path: path, known: keys, issues: issues),
                  let issuer = p.requiredString("issuer"), let clientId = p.requiredString("clientId"),
                  let secret = p.requiredString("clientSecret") else { continue }
            // The issuer is compared byte for byte with discovery and with every ID token's iss.
            if !issuer.hasPrefix("https://") || issuer.hasSuffix("/") || issuer.contains("?") || issuer.contains("#") {
                issues.add(p.fieldPath("issuer"), "must be an https URL without trailing slash, query or fragment, got \"\(issuer)\"")
            }
            if clientId.isEmpty { issues.add(p.fieldPath("clientId"), "must not be empty") }
            if secret.isEmpty { issues.add(p.fieldPath("clientSecret"), "must name a secret (see `drawbridge secret set`)") }
            let scopes = (p.stringList("scopes") ?? []).map(\.value)
            if !scopes.isEmpty, !scopes.contains("openid") { issues.add(p.fieldPath("scopes"), "must include \"openid\"") }
            var trustedOrgs: [String] = [], trustedDomains: [String] = []
            if let t = p.value("trustedFor"),
               let trust = ObjectReader(t, path: p.fieldPath("trustedFor"), known: ["organizations", "emailDomains"], issues: issues) {
                // Organisation ids are checked against the organizations section once it is read.
                trustedOrgs = (trust.stringList("organizations") ?? []).map(\.value)
                for (path, d) in trust.stringList("emailDomains") ?? [] {
                    if AddressParsing.isHostName(d.lowercased()) { trustedDomains.append(d.lowercased()) }
                    else { issues.add(path, "invalid email domain \"\(d)\"") }
                }
            }
            result[name] = OIDCProviderConfig(
                name: name, issuer: issuer, clientId: clientId, clientSecretName: secret,
                displayName: p.string("displayName") ?? name.prefix(1).uppercased() + name.dropFirst(),
                hostedDomain: p.string("hostedDomain")?.lowercased(), caFile: readableFile(p, "caFile", required: false),
                scopes: scopes.isEmpty ? ["openid", "email", "profile"] : scopes,
                trustedForOrganizations: trustedOrgs, trustedForEmailDomains: trustedDomains)
        }
        return result
    }

    private func loginLimits(_ auth: ObjectReader) -> LoginLimitsConfig {
        let d = LoginLimitsConfig()
        guard let value = auth.value("loginLimits"),
              let l = ObjectReader(value, path: auth.fieldPath("loginLimits"),
                                   known: ["perAddress", "perAccountFailures", "windowSeconds", "lockoutSeconds", "maxLockoutSeconds"],
                                   issues: issues) else { return d }
        let limits = LoginLimitsConfig(
            perAddress: l.int("perAddress", default: d.perAddress, range: 1...100_000),
            perAccountFailures: l.int("perAccountFailures", default: d.perAccountFailures, range: 1...1000),
            windowSeconds: l.seconds("windowSeconds", default: d.windowSeconds),
            lockoutSeconds: l.seconds("lockoutSeconds", default: d.lockoutSeconds),
            maxLockoutSeconds: l.seconds("maxLockoutSeconds", default: d.maxLockoutSeconds))
        if limits.maxLockoutSeconds < limits.lockoutSeconds {
            issues.add(l.fieldPath("maxLockoutSeconds"), "must be >= lockoutSeconds (\(limits.lockoutSeconds))")
        }
        return limits
    }

    // MARK: - organizations

    func organizationsSection(_ top: ObjectReader, auth: AuthConfig?) -> [OrganizationConfig] {
        guard let value = top.value("organizations") else { return [] }
        guard case .object(let members) = value else {
            issues.add("organizations", "expected an object mapping organisation ids to organisations, got \(value.kindDescription)")
            return []
        }
        if auth == nil, !members.isEmpty {
            issues.add("organizations", "organisations need an auth section (where users, keys and secrets live)")
        }
        let keys = ["name", "emailDomains", "modes", "disabledModes", "mfaRequired", "idleTimeoutSeconds", "absoluteTimeoutSeconds",
                    "trustedProviders"]
        var result: [OrganizationConfig] = []
        var domainOwner: [String: String] = [:]
        for id in members.keys.sorted() {
            let path = "organizations.\(id)"
            if id.isEmpty || !id.utf8.allSatisfy(Self.isNameByte) {
                issues.add(path, "invalid organisation id \"\(id)\" (allowed characters: A-Z a-z 0-9 _ -)")
            }
            guard let o = ObjectReader(members[id]!, path: path, known: keys, issues: issues) else { continue }
            var domains: [String] = []
            for (p, d) in o.stringList("emailDomains") ?? [] {
                let lower = d.lowercased()
                if !AddressParsing.isHostName(lower) { issues.add(p, "invalid email domain \"\(d)\""); continue }
                // Identifier-first login routes an email to one org by its domain: it must be unambiguous.
                if let other = domainOwner[lower] { issues.add(p, "domain \"\(lower)\" already belongs to organisation \(other)"); continue }
                domainOwner[lower] = id
                domains.append(lower)
            }
            let providers = auth?.oidc ?? [:]
            let global = auth?.modes ?? []
            var modes = OrgModesConfig.inherit
            let only = modeList(o, "modes", providers: providers)
            let off = modeList(o, "disabledModes", providers: providers)
            for (list, key) in [(only, "modes"), (off, "disabledModes")] {
                for mode in list ?? [] where !global.contains(mode) {
                    issues.add(o.fieldPath(key), "\"\(mode)\" is not enabled in auth.modes (an organisation can only narrow the gateway's modes)")
                }
            }
            switch (only, off) {
            case (let only?, nil): modes = .only(only)
            case (nil, let off?): modes = .disable(off)
            case (_?, _?): issues.add(path, "use either modes (allow-list) or disabledModes, not both")
            case (nil, nil): break
            }
            var idle: Int?, absolute: Int?
            if o.value("idleTimeoutSeconds") != nil { idle = o.int("idleTimeoutSeconds", default: 1800, range: 60...2_592_000) }
            if o.value("absoluteTimeoutSeconds") != nil {
                absolute = o.int("absoluteTimeoutSeconds", default: 43200, range: 60...31_536_000)
            }
            var trusted: [String] = []
            for (p, name) in o.stringList("trustedProviders") ?? [] {
                if providers[name] == nil {
                    let known = providers.keys.sorted().joined(separator: ", ")
                    issues.add(p, "no OIDC provider \"\(name)\" under auth.oidc (defined: \(known.isEmpty ? "none" : known))")
                } else if trusted.contains(name) { issues.add(p, "\"\(name)\" is listed twice") }
                else { trusted.append(name) }
            }
            result.append(OrganizationConfig(id: id, name: o.string("name") ?? id, emailDomains: domains, modes: modes,
                                             mfaRequired: o.bool("mfaRequired", default: false),
                                             idleTimeoutSeconds: idle, absoluteTimeoutSeconds: absolute, trustedProviders: trusted))
        }
        // A provider may only name organisations that exist (a typo would trust nobody, silently).
        for name in (auth?.oidc ?? [:]).keys.sorted() {
            for org in auth!.oidc[name]!.trustedForOrganizations where members[org] == nil {
                issues.add("auth.oidc.\(name).trustedFor.organizations", "unknown organisation \"\(org)\" (not under organizations)")
            }
        }
        return result
    }

    /// "stdout", "stderr", "off" or a file path whose directory exists.
    func logTarget(_ object: ObjectReader, _ key: String, default defaultTarget: LogTarget) -> LogTarget {
        guard let text = object.string(key) else { return defaultTarget }
        switch text {
        case "stdout": return .stdout
        case "stderr": return .stderr
        case "off": return .off
        case "":
            issues.add(object.fieldPath(key), "must not be empty (use \"stdout\", \"stderr\", \"off\" or a file path)")
            return defaultTarget
        default:
            let path = ConfigLoader.absolute(text, base: baseDirectory)
            let directory = (path as NSString).deletingLastPathComponent
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue {
                issues.add(object.fieldPath(key), "directory does not exist: \(directory)")
            }
            return .file(path)
        }
    }
}
