import CLinux
import COpenSSL
import DrawbridgeConfig
import Glibc

/// Active upstream health checks (`healthCheck`), on a thread of their own, never on a worker:
/// every `intervalSeconds` a `GET path` to each server of the upstreams that ask for it; a 2xx or
/// 3xx answer within `timeoutSeconds` passes (HAProxy's `option httpchk`). `unhealthy`
/// consecutive failures take a server down, `healthy` consecutive passes bring it back (HAProxy's
/// fall and rise). Servers start up, as in HAProxy.
final class HealthChecker: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    /// The snapshot in force: held for a whole round, so its TLS client contexts (freed with it) outlive every probe.
    private var snapshot: Snapshot?
    private let log: ErrorLog

    private struct ServerState { var due: UInt64 = 0; var passes = 0; var fails = 0; var down = false }
    private var states: [ObjectIdentifier: [ServerState]] = [:]   // checker thread only

    init(log: ErrorLog) {
        self.log = log
        pthread_mutex_init(&lock, nil)
    }

    /// The upstreams of the configuration in force (at start and after each reload).
    func follow(_ s: Snapshot) {
        pthread_mutex_lock(&lock)
        snapshot = s
        pthread_mutex_unlock(&lock)
    }

    func start() {
        Threads.start(detached: true) { self.run() }
    }

    private func run() {
        while true {
            pthread_mutex_lock(&lock)
            let current = snapshot
            pthread_mutex_unlock(&lock)
            var seen = Set<ObjectIdentifier>()
            for t in current?.upstreams ?? [] {
                guard let check = t.health.config.check else { continue }
                let id = ObjectIdentifier(t.health)
                seen.insert(id)
                var list = states[id] ?? Array(repeating: ServerState(), count: t.addresses.count)
                for i in t.addresses.indices where CLinux_monotonic_ns() >= list[i].due {
                    let ok = Self.probe(t, server: i, check: check)
                    list[i].due = CLinux_monotonic_ns() + Snapshot.ns(check.intervalSeconds)
                    if ok { list[i].passes += 1; list[i].fails = 0 } else { list[i].fails += 1; list[i].passes = 0 }
                    if !list[i].down && list[i].fails >= check.unhealthy {
                        list[i].down = true
                        t.health.setCheckedDown(i, true)
                        log.write(.warn, "upstream_down", "upstream \(t.name) server \(t.health.servers[i]) is down (\(check.unhealthy) failed health checks of \(check.path))",
                                  ["upstream": .text(t.name), "server": .text(t.health.servers[i])])
                    } else if list[i].down && list[i].passes >= check.healthy {
                        list[i].down = false
                        t.health.setCheckedDown(i, false)
                        log.write(.info, "upstream_up", "upstream \(t.name) server \(t.health.servers[i]) is up again (\(check.healthy) passed health checks)",
                                  ["upstream": .text(t.name), "server": .text(t.health.servers[i])])
                    }
                }
                states[id] = list
            }
            states = states.filter { seen.contains($0.key) }
            usleep(100_000)
        }
    }

    /// One check: connect, (TLS as the upstream speaks it), `GET path`, read the status line.
    static func probe(_ t: UpstreamTarget, server i: Int, check: HealthCheckConfig) -> Bool {
        var a = t.addresses[i]
        let fd = socket(a.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let us = Int(check.timeoutSeconds * 1_000_000)
        var tv = timeval(tv_sec: us / 1_000_000, tv_usec: Int(us % 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) // bounds connect too
        let r = withUnsafePointer(to: &a.storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, a.length) } }
        guard r == 0 else { return false }
        let host = String(decoding: t.labels[i], as: UTF8.self)
        let request = Array("GET \(check.path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: drawbridge-health-check\r\nConnection: close\r\n\r\n".utf8)
        var reply = [UInt8](repeating: 0, count: 512)
        var got = 0
        if let ctx = t.tlsContext {
            guard let ssl = SSL_new(ctx) else { return false }
            defer { SSL_free(ssl) }
            _ = COpenSSL_set_tlsext_host_name(ssl, t.serverName[i])
            guard SSL_set1_host(ssl, t.serverName[i]) == 1 else { return false }
            SSL_set_fd(ssl, fd)
            guard SSL_connect(ssl) == 1, SSL_write(ssl, request, Int32(request.count)) == Int32(request.count) else { return false }
            while got < 12 {
                let n = reply.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress! + got, Int32($0.count - got)) }
                if n <= 0 { break }
                got += Int(n)
            }
        } else {
            guard write(fd, request, request.count) == request.count else { return false }
            while got < 12 {
                let n = reply.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
                if n <= 0 { break }
                got += n
            }
        }
        // "HTTP/1.x 2xx" or 3xx passes.
        guard got >= 12, reply[0..<7].elementsEqual("HTTP/1.".utf8) else { return false }
        return reply[9] == UInt8(ascii: "2") || reply[9] == UInt8(ascii: "3")
    }
}
