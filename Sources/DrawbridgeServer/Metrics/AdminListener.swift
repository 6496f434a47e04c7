import CLinux
import DrawbridgeConfig
import Glibc

/// The admin listener (`admin.listen`): plain HTTP/1.1 on an address of its own, one blocking
/// thread, one request per connection. `/metrics` (Prometheus text), `/healthz` (the process
/// answers), `/readyz` (configuration loaded, listeners bound, every route has a healthy
/// upstream server). Nothing else, and nothing of it on the public listeners.
final class AdminListener: @unchecked Sendable {
    private let fd: Int32
    let address: ListenAddress

    /// Binds now, so that a taken address fails the start with a clear message.
    init(_ config: AdminConfig, resolve: (ListenAddress) throws -> SocketAddress) throws {
        address = config.listen
        var a = try resolve(config.listen)
        fd = socket(a.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SocketError.system("admin.listen socket", CLinux_errno()) }
        _ = CLinux_set_reuseaddr(fd) // no SO_REUSEPORT: a second gateway cannot bind beside this one
        let r = withUnsafePointer(to: &a.storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, a.length) } }
        if r != 0 || listen(fd, 64) != 0 {
            let e = CLinux_errno(); close(fd)
            throw SocketError.system("admin.listen \(config.listen)", e)
        }
    }

    func start() {
        Threads.start(detached: true) { self.serve() }
    }

    private func serve() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 {
                if CLinux_errno() == EINTR || CLinux_errno() == ECONNABORTED { continue }
                usleep(100_000) // out of descriptors: wait rather than spin
                continue
            }
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            answer(c)
            close(c)
        }
    }

    private func answer(_ c: Int32) {
        var buf = [UInt8](repeating: 0, count: 8192)
        var have = 0
        while have < buf.count {
            let n = buf.withUnsafeMutableBytes { read(c, $0.baseAddress! + have, $0.count - have) }
            if n <= 0 { break }
            have += n
            if buf[0..<have].firstIndex(of: 10) != nil { break } // the request line is all we need
        }
        let line = buf[0..<have].split(separator: 10, maxSplits: 1).first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let parts = line.split(separator: " ")
        let response: (Int, String, String)
        if parts.count < 2 {
            response = (400, "text/plain; charset=utf-8", "400 Bad Request\n")
        } else {
            response = Self.respond(method: String(parts[0]), target: String(parts[1]))
        }
        let (status, type, body) = response
        let isHead = parts.first == "HEAD"
        let reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed" : status == 503 ? "Service Unavailable" : "Bad Request"
        var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\nCache-Control: no-store\r\nConnection: close\r\n"
        if status == 405 { head += "Allow: GET, HEAD\r\n" }
        let bytes = Array((head + "\r\n" + (isHead ? "" : body)).utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(c, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { return }
            off += n
        }
    }

    /// The admin endpoints (a pure function of the request line and the registry).
    static func respond(method: String, target: String) -> (Int, String, String) {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        guard ["/metrics", "/healthz", "/readyz"].contains(path) else { return (404, "text/plain; charset=utf-8", "404 Not Found\n") }
        guard method == "GET" || method == "HEAD" else { return (405, "text/plain; charset=utf-8", "405 Method Not Allowed\n") }
        switch path {
        case "/metrics":
            return (200, "text/plain; version=0.0.4; charset=utf-8", MetricsRegistry.shared.render())
        case "/healthz":
            return (200, "text/plain; charset=utf-8", "ok\n")
        default:
            if let why = MetricsRegistry.shared.notReady(now: CLinux_monotonic_ns()) {
                return (503, "text/plain; charset=utf-8", "not ready\n\(why)\n")
            }
            return (200, "text/plain; charset=utf-8", "ready\n")
        }
    }
}
