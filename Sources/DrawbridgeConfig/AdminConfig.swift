/// The `admin` section: a plain-HTTP listener of its own for `/metrics`, `/healthz` and `/readyz`
/// (docs/OPERATIONS.md). Off unless configured; never served on the public listeners.
public struct AdminConfig: Sendable, Equatable {
    public var listen: ListenAddress
    /// A non-loopback `listen` is refused unless this is true (the endpoints have no authentication).
    public var allowRemote: Bool

    public init(listen: ListenAddress, allowRemote: Bool = false) {
        self.listen = listen
        self.allowRemote = allowRemote
    }

    /// 127.0.0.0/8 or ::1.
    public static func isLoopback(_ host: String) -> Bool {
        host == "::1" || host.hasPrefix("127.")
    }
}

/// An upstream's health rules: passive (nginx `max_fails`/`fail_timeout`) and optional active
/// checks (HAProxy `check inter/rise/fall`).
public struct UpstreamHealthConfig: Sendable, Equatable {
    /// Failures (connect errors, connect timeouts, 5xx responses) within `failTimeoutSeconds` that
    /// mark a server down for `failTimeoutSeconds`; 0 = passive health off. nginx's defaults: 1, 10 s.
    public var maxFails: Int
    public var failTimeoutSeconds: Double
    public var check: HealthCheckConfig?

    public init(maxFails: Int = 1, failTimeoutSeconds: Double = 10, check: HealthCheckConfig? = nil) {
        self.maxFails = maxFails
        self.failTimeoutSeconds = failTimeoutSeconds
        self.check = check
    }
}

/// `healthCheck: { path, intervalSeconds, timeoutSeconds, healthy, unhealthy }`: a GET of `path`
/// on each server every interval; 2xx or 3xx passes. `healthy` consecutive passes bring a down
/// server back, `unhealthy` consecutive failures take it down (HAProxy's rise 2 / fall 3).
public struct HealthCheckConfig: Sendable, Equatable {
    public var path: String
    public var intervalSeconds: Double
    public var timeoutSeconds: Double
    public var healthy: Int
    public var unhealthy: Int

    public init(path: String = "/", intervalSeconds: Double = 5, timeoutSeconds: Double = 2, healthy: Int = 2, unhealthy: Int = 3) {
        self.path = path
        self.intervalSeconds = intervalSeconds
        self.timeoutSeconds = timeoutSeconds
        self.healthy = healthy
        self.unhealthy = unhealthy
    }
}

extension Validator {
    static let adminKeys = ["listen", "allowRemote"]
    static let healthCheckKeys = ["path", "intervalSeconds", "timeoutSeconds", "healthy", "unhealthy"]

    func adminSection(_ top: ObjectReader, publicListeners: [ListenAddress]) -> AdminConfig? {
        guard let value = top.value("admin"),
              let a = ObjectReader(value, path: "admin", known: Self.adminKeys, issues: issues) else { return nil }
        let allowRemote = a.bool("allowRemote", default: false)
        guard let text = a.requiredString("listen") else { return nil }
        let address: ListenAddress
        do { address = try ListenAddress(parsing: text) } catch {
            issues.add(a.fieldPath("listen"), "bad listen address: \(error)")
            return nil
        }
        // The endpoints have no authentication: off loopback only when the operator says so.
        if !AdminConfig.isLoopback(address.host) && !allowRemote {
            issues.add(a.fieldPath("listen"), "\(address) is not a loopback address; the admin endpoints have no authentication "
                       + "(use 127.0.0.1, or set admin.allowRemote: true and firewall it)")
        }
        // Never on a public listener: metrics and health would be served to the internet.
        if publicListeners.contains(where: { $0.port == address.port && ($0.host == address.host || $0.host == "0.0.0.0" || $0.host == "::") }) {
            issues.add(a.fieldPath("listen"), "\(address) is also a public listener; the admin listener needs an address of its own")
        }
        return AdminConfig(listen: address, allowRemote: allowRemote)
    }

    func upstreamHealth(_ upstream: ObjectReader) -> UpstreamHealthConfig {
        let maxFails = upstream.int("maxFails", default: 1, range: 0...1000)
        let failTimeout = upstream.seconds("failTimeoutSeconds", default: 10)
        var check: HealthCheckConfig?
        if let value = upstream.value("healthCheck"),
           let h = ObjectReader(value, path: upstream.fieldPath("healthCheck"), known: Self.healthCheckKeys, issues: issues) {
            let path = h.string("path") ?? "/"
            // The path goes into a request line as is: nothing that could end or split it.
            if !path.hasPrefix("/") || path.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) {
                issues.add(h.fieldPath("path"), "must start with / and contain no spaces or control characters, got \"\(path)\"")
            }
            let interval = h.seconds("intervalSeconds", default: 5)
            let timeout = h.seconds("timeoutSeconds", default: 2)
            check = HealthCheckConfig(path: path, intervalSeconds: interval, timeoutSeconds: timeout,
                                      healthy: h.int("healthy", default: 2, range: 1...100),
                                      unhealthy: h.int("unhealthy", default: 3, range: 1...100))
        }
        return UpstreamHealthConfig(maxFails: maxFails, failTimeoutSeconds: failTimeout, check: check)
    }
}
