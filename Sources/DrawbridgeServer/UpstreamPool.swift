import CLinux
import COpenSSL
import DrawbridgeConfig
import Glibc

/// One upstream's servers as seen by one worker: balancing, passive health, and a keep-alive
/// pool of idle connections per server.
final class UpstreamPool {
    unowned(unsafe) let worker: Worker // workers outlive their connections
    let target: UpstreamTarget
    private var idle: [[UpstreamConnection]]
    private var active: [Int]
    private var next = 0
    private(set) var retired = false

    init(target: UpstreamTarget, worker: Worker) {
        self.worker = worker
        self.target = target
        idle = Array(repeating: [], count: target.addresses.count)
        active = Array(repeating: 0, count: target.addresses.count)
    }

    /// Picks a server: round robin or least connections, among the healthy ones (`UpstreamHealth`);
    /// -1 when none is (the caller answers 503). A retry avoids `excluding` unless it is the only one left.
    func pickServer(excluding: Int = -1) -> Int {
        let health = target.health
        let n = target.addresses.count
        let now = worker.now
        var best = -1
        switch target.balance {
        case .roundRobin:
            for k in 0..<n {
                let i = (next + k) % n
                if i != excluding && health.isUp(i, now: now) { best = i; break }
            }
            next = (next + 1) % n
        case .leastConnections:
            for k in 0..<n {
                let i = (next + k) % n
                if i == excluding || !health.isUp(i, now: now) { continue }
                if best < 0 || active[i] < active[best] { best = i }
            }
            next = (next + 1) % n
        }
        if best < 0 && excluding >= 0 && health.isUp(excluding, now: now) { best = excluding }
        return best
    }

    enum Acquired { case connection(UpstreamConnection), failed }

    /// An idle keep-alive connection to the chosen server, or a new one being connected.
    func acquire(server: Int, owner: ClientConnection) -> Acquired {
        while let c = idle[server].popLast() {
            if c.closed { continue }
            // bytes arrived or the server closed since it went idle (the event may not be handled
            // yet): never hand them to another request
            guard c.isClean, Sockets.nothingToRead(c.fd) else { c.close(); continue }
            c.owner = owner
            c.deadline = .max
            active[server] += 1
            return .connection(c)
        }
        let (fd, connected, e) = Sockets.connect(target.addresses[server])
        if fd < 0 {
            logConnectFailed(server: server, errno: e, owner: owner)
            markFailed(server)
            return .failed
        }
        var ssl: OpaquePointer?
        if let ctx = target.tlsContext {
            guard let s = SSL_new(ctx) else { close(fd); return .failed }
            let name = target.serverName[server]
            _ = COpenSSL_set_tlsext_host_name(s, name)   // SNI
            if SSL_set1_host(s, name) != 1 { SSL_free(s); close(fd); return .failed } // verify the certificate names this host
            SSL_set_fd(s, fd)
            SSL_set_connect_state(s)
            ssl = s
        }
        let c = UpstreamConnection(pool: self, serverIndex: server, fd: fd, ssl: ssl, connected: connected)
        worker.metrics.upstreamOpened(target) // metrics:
        c.owner = owner
        worker.register(fd: fd, .upstream(c), events: c.wantedEvents(wantRead: false))
        c.registered = c.wantedEvents(wantRead: false)
        active[server] += 1
        return .connection(c)
    }

    /// Passive health: a connect error or timeout. Either way a server is marked down (here or
    /// by `observed`), the error log says so.
    func markFailed(_ server: Int) {
        if target.health.failed(server, now: worker.now) { logMarkedDown(server: server) }
    }

    /// Passive health: a response's status (a 5xx counts as a failure).
    @inline(__always) func observed(status: Int, server: Int) {
        if target.health.observed(status: status, server: server, now: worker.now) { logMarkedDown(server: server) }
    }

    /// The owner is done with a clean connection (`ClientExchange.responseComplete` said so): keep
    /// it for the next request if there is room.
    func release(_ c: UpstreamConnection) {
        active[c.serverIndex] -= 1
        c.owner = nil
        c.reused = true
        if retired || idle[c.serverIndex].count >= target.maxIdleConnections {
            c.close()
            return
        }
        c.releaseBuffers()
        c.readBlocked = false
        c.deadline = worker.now + target.idleTimeoutNs
        c.setInterest(CLinux_EPOLLIN) // to notice the server closing it
        idle[c.serverIndex].append(c)
    }

    /// The owner gives up a connection that cannot be reused.
    func abandon(_ c: UpstreamConnection) {
        if c.owner != nil { active[c.serverIndex] -= 1 }
        c.owner = nil
        c.close()
    }

    /// Closes an idle connection (server closed it, or it idled out).
    func discard(_ c: UpstreamConnection) {
        if let i = idle[c.serverIndex].firstIndex(where: { $0 === c }) { idle[c.serverIndex].remove(at: i) }
        c.close()
    }

    /// Retired and no connection of it is in use: nothing can need it again.
    var isUnused: Bool { retired && active.allSatisfy { $0 == 0 } }

    /// A reload replaced this pool: close idle connections; busy ones close when released.
    func retire() {
        retired = true
        for list in idle { for c in list { c.close() } }
        idle = Array(repeating: [], count: idle.count)
    }
}
