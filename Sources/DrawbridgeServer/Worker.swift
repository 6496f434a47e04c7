import CLinux
import COpenSSL
import DrawbridgeDecision
import Glibc

/// What an fd registered with a worker's epoll is. A closed enum: dispatch without existentials.
enum Handler {
    case httpsListener
    case redirectListener
    case wake
    case client(ClientConnection)
    case upstream(UpstreamConnection)
    case redirect(RedirectConnection)
}

/// One event loop on one thread: its own epoll, SO_REUSEPORT listeners, timers, upstream pools
/// and buffers. The only thing shared with other workers on the request path is the published
/// sign-out list, read with one atomic load: the request path takes no lock.
final class Worker {
    let index: Int
    let epfd: Int32
    let wakeFd: Int32
    private(set) var snapshot: Snapshot
    let mailbox: SnapshotMailbox
    /// Pools of the current snapshot's upstreams, by `UpstreamTarget.index`.
    private(set) var pools: [UpstreamPool] = []
    /// Pools of upstream targets of earlier snapshots that requests decided under those snapshots
    /// still use (retired: their connections close when released); dropped once unused.
    private var retiredPools: [UpstreamPool] = []
    var buffers: BufferPool
    let accessLog: AccessLog
    /// Upstream failures, timeouts, TLS handshake failures, limits (see `ErrorLogBuffer`).
    let errorLog: ErrorLogBuffer
    let metrics = WorkerMetrics() // metrics:
    let services: AuthServices
    /// This worker's opened session cookies (see `SessionCache`).
    let sessionCache = SessionCache()
    /// This worker's verified API keys (see `APIKeyCache`).
    let apiKeyCache = APIKeyCache()
    /// The sign-out list all workers share, as this worker last loaded it (see `PublishedRevocations`).
    private let publishedRevocations: PublishedRevocations
    private var revocationSet: RevocationSet
    private var revocationAddress: UInt
    /// Signs identity assertions for upstreams, once per session and audience while fresh.
    var assertions = AssertionSigners()
    /// Pseudonymous identity fields, per session and audience (see `PseudonymCache`).
    var pseudonyms = PseudonymCache()
    /// The upstream OAuth 2.0 tokens the fetcher thread publishes (see `UpstreamTokenReader`).
    var upstreamTokens: UpstreamTokenReader
    var random: FastRandom

    private var handlers: [Handler?] = []
    private var generations: [UInt32] = []
    private(set) var listenFds: [Int32] = []
    private(set) var redirectFds: [Int32] = []
    /// Accepting paused for lack of descriptors (see `AcceptPause`).
    var acceptPause = AcceptPause()
    private(set) var clientCount = 0
    /// The most connections since memory was last given back (see `giveBackMemoryAfterBurst`).
    private var peakClients = 0
    var now: UInt64 = CLinux_monotonic_ns()
    /// The wall clock in seconds (what sessions, keys and the policy are judged at), read at most
    /// once per loop iteration, and only when a request needs it.
    var wallClock: UInt64 {
        if wallClockStale { wallClockValue = unixNow(); wallClockStale = false }
        return wallClockValue
    }
    private var wallClockValue: UInt64 = 0
    private var wallClockStale = true
    private var nextSweep: UInt64 = 0
    private var drainDeadline: UInt64 = 0
    private(set) var draining = false

    init(index: Int, snapshot: Snapshot, accessLog: AccessLog, errorLog: ErrorLogBuffer, services: AuthServices,
         httpsListeners: [Int32], redirectListeners: [Int32]) {
        self.index = index
        self.services = services
        self.snapshot = snapshot
        self.accessLog = accessLog
        self.errorLog = errorLog
        epfd = CLinux_epoll_create()
        wakeFd = CLinux_eventfd()
        mailbox = SnapshotMailbox(wakeFd: wakeFd)
        buffers = BufferPool(bufferSize: snapshot.bufferSize)
        random = FastRandom()
        publishedRevocations = services.revocations?.published ?? PublishedRevocations(.empty, readers: index + 1)
        upstreamTokens = UpstreamTokenReader(services.upstreamTokens, reader: index)
        revocationAddress = publishedRevocations.currentAddress()
        revocationSet = publishedRevocations.adopt(revocationAddress)
        publishedRevocations.announce(reader: index, generation: revocationSet.generation)
        listenFds = httpsListeners
        redirectFds = redirectListeners
        pools = snapshot.upstreams.map { UpstreamPool(target: $0, worker: self) }
        register(fd: wakeFd, .wake, events: CLinux_EPOLLIN)
        for fd in httpsListeners { register(fd: fd, .httpsListener, events: CLinux_EPOLLIN) }
        for fd in redirectListeners { register(fd: fd, .redirectListener, events: CLinux_EPOLLIN) }
    }

    // MARK: Registration

    @discardableResult
    func register(fd: Int32, _ h: Handler, events: UInt32) -> Bool {
        let i = Int(fd)
        if i >= handlers.count {
            let n = max(i + 1, handlers.count * 2, 1024)
            handlers.append(contentsOf: repeatElement(nil, count: n - handlers.count))
            generations.append(contentsOf: repeatElement(0, count: n - generations.count))
        }
        generations[i] &+= 1
        handlers[i] = h
        return CLinux_epoll_ctl(epfd, 1, fd, events, token(fd)) == 0
    }

    @inline(__always) private func token(_ fd: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: fd)) | (UInt64(generations[Int(fd)]) << 32)
    }

    @inline(__always) func modify(fd: Int32, events: UInt32) {
        _ = CLinux_epoll_ctl(epfd, 2, fd, events, token(fd))
    }

    /// Forget an fd before closing it (close alone would leave a stale handler behind).
    func unregister(fd: Int32) {
        _ = CLinux_epoll_ctl(epfd, 3, fd, 0, 0)
        handlers[Int(fd)] = nil
    }

    func clientClosed() { clientCount -= 1 }

    /// The pool of `target`: this snapshot's, or, for a request decided under an earlier snapshot,
    /// a retired pool of that snapshot's target (never another upstream that now has its index).
    @inline(__always)
    func pool(for target: UpstreamTarget) -> UpstreamPool {
        if target.index < pools.count, pools[target.index].target === target { return pools[target.index] }
        return retiredPool(for: target)
    }

    @inline(never)
    private func retiredPool(for target: UpstreamTarget) -> UpstreamPool {
        if let p = retiredPools.first(where: { $0.target === target }) { return p }
        let p = UpstreamPool(target: target, worker: self)
        p.retire()
        retiredPools.append(p)
        return p
    }

    // MARK: Loop

    func run() {
        var events = [UInt32](repeating: 0, count: 256)
        var datas = [UInt64](repeating: 0, count: 256)
        while true {
            let timeout: Int32 = draining ? 50 : 250
            let n = CLinux_epoll_wait(epfd, &events, &datas, 256, timeout)
            now = CLinux_monotonic_ns()
            wallClockStale = true
            if n > 0 {
                for i in 0..<Int(n) { dispatch(token: datas[i], events: events[i]) }
            }
            resumeAcceptingIfDue()
            if now >= nextSweep {
                sweep()
                nextSweep = now + 200_000_000
            }
            refreshRevocations()
            upstreamTokens.refresh()
            accessLog.flush()
            errorLog.flush(now: now)
            metrics.clients(clientCount) // metrics:
            if draining && (clientCount == 0 || now >= drainDeadline) { break }
        }
        shutdownAll()
        publishedRevocations.retire(reader: index)
        upstreamTokens.retire()
    }

    /// The sign-outs in force now, for `Authenticator`: one atomic load per protected request; a
    /// newly published list is adopted on the spot (before this request is judged).
    var revocations: Revocations {
        @inline(__always) get {
            refreshRevocations()
            return Revocations(openedSessions: sessionCache, verifiedKeys: apiKeyCache, set: revocationSet)
        }
    }

    /// The generation of the sign-out list this worker holds (an open tunnel is judged again when it changes).
    var revocationGeneration: UInt64 { revocationSet.generation }

    @inline(__always) private func refreshRevocations() {
        let address = publishedRevocations.currentAddress()
        if address != revocationAddress { adoptRevocations(address) }
    }

    @inline(never) private func adoptRevocations(_ address: UInt) {
        revocationSet = publishedRevocations.adopt(address)
        revocationAddress = address
        publishedRevocations.announce(reader: index, generation: revocationSet.generation)
    }

    @inline(__always) private func dispatch(token: UInt64, events: UInt32) {
        let fd = Int(UInt32(truncatingIfNeeded: token))
        guard fd < handlers.count, generations[fd] == UInt32(token >> 32), let h = handlers[fd] else { return }
        switch h {
        case .client(let c): c.handle(events: events)
        case .upstream(let u): u.handle(events: events)
        case .httpsListener: acceptClients(Int32(fd))
        case .redirectListener: acceptRedirects(Int32(fd))
        case .redirect(let r): r.handle(events: events)
        case .wake:
            _ = CLinux_eventfd_drain(wakeFd)
            checkMailbox()
        }
    }

    /// Accepts up to 64 connections per readiness event; over maxConnectionsPerWorker (or while
    /// draining) a connection is closed at once so the worker keeps serving the ones it has.
    private func acceptLoop(_ lfd: Int32, _ make: (Int32, SocketAddress) -> Void) {
        let limit = snapshot.config.limits.maxConnectionsPerWorker
        for _ in 0..<64 {
            var addr = SocketAddress()
            addr.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &addr.storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { CLinux_accept4(lfd, $0, &addr.length) }
            }
            if fd < 0 {
                let e = CLinux_errno()
                if AcceptPause.isResourceShortage(e) { pauseAccepting(errno: e) }   // else EAGAIN: backlog empty
                return
            }
            AcceptPauseReport.shared.accepted()
            if clientCount >= limit || draining {
                if !draining { connectionLimitReached(limit) }
                close(fd)
                continue
            }
            clientCount += 1
            if clientCount > peakClients { peakClients = clientCount }
            make(fd, addr)
        }
    }

    private func acceptClients(_ lfd: Int32) {
        acceptLoop(lfd) { fd, addr in
            _ = CLinux_set_tcp_nodelay(fd)
            guard let ssl = SSL_new(snapshot.tls.defaultServer) else { close(fd); clientCount -= 1; return }
            SSL_set_fd(ssl, fd)
            SSL_set_accept_state(ssl)
            register(fd: fd, .client(ClientConnection(worker: self, fd: fd, ssl: ssl, peer: addr)), events: CLinux_EPOLLIN)
        }
    }

    private func acceptRedirects(_ lfd: Int32) {
        acceptLoop(lfd) { fd, _ in
            register(fd: fd, .redirect(RedirectConnection(worker: self, fd: fd)), events: CLinux_EPOLLIN)
        }
    }

    /// Timeouts, and open tunnels judged again: one pass over the registered connections, five times a second.
    private func sweep() {
        if !retiredPools.isEmpty { retiredPools.removeAll { $0.isUnused } }
        giveBackMemoryAfterBurst()
        for i in 0..<handlers.count {
            guard let h = handlers[i] else { continue }
            switch h {
            case .client(let c):
                if c.deadline <= now { c.timedOut() } else if c.exchange.phase == .tunnel { c.rejudgeTunnel() } else { c.trimIfIdle(now: now) }
            case .redirect(let r): if r.deadline <= now { r.close() }
            case .upstream(let u): if u.owner == nil && u.deadline <= now { u.pool.discard(u) }
            default: break
            }
        }
    }

    /// The buffer free list follows the load down (half of what went unused each sweep); when the
    /// connection count has fallen far below its peak, or many buffers were freed, the C heap
    /// returns freed pages to the system (malloc_trim: glibc keeps them otherwise, and RSS would
    /// stay at the burst's high-water mark).
    private func giveBackMemoryAfterBurst() {
        freedSinceTrim += buffers.releaseUnused()
        peakClients = max(peakClients, clientCount)
        let burstOver = peakClients - clientCount >= 256 && clientCount * 2 <= peakClients
        // 64 buffers: about 1.5 MB back to malloc, worth a trim.
        guard burstOver || freedSinceTrim >= 64 else { return }
        if burstOver { buffers.trim(keep: clientCount / 4 + 16) }
        _ = CLinux_malloc_trim()
        peakClients = clientCount
        freedSinceTrim = 0
    }
    private var freedSinceTrim = 0

    // MARK: Reload and drain

    private func checkMailbox() {
        let (next, stop, done) = mailbox.read()
        for d in done { d.connection.completeLocal(serial: d.serial, response: d.response) }
        if let next, next.generation != snapshot.generation {
            let old = pools
            snapshot = next
            pools = next.upstreams.map { UpstreamPool(target: $0, worker: self) }
            for p in old { p.retire() }
            retiredPools = retiredPools.filter { !$0.isUnused } + old
            if next.bufferSize != buffers.bufferSize { buffers = BufferPool(bufferSize: next.bufferSize) }
        }
        if let stop, !draining {
            draining = true
            drainDeadline = now + stop
            for fd in listenFds + redirectFds { unregister(fd: fd); close(fd) }
            listenFds = []; redirectFds = []
            for i in 0..<handlers.count {
                if case .client(let c)? = handlers[i] { c.beginDrain() }
            }
        }
    }

    private func shutdownAll() {
        for i in 0..<handlers.count {
            guard let h = handlers[i] else { continue }
            switch h {
            case .client(let c): c.close()
            case .redirect(let r): r.close()
            case .upstream(let u): if u.owner == nil { u.pool.discard(u) }
            default: break
            }
        }
        accessLog.flush()
        errorLog.flush(now: now)
    }

    @inline(never) private func connectionLimitReached(_ limit: Int) {
        guard errorLog.wants(.warn), errorLog.connectionLimit.admit(now: now) else { return }
        errorLog.event(.warn, "connection_limit", "limits.maxConnectionsPerWorker (\(limit)) reached: new connections are closed at once "
                       + "(worker \(index))", ["limit": .number(limit)])
    }
}

/// Hands a new snapshot (or a stop order) from the main thread to a worker. Touched once per
/// reload, never per request: the lock here is off the request path.
final class SnapshotMailbox: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var pending: Snapshot?
    private var stopAfterNs: UInt64?
    private var completions: [LocalCompletion] = []
    private let wakeFd: Int32

    init(wakeFd: Int32) {
        self.wakeFd = wakeFd
        pthread_mutex_init(&lock, nil)
    }

    func post(_ s: Snapshot) {
        pthread_mutex_lock(&lock); pending = s; pthread_mutex_unlock(&lock)
        _ = CLinux_eventfd_signal(wakeFd)
    }
    func postStop(drainNs: UInt64) {
        pthread_mutex_lock(&lock); stopAfterNs = drainNs; pthread_mutex_unlock(&lock)
        _ = CLinux_eventfd_signal(wakeFd)
    }
    /// A job's response for a connection of this worker (written on the worker's own thread).
    func postCompletion(_ c: LocalCompletion) {
        pthread_mutex_lock(&lock); completions.append(c); pthread_mutex_unlock(&lock)
        _ = CLinux_eventfd_signal(wakeFd)
    }
    func read() -> (Snapshot?, UInt64?, [LocalCompletion]) {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        let s = pending; pending = nil
        let c = completions
        completions = []
        return (s, stopAfterNs, c)
    }
}

/// A finished job and the connection waiting for it. The connection is only touched again on
/// its worker's thread (the mailbox hands it back there).
struct LocalCompletion: @unchecked Sendable {
    let connection: ClientConnection
    let serial: UInt64
    let response: LocalResponse
}

/// xoshiro256** seeded from the kernel once per worker: request ids need uniqueness, not secrecy,
/// and must not cost a syscall per request.
struct FastRandom {
    private var s: (UInt64, UInt64, UInt64, UInt64)
    init() {
        var g = SystemRandomNumberGenerator()
        s = (g.next(), g.next(), g.next(), g.next() | 1)
    }
    @inline(__always) mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3; s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }
}
