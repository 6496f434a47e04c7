import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeIdentity

/// An API key as stored: the record the gateway verifies against, and a display name.
public struct APIKeyEntry: Sendable, Equatable {
    public var record: APIKeyRecord
    public var name: String

    public init(record: APIKeyRecord, name: String) {
        self.record = record
        self.name = name
    }
}

/// Parsing and writing of the three identity files. Decoding reports every problem as
/// "file: json.path: problem" and returns all or nothing.
public enum StoreFiles {
    public static let formatVersion: Int64 = 1

    // MARK: - users.json

    public static func decodeUsers(_ text: String, file: String) throws(ConfigErrors) -> [User] {
        let issues = IssueCollector(file: file)
        guard let top = topLevel(text, listKey: "users", issues: issues), case .array(let elements)? = top.value("users") else {
            throw ConfigErrors(issues: issues.issues)
        }
        var users: [User] = []
        var idOwner: [String: String] = [:], emailOwner: [String: String] = [:]
        let keys = ["id", "email", "status", "expiresAt", "memberships", "passwordHash", "totp", "sessionEpoch", "oidcLinks", "totpLastStep"]
        var linkOwner: [String: String] = [:]
        for (index, element) in elements.enumerated() {
            let path = "users[\(index)]"
            guard let u = ObjectReader(element, path: path, known: keys, issues: issues) else { continue }
            let id = u.requiredString("id") ?? ""
            if u.value("id") != nil && !StoreNames.isUserId(id) {
                u.issues.add(u.fieldPath("id"), "invalid user id \"\(id)\" (expected [a-z0-9][a-z0-9_.-]{0,63}, e.g. u_ and 16 hex characters)")
            } else if let other = idOwner[id] {
                u.issues.add(u.fieldPath("id"), "duplicate user id \"\(id)\" (also \(other))")
            } else if !id.isEmpty { idOwner[id] = path }
            let email = u.requiredString("email") ?? ""
            if u.value("email") != nil && !StoreNames.isEmail(email) {
                u.issues.add(u.fieldPath("email"), "invalid email \"\(email)\" (expected a lowercase address user@domain)")
            } else if let other = emailOwner[email] {
                u.issues.add(u.fieldPath("email"), "duplicate email \"\(email)\" (also \(other))")
            } else if !email.isEmpty { emailOwner[email] = path }
            var status = UserStatus.active
            switch u.requiredString("status") {
            case "active"?, nil: break
            case "disabled"?: status = .disabled
            case let other?: u.issues.add(u.fieldPath("status"), "unknown status \"\(other)\" (allowed: \"active\", \"disabled\")")
            }
            let expiresAt = u.value("expiresAt") == nil ? nil : UInt64(u.int64("expiresAt", default: 0, range: 0...Int64.max))
            let memberships = self.memberships(u)
            let passwordHash = u.string("passwordHash")
            if let h = passwordHash, !StoreNames.isPasswordHash(h) {
                // Not echoed: even a broken hash is not for the terminal.
                u.issues.add(u.fieldPath("passwordHash"), "malformed password hash (expected $scrypt$… or $pbkdf2-sha256$…)")
            }
            var totp: [UInt8]?
            if let t = u.string("totp") { totp = sealedValue(t, path: u.fieldPath("totp"), issues: issues) }
            let epoch = UInt64(u.int64("sessionEpoch", default: 0, range: 0...Int64.max))
            let lastStep = u.value("totpLastStep") == nil ? nil : UInt64(u.int64("totpLastStep", default: 0, range: 0...Int64.max))
            let links = oidcLinks(u)
            for (i, l) in links.enumerated() {
                let key = l.issuer + "\u{0}" + l.subject
                if let other = linkOwner[key] {
                    u.issues.add("\(u.fieldPath("oidcLinks"))[\(i)]", "the OIDC account \(l.subject) of \(l.issuer) is already linked to \(other)")
                } else { linkOwner[key] = path }
            }
            users.append(User(id: id, email: email, status: status, expiresAt: expiresAt, memberships: memberships,
                              passwordHash: passwordHash, totpSecretSealed: totp, sessionEpoch: epoch, oidcLinks: links,
                              totpLastStep: lastStep))
        }
        guard issues.isEmpty else { throw ConfigErrors(issues: issues.issues) }
        return users
    }

    /// `[{ "issuer": "https://…", "subject": "…", "linkedAt": 0 }]`: at most one per issuer.
    private static func oidcLinks(_ u: ObjectReader) -> [OIDCLink] {
        guard let value = u.value("oidcLinks") else { return [] }
        guard case .array(let elements) = value else {
            u.issues.add(u.fieldPath("oidcLinks"), "expected an array, got \(value.kindDescription)")
            return []
        }
        var result: [OIDCLink] = []
        for (index, element) in elements.enumerated() {
            let path = "\(u.fieldPath("oidcLinks"))[\(index)]"
            guard let l = ObjectReader(element, path: path, known: ["issuer", "subject", "linkedAt"], issues: u.issues) else { continue }
            let issuer = l.requiredString("issuer") ?? "", subject = l.requiredString("subject") ?? ""
            if l.value("issuer") != nil && (!issuer.hasPrefix("https://") || issuer.utf8.count > 512 || !StoreNames.isVisibleASCII(issuer)) {
                l.issues.add(l.fieldPath("issuer"), "expected the provider's https issuer URL")
            }
            // OIDC Core §2: sub is at most 255 ASCII characters.
            if l.value("subject") != nil && (subject.isEmpty || subject.utf8.count > 255 || !StoreNames.isVisibleASCII(subject)) {
                l.issues.add(l.fieldPath("subject"), "expected the provider's subject (1 to 255 visible ASCII characters)")
            }
            if result.contains(where: { $0.issuer == issuer }) {
                l.issues.add(l.fieldPath("issuer"), "this user is already linked to an account of \(issuer)")
            }
            result.append(OIDCLink(issuer: issuer, subject: subject, linkedAt: UInt64(l.int64("linkedAt", default: 0, range: 0...Int64.max))))
        }
        return result
    }

    private static func memberships(_ u: ObjectReader) -> [Membership] {
        guard let value = u.value("memberships") else { return [] }
        guard case .array(let elements) = value else {
            u.issues.add(u.fieldPath("memberships"), "expected an array, got \(value.kindDescription)")
            return []
        }
        var result: [Membership] = []
        var seen: Set<String> = []
        for (index, element) in elements.enumerated() {
            let path = "\(u.fieldPath("memberships"))[\(index)]"
            guard let m = ObjectReader(element, path: path, known: ["org", "roles", "groups"], issues: u.issues) else { continue }
            let org = m.requiredString("org") ?? ""
            if m.value("org") != nil && !StoreNames.isOrgId(org) {
                m.issues.add(m.fieldPath("org"), "invalid organisation id \"\(org)\"")
            } else if !seen.insert(org).inserted {
                m.issues.add(m.fieldPath("org"), "organisation \"\(org)\" is listed twice for this user")
            }
            result.append(Membership(orgId: org, roles: names(m, "roles"), groups: names(m, "groups")))
        }
        return result
    }

    public static func encodeUsers(_ users: [User]) -> String {
        JSONWriter.write(.object(["version": .int(formatVersion), "users": .array(users.map { user in
            var o: [String: JSONValue] = [
                "id": .string(user.id), "email": .string(user.email),
                "status": .string(user.status == .active ? "active" : "disabled"),
                "sessionEpoch": .int(Int64(clamping: user.sessionEpoch)),
                "memberships": .array(user.memberships.map { m in
                    .object(["org": .string(m.orgId), "roles": .array(m.roles.map(JSONValue.string)),
                             "groups": .array(m.groups.map(JSONValue.string))])
                }),
            ]
            if let e = user.expiresAt { o["expiresAt"] = .int(Int64(clamping: e)) }
            if let h = user.passwordHash { o["passwordHash"] = .string(h) }
            if let t = user.totpSecretSealed { o["totp"] = .string(Base64URL.encode(t)) }
            if let step = user.totpLastStep { o["totpLastStep"] = .int(Int64(clamping: step)) }
            if !user.oidcLinks.isEmpty {
                o["oidcLinks"] = .array(user.oidcLinks.map { l in
                    .object(["issuer": .string(l.issuer), "subject": .string(l.subject), "linkedAt": .int(Int64(clamping: l.linkedAt))])
                })
            }
            return .object(o)
        })]))
    }

    // MARK: - apikeys.json

    public static func decodeAPIKeys(_ text: String, file: String) throws(ConfigErrors) -> [APIKeyEntry] {
        let issues = IssueCollector(file: file)
        guard let top = topLevel(text, listKey: "keys", issues: issues), case .array(let elements)? = top.value("keys") else {
            throw ConfigErrors(issues: issues.issues)
        }
        var entries: [APIKeyEntry] = []
        var idOwner: [String: String] = [:]
        for (index, element) in elements.enumerated() {
            let path = "keys[\(index)]"
            guard let k = ObjectReader(element, path: path, known: ["id", "org", "roles", "name", "createdAt", "revoked", "hash"],
                                       issues: issues) else { continue }
            let id = k.requiredString("id") ?? ""
            if k.value("id") != nil && !StoreNames.isKeyId(id) {
                issues.add(k.fieldPath("id"), "invalid key id \"\(id)\" (expected 16 lowercase hex characters)")
            } else if let other = idOwner[id] {
                issues.add(k.fieldPath("id"), "duplicate key id \"\(id)\" (also \(other))")
            } else if !id.isEmpty { idOwner[id] = path }
            let org = k.requiredString("org") ?? ""
            if k.value("org") != nil && !StoreNames.isOrgId(org) { issues.add(k.fieldPath("org"), "invalid organisation id \"\(org)\"") }
            let name = k.string("name") ?? ""
            if !StoreNames.isDisplayName(name) { issues.add(k.fieldPath("name"), "must be at most 200 bytes without control characters") }
            if k.required("createdAt") == nil || k.required("revoked") == nil { /* reported */ }
            let createdAt = UInt64(k.int64("createdAt", default: 0, range: 0...Int64.max))
            let revoked = k.bool("revoked", default: true)
            var hash: [UInt8] = []
            if let h = k.requiredString("hash") {
                if let bytes = Base64URL.decode(h), bytes.count == 32 { hash = bytes }
                else { issues.add(k.fieldPath("hash"), "malformed key hash (expected 32 bytes as 43 base64url characters)") }
            }
            entries.append(APIKeyEntry(record: APIKeyRecord(keyId: id, orgId: org, roles: names(k, "roles"), createdAt: createdAt,
                                                            revoked: revoked, hash: hash), name: name))
        }
        guard issues.isEmpty else { throw ConfigErrors(issues: issues.issues) }
        return entries
    }

    public static func encodeAPIKeys(_ entries: [APIKeyEntry]) -> String {
        JSONWriter.write(.object(["version": .int(formatVersion), "keys": .array(entries.map { e in
            .object(["id": .string(e.record.keyId), "org": .string(e.record.orgId),
                     "roles": .array(e.record.roles.map(JSONValue.string)), "name": .string(e.name),
                     "createdAt": .int(Int64(clamping: e.record.createdAt)), "revoked": .bool(e.record.revoked),
                     "hash": .string(Base64URL.encode(e.record.hash))])
        })]))
    }

    // MARK: - secrets.json

    /// Secret name -> sealed bytes (not opened: see `IdentityStore.load`).
    public static func decodeSecrets(_ text: String, file: String) throws(ConfigErrors) -> [String: [UInt8]] {
        let issues = IssueCollector(file: file)
        guard let top = topLevel(text, listKey: "secrets", issues: issues), let value = top.value("secrets") else {
            throw ConfigErrors(issues: issues.issues)
        }
        guard case .object(let members) = value else {
            issues.add("secrets", "expected an object mapping secret names to sealed values, got \(value.kindDescription)")
            throw ConfigErrors(issues: issues.issues)
        }
        var result: [String: [UInt8]] = [:]
        for name in members.keys.sorted() {
            let path = join("secrets", name)
            if !StoreNames.isSecretName(name) {
                issues.add(path, "invalid secret name \"\(name)\" (allowed: [a-z0-9][a-z0-9._/-]{0,127}, not starting with \"user/\", which is reserved for per-user values)")
                continue
            }
            guard case .string(let text) = members[name]! else {
                issues.add(path, "expected a sealed value (a base64url string), got \(members[name]!.kindDescription)")
                continue
            }
            if let sealed = sealedValue(text, path: path, issues: issues) { result[name] = sealed }
        }
        guard issues.isEmpty else { throw ConfigErrors(issues: issues.issues) }
        return result
    }

    public static func encodeSecrets(_ secrets: [String: [UInt8]]) -> String {
        JSONWriter.write(.object(["version": .int(formatVersion),
                                  "secrets": .object(secrets.mapValues { .string(Base64URL.encode($0)) })]))
    }

    // MARK: - Helpers

    /// `{ "version": 1, "<listKey>": ... }`; nil after reporting when that shape is not there.
    private static func topLevel(_ text: String, listKey: String, issues: IssueCollector) -> ObjectReader? {
        guard let value = JSON5.decode(text, issues: issues),
              let top = ObjectReader(value, path: "", known: ["version", listKey], issues: issues) else { return nil }
        if top.required("version") != nil {
            let version = top.int64("version", default: -1, range: Int64.min...Int64.max)
            if version != formatVersion {
                issues.add("version", "unsupported format version \(version) (this drawbridge reads version \(formatVersion))")
            }
        }
        guard let list = top.required(listKey) else { return nil }
        if listKey != "secrets", case .array = list {} else if listKey != "secrets" {
            issues.add(listKey, "expected an array, got \(list.kindDescription)")
            return nil
        }
        return issues.isEmpty ? top : nil
    }

    /// A string list of role or group names; absent = empty.
    private static func names(_ o: ObjectReader, _ key: String) -> [String] {
        guard let value = o.value(key) else { return [] }
        guard case .array = value else {
            o.issues.add(o.fieldPath(key), "expected an array of strings, got \(value.kindDescription)")
            return []
        }
        var result: [String] = []
        for (path, name) in o.stringList(key) ?? [] {
            if !StoreNames.isRoleName(name) { o.issues.add(path, "invalid name \"\(name)\" (allowed: A-Z a-z 0-9 _ - . :, 1 to 64)") }
            else if result.contains(name) { o.issues.add(path, "\"\(name)\" is listed twice") }
            else { result.append(name) }
        }
        return result
    }

    /// Decodes the base64url form of a sealed value and checks its framing (not its tag).
    private static func sealedValue(_ text: String, path: String, issues: IssueCollector) -> [UInt8]? {
        guard let bytes = Base64URL.decode(text) else {
            issues.add(path, "sealed value is not valid base64url")
            return nil
        }
        // Version 1 still decodes (so `drawbridge secret reseal` can read it); opening refuses it.
        guard bytes.count >= Sealed.minimumLength, bytes[0] == Sealed.version || bytes[0] == Sealed.legacyVersion else {
            issues.add(path, bytes.count < Sealed.minimumLength ? "sealed value is truncated"
                                                                : "unknown sealing version \(bytes[0]) (expected \(Sealed.version))")
            return nil
        }
        return bytes
    }
}
