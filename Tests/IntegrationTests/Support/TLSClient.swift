import COpenSSL
import Foundation
import Glibc

/// A response as a test sees it.
struct Response {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    func headers(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking TCP connection, optionally TLS (OpenSSL), for sending exact bytes to the gateway.
final class RawClient {
    /// -1 once closed: a descriptor is closed exactly once, or a second close would close whatever
    /// another test running in parallel has opened under the same number since.
    private var fd: Int32
    private var ssl: OpaquePointer?
    private var ctx: OpaquePointer?
    private var pending: [UInt8] = []
    private(set) var closedByPeer = false
    /// The last read ended because the read timeout passed, not because the peer closed.
    private(set) var timedOut = false

    /// tlsVersion: force one protocol version (e.g. TLS1_1_VERSION) to test refusals.
    /// A peer that closes while we write must fail the write, not kill the test process.
    private static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()

    init(port: UInt16, tls: Bool = true, serverName: String? = "localhost", tlsVersion: Int32? = nil, timeout: Double = 10) throws {
        _ = Self.ignoreSIGPIPE
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if r != 0 { let e = errno; close(); throw TestFailure("connect to \(port) failed: errno \(e)") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard tls else { return }
        ctx = SSL_CTX_new(TLS_client_method())
        if let v = tlsVersion {
            SSL_CTX_set_security_level(ctx, 0) // let the client offer old versions, so the server is what refuses
            _ = COpenSSL_CTX_set_min_proto(ctx, v)
            _ = COpenSSL_CTX_set_max_proto(ctx, v)
            SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0")
        }
        ssl = SSL_new(ctx)
        if let serverName { _ = COpenSSL_set_tlsext_host_name(ssl, serverName) }
        SSL_set_fd(ssl, fd)
        if SSL_connect(ssl) != 1 {
            ERR_clear_error()
            throw TestFailure("TLS handshake failed")
        }
    }

    deinit { close() }

    func close() {
        if let ssl { SSL_free(ssl); self.ssl = nil }
        if let ctx { SSL_CTX_free(ctx); self.ctx = nil }
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    var negotiatedVersion: String {
        guard let ssl else { return "" }
        return String(cString: SSL_get_version(ssl))
    }
    /// The subject CN of the certificate the server presented.
    var peerCommonName: String {
        guard let ssl, let cert = SSL_get1_peer_certificate(ssl) else { return "" }
        defer { X509_free(cert) }
        var buf = [CChar](repeating: 0, count: 256)
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, &buf, 256)
        return String(cString: buf)
    }

    var alpn: String {
        guard let ssl else { return "" }
        var p: UnsafePointer<UInt8>?
        var len: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &p, &len)
        guard let p else { return "" }
        return String(decoding: UnsafeBufferPointer(start: p, count: Int(len)), as: UTF8.self)
    }

    func send(_ s: String) throws { try send(Array(s.utf8)) }
    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n: Int = bytes[off...].withUnsafeBytes { b in
                if let ssl { return Int(SSL_write(ssl, b.baseAddress, Int32(b.count))) }
                return Glibc.write(fd, b.baseAddress, b.count)
            }
            if n <= 0 { throw TestFailure("write failed") }
            off += n
        }
    }

    /// Reads some bytes; [] on EOF or timeout.
    private func readSome() -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 65536)
        let n: Int = buf.withUnsafeMutableBytes { b in
            if let ssl { return Int(SSL_read(ssl, b.baseAddress, Int32(b.count))) }
            return Glibc.read(fd, b.baseAddress, b.count)
        }
        if n <= 0 {
            let e = errno
            timedOut = n < 0 && (e == EAGAIN || e == EWOULDBLOCK)
            closedByPeer = true; ERR_clear_error(); return []
        }
        return Array(buf[0..<n])
    }

    /// Exactly n bytes (interim responses, frames).
    func readExactly(_ n: Int) throws -> [UInt8] {
        while pending.count < n {
            let b = readSome()
            if b.isEmpty { throw TestFailure("closed after \(pending.count) of \(n) bytes") }
            pending += b
        }
        let out = Array(pending[0..<n])
        pending.removeFirst(n)
        return out
    }

    /// Everything until the peer closes (or the read timeout passes).
    func readToEnd() -> [UInt8] {
        var all = pending
        pending = []
        while true {
            let b = readSome()
            if b.isEmpty { return all }
            all += b
        }
    }

    /// One HTTP/1.1 response, framed by Content-Length, chunked, or close. `head`: response to HEAD.
    func readResponse(head: Bool = false) throws -> Response {
        func fill() throws {
            let b = readSome()
            if b.isEmpty { throw TestFailure("connection closed or timed out; have \(pending.count) bytes: \(String(decoding: pending.prefix(200), as: UTF8.self))") }
            pending += b
        }
        while true {
            while pending.firstRange(of: [13, 10, 13, 10]) == nil { try fill() }
            let end = pending.firstRange(of: [13, 10, 13, 10])!.upperBound
            let headText = String(decoding: pending[0..<end], as: UTF8.self)
            pending.removeFirst(end)
            var lines = headText.components(separatedBy: "\r\n").filter { !$0.isEmpty }
            let statusLine = lines.removeFirst()
            let status = Int(statusLine.split(separator: " ")[1]) ?? 0
            let headers: [(String, String)] = lines.map { l in
                let i = l.firstIndex(of: ":")!
                return (String(l[..<i]), l[l.index(after: i)...].trimmingCharacters(in: .whitespaces))
            }
            var r = Response(status: status, headers: headers, body: [])
            if status >= 100 && status < 200 && status != 101 { continue }
            if head || status == 204 || status == 304 || status == 101 { return r }
            if let cl = r.header("content-length"), let n = Int(cl) {
                while pending.count < n { try fill() }
                r.body = Array(pending[0..<n]); pending.removeFirst(n)
            } else if r.header("transfer-encoding")?.lowercased() == "chunked" {
                while true {
                    while pending.firstRange(of: [13, 10]) == nil { try fill() }
                    let le = pending.firstRange(of: [13, 10])!
                    let size = Int(String(decoding: pending[0..<le.lowerBound], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? 0
                    pending.removeFirst(le.upperBound)
                    while pending.count < size + 2 { try fill() }
                    r.body += pending[0..<size]
                    pending.removeFirst(size + 2)
                    if size == 0 { break }
                }
            } else {
                r.body = readToEnd()
            }
            return r
        }
    }
}
