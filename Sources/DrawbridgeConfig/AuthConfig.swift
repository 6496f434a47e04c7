/// A way of signing in, as written in the configuration: `"password"`, `"api_key"` or
/// `"oidc:<provider>"` (a provider defined under `auth.oidc`).
public enum AuthModeName: Hashable, Sendable, CustomStringConvertible {
    case password
    case apiKey
    case oidc(String)

    public init?(parsing text: String) {
        switch text {
        case "password": self = .password
        case "api_key": self = .apiKey
        default:
            guard text.hasPrefix("oidc:") else { return nil }
            let name = String(text.dropFirst(5))
            guard !name.isEmpty, name.utf8.allSatisfy(Validator.isNameByte) else { return nil }
            self = .oidc(name)
        }
    }

    public var description: String {
        switch self {
        case .password: return "password"
        case .apiKey: return "api_key"
        case .oidc(let name): return "oidc:\(name)"
        }
    }
}

/// One OpenID Connect provider (Google, or any standards-compliant issuer).
public struct OIDCProviderConfig: Sendable, Equatable {
    public var name: String
    /// Exact issuer URL (https, no trailing slash), compared with the discovery document and `iss`.
    public var issuer: String
    public var clientId: String
    /// Name of the sealed secret (in the secrets file) holding the client secret.
    public var clientSecretName: String
    /// Shown on the login button.
    public var displayName: String
    /// Google Workspace domain the ID token's `hd` claim must equal; nil = not checked.
    public var hostedDomain: String?
    /// CA bundle to verify the issuer with; nil = the system store.
    public var caFile: String?
    public var scopes: [String]
    /// Organisations whose members this provider may vouch for (`trustedFor.organizations`).
    public var trustedForOrganizations: [String]
    /// Email domains this provider may vouch for, whatever the member's organisation
    /// (`trustedFor.emailDomains`; e.g. the Google Workspace domain it is authoritative for).
    public var trustedForEmailDomains: [String]

    public init(name: String, issuer: String, clientId: String, clientSecretName: String, displayName: String,
                hostedDomain: String? = nil, caFile: String? = nil, scopes: [String] = ["openid", "email", "profile"],
                trustedForOrganizations: [String] = [], trustedForEmailDomains: [String] = []) {
        self.name = name
        self.issuer = issuer
        self.clientId = clientId
        self.clientSecretName = clientSecretName
        self.displayName = displayName
        self.hostedDomain = hostedDomain
        self.caFile = caFile
        self.scopes = scopes
        self.trustedForOrganizations = trustedForOrganizations
        self.trustedForEmailDomains = trustedForEmailDomains
    }
}

/// The sign-in work that must not run on an event loop, in two bounded pools: password hashing
/// and the other local steps, and calls to OIDC providers (which can hang on the network), so a
/// slow provider never delays a password sign-in. A full queue answers 503 at once.
public struct WorkQueuesConfig: Sendable, Equatable {
    /// Threads hashing passwords (scrypt: 128 MiB each); 0 = one per CPU, at most 4.
    public var signInThreads: Int
    public var signInQueue: Int
    public var providerThreads: Int
    public var providerQueue: Int

    public init(signInThreads: Int = 0, signInQueue: Int = 64, providerThreads: Int = 4, providerQueue: Int = 64) {
        self.signInThreads = signInThreads
        self.signInQueue = signInQueue
        self.providerThreads = providerThreads
        self.providerQueue = providerQueue
    }
}

/// Login throttling: per client address and per account, with a lockout that doubles on
/// repeated failure and decays after a quiet period.
public struct LoginLimitsConfig: Sendable, Equatable {
    /// Login attempts (any outcome) per client address per `windowSeconds`.
    public var perAddress: Int
    /// Failed attempts on one account before it is locked.
    public var perAccountFailures: Int
    public var windowSeconds: Double
    /// First lockout; each further lockout doubles it, up to `maxLockoutSeconds`.
    public var lockoutSeconds: Double
    public var maxLockoutSeconds: Double

    public init(perAddress: Int = 30, perAccountFailures: Int = 5, windowSeconds: Double = 60,
                lockoutSeconds: Double = 60, maxLockoutSeconds: Double = 3600) {
        self.perAddress = perAddress
        self.perAccountFailures = perAccountFailures
        self.windowSeconds = windowSeconds
        self.lockoutSeconds = lockoutSeconds
        self.maxLockoutSeconds = maxLockoutSeconds
    }
}

/// The `auth` section: where the identity files are, which modes are on gateway-wide, session
/// limits, OIDC providers, login throttling and the audit log.
public struct AuthConfig: Sendable, Equatable {
    /// Absolute paths. The users, API key and secrets files may be absent (= empty) until the
    /// CLI first writes them.
    public var usersFile: String
    public var apiKeysFile: String
    public var secretsFile: String
    /// File holding the 32-byte master key (hex or base64url); never inside the config directory.
    /// The environment variable `DRAWBRIDGE_MASTER_KEY` is used when this is nil.
    public var masterKeyFile: String?
    /// Modes enabled gateway-wide; an org can only narrow them.
    public var modes: [AuthModeName]
    public var idleTimeoutSeconds: Int
    public var absoluteTimeoutSeconds: Int
    public var oidc: [String: OIDCProviderConfig]
    public var loginLimits: LoginLimitsConfig
    public var auditLog: LogTarget
    /// Hosts (exact, lowercased) a login may return to besides the host the login happened on.
    public var returnHosts: [String]
    /// Shown in authenticator apps at TOTP enrolment.
    public var totpIssuer: String
    public var workQueues: WorkQueuesConfig

    public init(usersFile: String, apiKeysFile: String, secretsFile: String, masterKeyFile: String?,
                modes: [AuthModeName], idleTimeoutSeconds: Int = 1800, absoluteTimeoutSeconds: Int = 43200,
                oidc: [String: OIDCProviderConfig] = [:], loginLimits: LoginLimitsConfig = LoginLimitsConfig(),
                auditLog: LogTarget = .stderr, returnHosts: [String] = [], totpIssuer: String = "Drawbridge",
                workQueues: WorkQueuesConfig = WorkQueuesConfig()) {
        self.usersFile = usersFile
        self.apiKeysFile = apiKeysFile
        self.secretsFile = secretsFile
        self.masterKeyFile = masterKeyFile
        self.modes = modes
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.absoluteTimeoutSeconds = absoluteTimeoutSeconds
        self.oidc = oidc
        self.loginLimits = loginLimits
        self.auditLog = auditLog
        self.returnHosts = returnHosts
        self.totpIssuer = totpIssuer
        self.workQueues = workQueues
    }
}

/// How an organisation narrows the gateway's modes.
public enum OrgModesConfig: Sendable, Equatable {
    case inherit
    /// Allow-list (fail closed: a mode enabled globally later stays off here).
    case only([AuthModeName])
    case disable([AuthModeName])
}

/// One organisation, as configured under `organizations.<id>`.
public struct OrganizationConfig: Sendable, Equatable {
    public var id: String
    public var name: String
    public var emailDomains: [String]
    public var modes: OrgModesConfig
    public var mfaRequired: Bool
    public var idleTimeoutSeconds: Int?
    public var absoluteTimeoutSeconds: Int?
    /// OIDC providers this organisation trusts to vouch for its members' identities (first link).
    public var trustedProviders: [String]

    public init(id: String, name: String, emailDomains: [String] = [], modes: OrgModesConfig = .inherit,
                mfaRequired: Bool = false, idleTimeoutSeconds: Int? = nil, absoluteTimeoutSeconds: Int? = nil,
                trustedProviders: [String] = []) {
        self.id = id
        self.name = name
        self.emailDomains = emailDomains
        self.modes = modes
        self.mfaRequired = mfaRequired
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.absoluteTimeoutSeconds = absoluteTimeoutSeconds
        self.trustedProviders = trustedProviders
    }
}
