import CLinux
import DrawbridgeConfig
import Glibc

/// What the admin listener reports: the workers' counter blocks, the label of every route and
/// upstream slot, and the process-wide events that are not on the request path (sign-ins,
/// lockouts, reloads), which take a lock. Slots are given out when a configuration is loaded
/// and never reused, so a counter keeps its series across reloads.
final class MetricsRegistry: @unchecked Sendable {
    static let shared = MetricsRegistry()

    private var lock = pthread_mutex_t()
    /// Set once at start, before the workers exist (`admin` configured).
    private(set) var enabled = false
    private var workers: [WorkerMetrics] = []
    private var routeLabels = ["(none)"]
    private var upstreamLabels: [String] = []
    private var signIns: [String: UInt64] = [:]   // "mode outcome"
    private var lockouts: UInt64 = 0
    private var reloads: (ok: UInt64, failed: UInt64) = (0, 0)
    private var lastReload: Double = 0
    private var snapshot: Snapshot?
    private var listening = false
    private let started = Double(time(nil))

    private init() { pthread_mutex_init(&lock, nil) }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        return body()
    }

    func enable() { enabled = true }
    func add(_ w: WorkerMetrics) { locked { workers.append(w) } }

    /// The slot of a route label ("(none)", slot 0: requests without a route); the last slot
    /// takes every route past `Layout.maxRoutes` ("(other)").
    func routeSlot(_ label: String) -> Int {
        locked { Self.slot(label, in: &routeLabels, max: Layout.maxRoutes) }
    }

    func upstreamSlot(_ name: String) -> Int {
        locked { Self.slot(name, in: &upstreamLabels, max: Layout.maxUpstreams) }
    }

    private static func slot(_ label: String, in labels: inout [String], max: Int) -> Int {
        if let i = labels.firstIndex(of: label) { return i }
        if labels.count == max - 1 { labels.append("(other)") }
        if labels.count >= max { return max - 1 }
        labels.append(label)
        return labels.count - 1
    }

    // MARK: Events off the request path

    /// The current configuration (at start and after each successful reload).
    func serving(_ s: Snapshot, listening: Bool) {
        locked { snapshot = s; self.listening = self.listening || listening }
    }

    func reloaded(_ s: Snapshot?) {
        locked {
            if let s { snapshot = s; reloads.ok += 1; lastReload = Double(time(nil)) } else { reloads.failed += 1 }
        }
    }

    /// Sign-in events as the audit log records them (every sign-in path goes through it).
    func audited(_ event: String, _ fields: [(String, String?)]) {
        guard enabled else { return }
        switch event {
        case "login_success", "login_failure":
            let mode = fields.first { $0.0 == "mode" }?.1 ?? Self.mode(failure: fields.first { $0.0 == "reason" }?.1 ?? "")
            let key = "\(mode) \(event == "login_success" ? "success" : "failure")"
            locked { signIns[key, default: 0] += 1 }
        case "lockout":
            locked { lockouts += 1 }
        default: break
        }
    }

    /// The mode of a failed sign-in, from its audit reason (failures of the OIDC flow name it).
    private static func mode(failure reason: String) -> String {
        if reason.hasPrefix("mode disabled: ") { return String(reason.dropFirst("mode disabled: ".count)) }
        return reason.hasPrefix("oidc") ? "oidc" : "password"
    }

    // MARK: Readiness

    /// nil when ready; else why not (configuration, listeners, a route without a healthy server).
    func notReady(now: UInt64) -> String? {
        let (s, bound) = locked { (snapshot, listening) }
        guard let s else { return "configuration not loaded" }
        guard bound else { return "listeners not bound" }
        var down: [String] = []
        for r in s.routes where !r.upstream.health.anyUp(now: now) {
            down.append("route \(r.label): no healthy server in upstream \(r.upstream.name)")
        }
        return down.isEmpty ? nil : down.joined(separator: "\n")
    }

    // MARK: Exposition

    /// The Prometheus text format (version 0.0.4).
    func render() -> String {
        let (ws, routes, ups, signs, locks, rel, last, s) = locked {
            (workers, routeLabels, upstreamLabels, signIns, lockouts, reloads, lastReload, snapshot)
        }
        func sum(_ i: Int) -> UInt64 { ws.reduce(0) { $0 &+ $1.read(i) } }
        var out = PrometheusText()

        out.family("drawbridge_requests_total", "counter", "Requests answered, by route, auth mode, method class and status class.")
        for (slot, route) in routes.enumerated() {
            for a in Layout.authModes.indices { for m in 0..<2 { for c in Layout.statusClasses.indices {
                let v = sum(Layout.route(slot) + Layout.requestIndex(auth: a, read: m == 0, statusClass: c))
                if v > 0 {
                    out.sample("drawbridge_requests_total", [("route", route), ("auth", Layout.authModes[a]),
                               ("method_class", Layout.methodClasses[m]), ("status_class", Layout.statusClasses[c])], v)
                }
            } } }
        }
        out.family("drawbridge_request_duration_seconds", "histogram", "Time from the first byte of a request head to the end of its response, by route.")
        for (slot, route) in routes.enumerated() {
            histogram(&out, "drawbridge_request_duration_seconds", [("route", route)], Layout.route(slot) + Layout.routeHistogram, sum)
        }
        out.family("drawbridge_upstream_duration_seconds", "histogram", "Time from choosing an upstream server to its response head, by upstream.")
        for (slot, u) in ups.enumerated() {
            histogram(&out, "drawbridge_upstream_duration_seconds", [("upstream", u)], Layout.upstream(slot) + Layout.upstreamHistogram, sum)
        }
        out.family("drawbridge_client_connections", "gauge", "Client connections open (TLS and redirect listeners).")
        out.sample("drawbridge_client_connections", [], sum(Layout.clients))
        out.family("drawbridge_upstream_connections", "gauge", "Upstream connections open (in use and idle), by upstream.")
        for (slot, u) in ups.enumerated() {
            let base = Layout.upstream(slot)
            let opened = sum(base + Layout.upstreamOpened), closed = sum(base + Layout.upstreamClosed)
            if opened > 0 { out.sample("drawbridge_upstream_connections", [("upstream", u)], opened &- min(opened, closed)) }
        }
        out.family("drawbridge_tls_handshakes_total", "counter", "Client TLS handshakes completed, by protocol version.")
        for (i, v) in Layout.tlsVersions.enumerated() { out.sample("drawbridge_tls_handshakes_total", [("version", v)], sum(Layout.tls + i * 2)) }
        out.family("drawbridge_tls_handshake_failures_total", "counter", "Client TLS handshakes that failed, by protocol version (unknown: before one was agreed).")
        for (i, v) in Layout.tlsVersions.enumerated() { out.sample("drawbridge_tls_handshake_failures_total", [("version", v)], sum(Layout.tls + i * 2 + 1)) }
        out.family("drawbridge_decisions_total", "counter", "Access decisions on protected routes, by outcome and reason.")
        for r in DecisionReason.allCases {
            let v = sum(Layout.decisions + r.rawValue)
            if v > 0 { out.sample("drawbridge_decisions_total", [("outcome", r.outcome), ("reason", r.label)], v) }
        }
        out.family("drawbridge_sign_ins_total", "counter", "Interactive sign-ins, by mode and outcome.")
        for key in signs.keys.sorted() {
            let parts = key.split(separator: " ", maxSplits: 1).map(String.init)
            out.sample("drawbridge_sign_ins_total", [("mode", parts[0]), ("outcome", parts[1])], signs[key]!)
        }
        out.family("drawbridge_lockouts_total", "counter", "Accounts locked after repeated failed sign-ins.")
        out.sample("drawbridge_lockouts_total", [], locks)
        out.family("drawbridge_config_reloads_total", "counter", "Configuration reloads (SIGHUP), by outcome.")
        out.sample("drawbridge_config_reloads_total", [("outcome", "success")], rel.ok)
        out.sample("drawbridge_config_reloads_total", [("outcome", "failure")], rel.failed)
        out.family("drawbridge_config_generation", "gauge", "Generation of the configuration in force (1 at start, +1 per successful reload).")
        out.sample("drawbridge_config_generation", [], UInt64(s?.generation ?? 0))
        out.family("drawbridge_config_last_reload_success_timestamp_seconds", "gauge", "Unix time of the last successful reload (or of the start).")
        out.sampleDouble("drawbridge_config_last_reload_success_timestamp_seconds", [], last > 0 ? last : started)
        out.family("drawbridge_upstream_server_up", "gauge", "1 when an upstream server takes requests, 0 when marked down (passive or active health).")
        let now = CLinux_monotonic_ns()
        for t in s?.upstreams ?? [] {
            for (i, server) in t.health.servers.enumerated() {
                out.sample("drawbridge_upstream_server_up", [("upstream", t.name), ("server", server)], t.health.isUp(i, now: now) ? 1 : 0)
            }
        }
        out.family("drawbridge_start_time_seconds", "gauge", "Unix time the process started.")
        out.sampleDouble("drawbridge_start_time_seconds", [], started)
        return out.text
    }

    private func histogram(_ out: inout PrometheusText, _ name: String, _ labels: [(String, String)], _ base: Int,
                           _ sum: (Int) -> UInt64) {
        var counts: [UInt64] = []
        for b in 0..<Layout.buckets { counts.append(sum(base + b)) }
        let total = counts.reduce(0, &+)
        guard total > 0 else { return }
        var cumulative: UInt64 = 0
        for (b, bound) in Layout.bounds.enumerated() {
            cumulative &+= counts[b]
            out.sample(name + "_bucket", labels + [("le", bound)], cumulative)
        }
        out.sample(name + "_bucket", labels + [("le", "+Inf")], total)
        out.sampleDouble(name + "_sum", labels, Double(sum(base + Layout.buckets)) / 1e9)
        out.sample(name + "_count", labels, total)
    }
}

/// Builds the Prometheus text exposition: `# HELP`/`# TYPE` once per family, escaped label values.
struct PrometheusText {
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: UInt64, in family: String? = nil) {
        line(name, labels, String(value))
    }

    mutating func sampleDouble(_ name: String, _ labels: [(String, String)], _ value: Double, in family: String? = nil) {
        line(name, labels, value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value))
    }

    private mutating func line(_ name: String, _ labels: [(String, String)], _ value: String) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " \(value)\n"
    }

    /// Label values escape backslash, double quote and line feed (the exposition format's rule).
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
