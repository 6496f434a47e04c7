import CLinux
import COpenSSL
import Glibc

/// A connection to one upstream server: connecting, TLS handshaking, in use by a client
/// connection (`owner`), or idle in its pool.
final class UpstreamConnection {
    /// Strong: a pool retired by a reload must live until its busy connections finish.
    let pool: UpstreamPool
    let serverIndex: Int
    var transport: Transport
    var owner: ClientConnection?
    enum State { case connecting, handshaking, ready }
    var state: State
    var inBuf: IOBuffer?
    var outBuf: IOBuffer?
    var registered: UInt32 = 0
    var readBlocked = false
    var eof = false
    /// Has carried a request before: a failure before the first response byte may be a stale
    /// keep-alive connection, and a bodiless request can be retried once on a fresh one.
    var reused = false
    var deadline: UInt64 = .max
    var closed = false

    init(pool: UpstreamPool, serverIndex: Int, fd: Int32, ssl: OpaquePointer?, connected: Bool) {
        self.pool = pool
        self.serverIndex = serverIndex
        transport = Transport(fd: fd, ssl: ssl)
        state = connected ? (ssl == nil ? .ready : .handshaking) : .connecting
    }

    var fd: Int32 { transport.fd }

    func handle(events: UInt32) {
        if events & (CLinux_EPOLLIN | CLinux_EPOLLHUP | CLinux_EPOLLERR) != 0 { readBlocked = false }
        if let owner {
            owner.upstreamEvent(events)
        } else {
            // Idle in the pool: anything readable means the server closed it or broke protocol.
            pool.discard(self)
        }
    }

    /// Advances connect and handshake. Returns false when the connection failed.
    func advanceSetup() -> Bool {
        if state == .connecting {
            let err = Sockets.pendingError(fd)
            if err != 0 { pool.logConnectFailed(server: serverIndex, errno: err, owner: owner); return false }
            // Still in progress if the socket is not yet writable: the caller only calls this on events.
            state = transport.isTLS ? .handshaking : .ready
        }
        if state == .handshaking {
            switch transport.handshake() {
            case .done: state = .ready
            case .wantRead: handshakeWantsWrite = false; return true
            case .wantWrite: handshakeWantsWrite = true; return true
            case .failed: pool.logTLSFailed(self); return false
            }
        }
        return true
    }

    var handshakeWantsWrite = false

    /// Epoll interest for this connection given what its owner needs.
    func wantedEvents(wantRead: Bool) -> UInt32 {
        var ev: UInt32 = 0
        switch state {
        case .connecting: ev = CLinux_EPOLLOUT
        case .handshaking: ev = handshakeWantsWrite ? CLinux_EPOLLOUT : CLinux_EPOLLIN
        case .ready:
            if wantRead || transport.writeNeedsReadable { ev |= CLinux_EPOLLIN }
            if !(outBuf?.isEmpty ?? true) || transport.readNeedsWritable { ev |= CLinux_EPOLLOUT }
        }
        return ev
    }

    func setInterest(_ ev: UInt32) {
        if ev != registered {
            pool.worker.modify(fd: fd, events: ev)
            registered = ev
        }
    }

    /// Writes as much of outBuf as the socket takes. Returns bytes written, or nil on failure.
    func flush() -> Int? {
        guard state == .ready, let b = outBuf, !b.isEmpty else { return 0 }
        var total = 0
        while !b.isEmpty {
            switch transport.write(b.readableBytes) {
            case .bytes(let n): b.consume(n); total += n
            case .wouldBlock: return total
            case .eof, .failed: return nil
            }
        }
        return total
    }

    /// Nothing unread (buffered, or decrypted by TLS), nothing unsent, not closed: the connection
    /// can carry another request without it reading this one's bytes. The socket itself is
    /// peeked when the connection is taken from the pool (`UpstreamPool.acquire`).
    var isClean: Bool {
        !eof && !closed && state == .ready && (inBuf?.isEmpty ?? true) && (outBuf?.isEmpty ?? true) && !transport.hasBufferedInput
    }

    func releaseBuffers() {
        if let b = inBuf, b.isEmpty { pool.worker.buffers.give(b); inBuf = nil }
        if let b = outBuf, b.isEmpty { pool.worker.buffers.give(b); outBuf = nil }
    }

    func close() {
        if closed { return }
        closed = true
        pool.worker.metrics.upstreamClosed(pool.target) // metrics:
        pool.worker.unregister(fd: fd)
        transport.close(graceful: state == .ready)
        if let b = inBuf { pool.worker.buffers.give(b); inBuf = nil }
        if let b = outBuf { pool.worker.buffers.give(b); outBuf = nil }
    }
}
