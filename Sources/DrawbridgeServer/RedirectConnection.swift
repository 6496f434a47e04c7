import CLinux
import DrawbridgeHTTP
import Glibc

/// A connection to the optional plain-HTTP listener. It never proxies: it answers one request
/// with a 308 to the same URL over HTTPS, and never sends HSTS (RFC 6797 §7.2: not over plain HTTP).
final class RedirectConnection {
    unowned(unsafe) let worker: Worker // workers outlive their connections
    let fd: Int32
    private var buf: IOBuffer?
    private var head = RequestHead()
    private var parser: RequestHeadParser
    var deadline: UInt64
    private var closed = false

    init(worker: Worker, fd: Int32) {
        self.worker = worker
        self.fd = fd
        parser = RequestHeadParser(limits: worker.snapshot.httpLimits)
        deadline = worker.now + worker.snapshot.timeouts.header
    }

    func handle(events: UInt32) {
        if buf == nil { buf = worker.buffers.take() }
        let b = buf!
        guard b.reserve(1) else { answer(431); return }
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
        case .error(let e): answer(e.status)
        case .complete: redirect()
        }
    }

    private func redirect() {
        guard let hostRange = head.host ?? head.absoluteAuthority else { answer(400); return }
        var out: [UInt8] = []
        out.reserveCapacity(256 + head.target.count)
        out.append(contentsOf: "HTTP/1.1 308 Permanent Redirect\r\nLocation: https://".utf8)
        // The host in the one normal form, without its port (IPv6-safe); an invalid one gets 400.
        var name: [UInt8] = []
        guard head.bytes.withUnsafeBytes({ HostName.normalize(UnsafeRawBufferPointer(rebasing: $0[hostRange]), into: &name) }) != nil else {
            answer(400); return
        }
        out.append(contentsOf: name)
        let port = worker.snapshot.config.resolvedRedirectPort
        if port != 443 { out.append(contentsOf: ":\(port)".utf8) }
        out.append(contentsOf: head.bytes[head.target])
        out.append(contentsOf: "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        send(out)
    }

    private func answer(_ status: Int) {
        send(GatewayResponse.plain(GatewayResponse.error(status, json: false)))
    }

    /// One small response on a fresh socket: the send buffer takes it whole.
    private func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        shutdown(fd, Int32(SHUT_WR))
        close()
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
