import CLinux
import DrawbridgeDecision
import DrawbridgeHTTP
import Glibc

/// A connection to the optional plain-HTTP listener. It never proxies: it answers one request
/// (`PlainRedirect.answer`), writes the answer whole, then closes lingering, as nginx does: stop
/// writing, read and discard what the client still sends for a short bounded time, then close,
/// so that unread request bytes do not make the kernel reset the connection and destroy the
/// answer before the client has read it.
final class RedirectConnection {
    unowned(unsafe) let worker: Worker // workers outlive their connections
    let fd: Int32
    private var buf: IOBuffer?
    private var head = RequestHead()
    private var parser: RequestHeadParser
    private var routing = RoutingHost()
    var deadline: UInt64
    private enum Phase { case reading, writing, lingering }
    private var phase = Phase.reading
    private var out: [UInt8] = []
    private var written = 0
    private var closed = false

    /// How long a lingering close reads before it closes anyway (the HTTPS side's bound too).
    static let lingerNs: UInt64 = 2_000_000_000

    init(worker: Worker, fd: Int32) {
        self.worker = worker
        self.fd = fd
        parser = RequestHeadParser(limits: worker.snapshot.httpLimits)
        deadline = worker.now + worker.snapshot.timeouts.header
    }

    func handle(events: UInt32) {
        switch phase {
        case .reading: readHead()
        case .writing: write()
        case .lingering: drain()
        }
    }

    private func readHead() {
        if buf == nil { buf = worker.buffers.take() }
        let b = buf!
        guard b.reserve(1) else { respond(PlainRedirect.refusal(431)); return }
        let n = read(fd, b.writableBytes.baseAddress, b.writable)
        if n == 0 { close(); return }
        if n < 0 {
            let e = CLinux_errno()
            if e != EAGAIN && e != EINTR { close() }
            return
        }
        b.writeIndex += n
        switch parser.parse(b.readableBytes, into: &head) {
        case .needMore: return
        case .error(let e): respond(PlainRedirect.refusal(e.status))
        case .complete:
            let snapshot = worker.snapshot
            respond(PlainRedirect.answer(head, routing: &routing, httpsPort: snapshot.config.resolvedRedirectPort) { name in
                snapshot.tls.presentsCertificate(for: name) || snapshot.config.routeTable.namesHost(name)
            })
        }
    }

    private func respond(_ bytes: [UInt8]) {
        out = bytes
        written = 0
        phase = .writing
        deadline = worker.now + worker.snapshot.timeouts.send
        write()
    }

    /// Writes the rest of the answer; waits for EPOLLOUT when the send buffer is full.
    private func write() {
        while written < out.count {
            let n = out.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n > 0 { written += n; continue }
            let e = CLinux_errno()
            if n < 0 && e == EINTR { continue }
            if n < 0 && e == EAGAIN { worker.modify(fd: fd, events: CLinux_EPOLLOUT); return }
            close(); return
        }
        out = []
        // The whole answer is in the kernel: stop writing (the client sees the end of the
        // response), keep reading what it still sends, so that no reset discards the answer.
        shutdown(fd, Int32(SHUT_WR))
        phase = .lingering
        deadline = worker.now + Self.lingerNs
        worker.modify(fd: fd, events: CLinux_EPOLLIN)
        drain()
    }

    /// Reads and discards (into the connection's buffer, which the head no longer needs).
    private func drain() {
        guard let b = buf else { close(); return }
        while true {
            b.clear()
            let n = read(fd, b.writableBytes.baseAddress, b.writable)
            if n > 0 { continue }
            if n < 0 && (CLinux_errno() == EAGAIN || CLinux_errno() == EINTR) { return }
            close() // the client closed (or failed): nothing left to protect
            return
        }
    }

    func close() {
        if closed { return }
        closed = true
        worker.unregister(fd: fd)
        Glibc.close(fd)
        if let b = buf { worker.buffers.give(b); buf = nil }
        worker.clientClosed()
    }
}
