import CLinux
import Glibc

/// Connection threads need little stack: buffers live on the heap.
let connectionStackSize = 256 * 1024

/// Binds and listens on "host:port" or "[v6]:port". Returns the socket and the bound address
/// as text (with the real port when port 0 was asked for).
func listenOn(_ spec: String) -> (fd: Int32, address: String)? {
    var host: String, portText: Substring
    if spec.hasPrefix("["), let close = spec.firstIndex(of: "]") {
        host = String(spec[spec.index(after: spec.startIndex)..<close])
        portText = spec[spec.index(after: close)...].drop { $0 == ":" }
    } else if let colon = spec.lastIndex(of: ":") {
        host = String(spec[..<colon])
        portText = spec[spec.index(after: colon)...]
    } else {
        return nil
    }
    if host == "localhost" || host.isEmpty { host = "127.0.0.1" }
    guard let port = UInt16(portText) else { return nil }
    let v6 = host.contains(":")

    let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return nil }
    _ = CLinux_set_reuseaddr(fd)
    var storage = sockaddr_storage()
    var length: socklen_t
    if v6 {
        length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let ok = withUnsafeMutableBytes(of: &storage) { raw -> Bool in
            let a = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
            a.pointee.sin6_family = sa_family_t(AF_INET6)
            a.pointee.sin6_port = port.bigEndian
            return inet_pton(AF_INET6, host, &a.pointee.sin6_addr) == 1
        }
        guard ok else { close(fd); return nil }
    } else {
        length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutableBytes(of: &storage) { raw -> Bool in
            let a = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
            a.pointee.sin_family = sa_family_t(AF_INET)
            a.pointee.sin_port = port.bigEndian
            return inet_pton(AF_INET, host, &a.pointee.sin_addr) == 1
        }
        guard ok else { close(fd); return nil }
    }
    let bound = withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0, listen(fd, 1024) == 0 else { close(fd); return nil }

    var actual = storage
    var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
    _ = withUnsafeMutablePointer(to: &actual) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) }
    }
    let actualPort = withUnsafeBytes(of: &actual) { raw in
        v6 ? UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
           : UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
    }
    return (fd, v6 ? "[\(host)]:\(actualPort)" : "\(host):\(actualPort)")
}

/// Accepts forever, one thread per connection.
func acceptLoop(_ listener: Int32) -> Never {
    while true {
        let fd = accept(listener, nil, nil)
        if fd < 0 {
            switch errno {
            case EINTR, ECONNABORTED: break
            default: usleep(10_000)  // EMFILE and friends: back off instead of spinning
            }
            continue
        }
        _ = CLinux_set_tcp_nodelay(fd)
        if !spawnThread(stackSize: connectionStackSize, { serve(Connection(fd: fd)) }) {
            close(fd)
        }
    }
}
