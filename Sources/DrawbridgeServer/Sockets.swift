import CLinux
import Glibc

/// A resolved socket address (IPv4 or IPv6), stored inline.
struct SocketAddress {
    var storage = sockaddr_storage()
    var length: socklen_t = 0

    var family: Int32 { Int32(storage.ss_family) }

    /// Resolves a numeric or named host; numeric literals never touch DNS.
    static func resolve(host: String, port: UInt16) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        let h = (host.isEmpty || host == "*") ? "0.0.0.0" : host
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(h, String(port), &hints, &res) == 0, let first = res else { return [] }
        defer { freeaddrinfo(first) }
        var out: [SocketAddress] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let ai = p {
            var a = SocketAddress()
            withUnsafeMutableBytes(of: &a.storage) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: ai.pointee.ai_addr, count: Int(ai.pointee.ai_addrlen)))
            }
            a.length = ai.pointee.ai_addrlen
            out.append(a)
            p = ai.pointee.ai_next
        }
        return out
    }

    /// The address as text without port ("127.0.0.1", "::1"), for logs and X-Forwarded-For.
    func ipBytes(into out: inout [UInt8]) {
        var buf = [CChar](repeating: 0, count: 64)
        var s = storage
        withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: UInt8.self, capacity: MemoryLayout<sockaddr_storage>.size) { raw in
                if family == AF_INET {
                    raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                        var addr = sin.pointee.sin_addr
                        _ = inet_ntop(AF_INET, &addr, &buf, 64)
                    }
                } else {
                    raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin in
                        var addr = sin.pointee.sin6_addr
                        _ = inet_ntop(AF_INET6, &addr, &buf, 64)
                    }
                }
            }
        }
        for c in buf { if c == 0 { break }; out.append(UInt8(bitPattern: c)) }
    }

    var port: UInt16 {
        var s = storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }

    var text: String {
        var b: [UInt8] = []
        ipBytes(into: &b)
        let ip = String(decoding: b, as: UTF8.self)
        return family == AF_INET6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

enum SocketError: Error, CustomStringConvertible {
    case system(String, Int32)
    var description: String {
        switch self {
        case .system(let what, let e): return "\(what): \(String(cString: strerror(e)))"
        }
    }
}

enum Sockets {
    /// A non-blocking listening socket with SO_REUSEPORT, so every worker owns one (kernel balances).
    static func listen(_ address: SocketAddress, backlog: Int32 = 4096) throws -> Int32 {
        let fd = CLinux_socket_nonblock(address.family, Int32(SOCK_STREAM.rawValue))
        if fd < 0 { throw SocketError.system("socket", CLinux_errno()) }
        _ = CLinux_set_reuseaddr(fd)
        _ = CLinux_set_reuseport(fd)
        var a = address
        let r = withUnsafePointer(to: &a.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, a.length) }
        }
        if r != 0 {
            let e = CLinux_errno(); close(fd)
            throw SocketError.system("bind \(address.text)", e)
        }
        if Glibc.listen(fd, backlog) != 0 {
            let e = CLinux_errno(); close(fd)
            throw SocketError.system("listen \(address.text)", e)
        }
        return fd
    }

    /// Starts a non-blocking connect. Returns the fd, and whether it is already connected.
    static func connect(_ address: SocketAddress) -> (fd: Int32, connected: Bool, errno: Int32) {
        let fd = CLinux_socket_nonblock(address.family, Int32(SOCK_STREAM.rawValue))
        if fd < 0 { return (-1, false, CLinux_errno()) }
        _ = CLinux_set_tcp_nodelay(fd)
        var a = address
        let r = withUnsafePointer(to: &a.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, a.length) }
        }
        if r == 0 { return (fd, true, 0) }
        let e = CLinux_errno()
        if e == EINPROGRESS { return (fd, false, 0) }
        close(fd)
        return (-1, false, e)
    }

    /// A non-blocking peek: true when the socket has no byte to read and the peer has not closed.
    static func nothingToRead(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n < 0 && (CLinux_errno() == EAGAIN || CLinux_errno() == EWOULDBLOCK)
    }

    /// The pending error of a socket whose non-blocking connect finished.
    static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err
    }
}
