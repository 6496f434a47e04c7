import CLinux
import COpenSSL
import Glibc

enum IOResult {
    case bytes(Int)
    case wouldBlock
    case eof
    case failed
}

/// One socket, plain or TLS. A closed set of two cases behind one struct: no existentials.
struct Transport {
    let fd: Int32
    private(set) var ssl: OpaquePointer?
    /// TLS may need the other direction to make progress (TLS 1.3 key updates, close_notify).
    var readNeedsWritable = false
    var writeNeedsReadable = false
    /// Why the handshake failed, for the error log: OpenSSL's error code, or errno (0, 0: the peer
    /// closed the connection). Read before the error queue is cleared.
    private(set) var handshakeFailure: (code: UInt, errno: Int32) = (0, 0)

    init(fd: Int32, ssl: OpaquePointer?) {
        self.fd = fd
        self.ssl = ssl
    }

    var isTLS: Bool { ssl != nil }

    enum HandshakeResult { case done, wantRead, wantWrite, failed }

    mutating func handshake() -> HandshakeResult {
        guard let ssl else { return .done }
        let r = SSL_do_handshake(ssl)
        if r == 1 { return .done }
        let e = SSL_get_error(ssl, r)
        if e == COpenSSL_ERROR_WANT_READ() { return .wantRead }
        if e == COpenSSL_ERROR_WANT_WRITE() { return .wantWrite }
        handshakeFailure = (ERR_peek_error(), e == COpenSSL_ERROR_SYSCALL() ? CLinux_errno() : 0)
        ERR_clear_error()
        return .failed
    }

    /// The handshake failure in words: OpenSSL's reason ("unsupported protocol", "http request",
    /// "no shared cipher"...), the system error, or that the peer closed the connection.
    var handshakeFailureReason: String {
        let (code, e) = handshakeFailure
        if code != 0, let r = ERR_reason_error_string(code) { return String(cString: r) }
        if code != 0 { return "OpenSSL error \(code)" }
        if e != 0 { return "\(e): \(String(cString: strerror(e)))" }
        return "the peer closed the connection during the handshake"
    }

    @inline(__always)
    mutating func read(into buf: UnsafeMutableRawBufferPointer) -> IOResult {
        if buf.count == 0 { return .wouldBlock }
        guard let ssl else {
            while true {
                let n = Glibc.read(fd, buf.baseAddress, buf.count)
                if n > 0 { return .bytes(n) }
                if n == 0 { return .eof }
                let e = CLinux_errno()
                if e == EINTR { continue }
                return (e == EAGAIN || e == EWOULDBLOCK) ? .wouldBlock : .failed
            }
        }
        var n = 0
        let r = SSL_read_ex(ssl, buf.baseAddress, buf.count, &n)
        readNeedsWritable = false
        if r == 1 { return .bytes(n) }
        let e = SSL_get_error(ssl, r)
        if e == COpenSSL_ERROR_WANT_READ() { return .wouldBlock }
        if e == COpenSSL_ERROR_WANT_WRITE() { readNeedsWritable = true; return .wouldBlock }
        ERR_clear_error()
        if e == COpenSSL_ERROR_ZERO_RETURN() { return .eof }
        return .failed
    }

    @inline(__always)
    mutating func write(_ buf: UnsafeRawBufferPointer) -> IOResult {
        if buf.count == 0 { return .bytes(0) }
        guard let ssl else {
            while true {
                let n = Glibc.write(fd, buf.baseAddress, buf.count)
                if n >= 0 { return .bytes(n) }
                let e = CLinux_errno()
                if e == EINTR { continue }
                return (e == EAGAIN || e == EWOULDBLOCK) ? .wouldBlock : .failed
            }
        }
        var n = 0
        let r = SSL_write_ex(ssl, buf.baseAddress, buf.count, &n)
        writeNeedsReadable = false
        if r == 1 { return .bytes(n) }
        let e = SSL_get_error(ssl, r)
        if e == COpenSSL_ERROR_WANT_WRITE() { return .wouldBlock }
        if e == COpenSSL_ERROR_WANT_READ() { writeNeedsReadable = true; return .wouldBlock }
        ERR_clear_error()
        return .failed
    }

    /// Bytes already decrypted inside OpenSSL that epoll cannot see.
    var hasBufferedInput: Bool {
        guard let ssl else { return false }
        return SSL_has_pending(ssl) == 1
    }

    /// Closes the socket. A TLS connection gets a best-effort close_notify first.
    mutating func close(graceful: Bool = true) {
        if let ssl {
            if graceful { _ = SSL_shutdown(ssl) }
            ERR_clear_error()
            SSL_free(ssl)
            self.ssl = nil
        }
        Glibc.close(fd)
    }
}
