import COpenSSL
import DrawbridgeCrypto
import DrawbridgeHTTP
#if canImport(Glibc)
import Glibc
#endif

/// A small blocking HTTPS/1.1 client for the provider's endpoints (one request per connection,
/// `Connection: close`). TLS 1.2 or later, the peer verified against `caFile` or the system
/// store, the certificate checked for the URL's host name or IP address. `timeout` bounds the
/// connect and the whole exchange. Responses are parsed with DrawbridgeHTTP's strict parser
/// and capped at `maxBody` bytes of body.
///
/// The caller's process must ignore SIGPIPE (the gateway does): OpenSSL writes with write(2).
enum HTTPSClient {
    struct Response: Sendable {
        var status: Int
        /// Field lines as received (names as sent).
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        /// Value of the first field named `name` (ASCII case-insensitive).
        func header(_ name: String) -> String? {
            headers.first(where: { $0.name.lowercased() == name.lowercased() })?.value
        }
    }

    static let maxBody = 1 << 20

    /// Sends the request and returns the response if its status is 2xx; otherwise throws
    /// `.httpStatus` with the OAuth `error` code when the body is a JSON error object.
    static func fetch(method: String, url: String, headers: [(String, String)] = [], body: [UInt8] = [],
                      caFile: String?, timeout: Int32, context: String) throws(OIDCError) -> Response {
        let r = try send(method: method, url: url, headers: headers, body: body, caFile: caFile, timeout: timeout, context: context)
        guard (200...299).contains(r.status) else {
            throw .httpStatus(context: context, status: r.status, oauthError: oauthErrorCode(r.body))
        }
        return r
    }

    /// The OAuth 2.0 `error` code of a JSON error body (RFC 6749 §5.2), if it is a plausible one.
    static func oauthErrorCode(_ body: [UInt8]) -> String? {
        guard let code = StrictJSON.parse(body)?["error"]?.stringValue, !code.isEmpty, code.utf8.count <= 64,
              code.utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7e && $0 != 0x22 && $0 != 0x5c }) else { return nil }
        return code
    }

    /// One request/response exchange; any status is returned.
    static func send(method: String, url: String, headers: [(String, String)], body: [UInt8],
                     caFile: String?, timeout: Int32, context: String) throws(OIDCError) -> Response {
        let u: HTTPSURL
        switch HTTPSURL.parse(url) {
        case .success(let v): u = v
        case .failure(let why): throw .invalidURL(context: context, reason: why.reason)
        }
        let deadline = Clock.now() + Int64(max(timeout, 1)) * 1000
        let fd = try connect(u, deadline: deadline, context: context)
        defer { close(fd) }
        let conn = try TLSConnection(fd: fd, url: u, caFile: caFile, deadline: deadline, context: context)
        defer { conn.free() }

        var request = "\(method) \(u.target) HTTP/1.1\r\nHost: \(u.hostHeader)\r\nConnection: close\r\n"
        request += "Accept: application/json\r\nUser-Agent: drawbridge\r\n"
        for (k, v) in headers { request += "\(k): \(v)\r\n" }
        if !body.isEmpty || method == "POST" { request += "Content-Length: \(body.count)\r\n" }
        request += "\r\n"
        try conn.writeAll(Array(request.utf8) + body)
        return try readResponse(requestWasHEAD: method == "HEAD", context: context) { () throws(OIDCError) in try conn.read() }
    }

    // MARK: connect

    private static func connect(_ u: HTTPSURL, deadline: Int64, context: String) throws(OIDCError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var res: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(u.host, String(u.port), &hints, &res)
        guard rc == 0, let first = res else {
            throw .network(context: context, reason: "cannot resolve \(u.host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(first) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
            if fd < 0 { lastError = String(cString: strerror(errno)); continue }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var ok = Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0
            if !ok && errno == EINPROGRESS {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                var pr: Int32
                repeat {
                    let remaining = deadline - Clock.now()
                    pr = remaining > 0 ? poll(&pfd, 1, Int32(clamping: remaining)) : 0
                } while pr < 0 && errno == EINTR
                if pr == 0 {
                    lastError = "connect to \(u.hostHeader) timed out"
                } else if pr > 0 {
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                    if err == 0 { ok = true } else { lastError = "connect to \(u.hostHeader): \(String(cString: strerror(err)))" }
                } else {
                    lastError = "poll: \(String(cString: strerror(errno)))"
                }
            } else if !ok {
                lastError = "connect to \(u.hostHeader): \(String(cString: strerror(errno)))"
            }
            if ok {
                _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
                return fd
            }
            close(fd)
            if Clock.now() >= deadline { break }
        }
        throw .network(context: context, reason: lastError)
    }

    // MARK: response

    /// Reads one response with `read` (some bytes, or nil at the end of the stream): skips 1xx
    /// interim responses, then reads the body by its framing (Content-Length, chunked, or until
    /// close), refusing malformed framing, truncation and bodies over `maxBody`.
    static func readResponse(requestWasHEAD: Bool, context: String,
                             read: () throws(OIDCError) -> [UInt8]?) throws(OIDCError) -> Response {
        var buf: [UInt8] = []
        var parser = ResponseHeadParser()
        var head = ResponseHead()
        var bodyStart: Int? = nil
        var body: [UInt8] = []
        var chunked = ChunkedDecoder()
        var chunkOffset = 0
        var eof = false
        var headers: [(name: String, value: String)] = []
        var interim = 0

        func bad(_ why: String) -> OIDCError { .invalidResponse(context: context, reason: why) }

        while true {
            // Act on what is buffered.
            while bodyStart == nil {
                let r = buf.withUnsafeBytes { parser.parse($0, requestWasHEAD: requestWasHEAD, into: &head) }
                switch r {
                case .needMore:
                    if eof { throw bad(buf.isEmpty ? "connection closed without a response" : "connection closed in the response head") }
                case .error(let e):
                    throw bad("malformed HTTP response: \(e.detail)")
                case .complete:
                    if head.status >= 100 && head.status < 200 && head.status != 101 {
                        // A drip of interim responses must not hold a provider job thread (same bound as the proxy).
                        interim += 1
                        if interim > ResponseHead.maxInterimResponses { throw bad("more than \(ResponseHead.maxInterimResponses) interim responses") }
                        buf.removeFirst(head.headLength)   // interim response: the final one follows
                        parser.reset()
                        continue
                    }
                    bodyStart = head.headLength
                    chunkOffset = head.headLength
                    headers = head.fields.map { f in
                        (String(decoding: head.bytes[f.name], as: UTF8.self), String(decoding: head.bytes[f.value], as: UTF8.self))
                    }
                }
                if bodyStart == nil { break }
            }
            if let start = bodyStart {
                switch head.framing {
                case .none:
                    return Response(status: head.status, headers: headers, body: [])
                case .contentLength(let n):
                    guard n <= UInt64(maxBody) else { throw bad("response body too large") }
                    if buf.count - start >= Int(n) { return Response(status: head.status, headers: headers, body: Array(buf[start..<start + Int(n)])) }
                    if eof { throw bad("connection closed in the response body") }
                case .chunked:
                    var done = false
                    var decodeError: HTTPError? = nil
                    buf.withUnsafeBytes { b in
                        loop: while true {
                            switch chunked.next(b, offset: &chunkOffset) {
                            case .data(let r): body.append(contentsOf: b[r])
                            case .needMore: break loop
                            case .end: done = true; break loop
                            case .error(let e): decodeError = e; break loop
                            }
                        }
                    }
                    if let e = decodeError { throw bad("malformed chunked body: \(e.detail)") }
                    if body.count > maxBody { throw bad("response body too large") }
                    if done { return Response(status: head.status, headers: headers, body: body) }
                    if eof { throw bad("connection closed in the chunked body") }
                case .untilClose:
                    if buf.count - start > maxBody { throw bad("response body too large") }
                    if eof { return Response(status: head.status, headers: headers, body: Array(buf[start...])) }
                }
            }
            if buf.count > 2 * maxBody + 64 * 1024 { throw bad("response too large") }
            switch try read() {
            case .some(let bytes): buf.append(contentsOf: bytes)
            case .none: eof = true
            }
        }
    }
}

/// Milliseconds on the monotonic clock.
enum Clock {
    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// One client TLS session over a connected blocking socket; every operation is bounded by the
/// deadline (socket timeouts are set to the time left before each call).
private final class TLSConnection {
    private let ctx: OpaquePointer
    private let ssl: OpaquePointer
    private let fd: Int32
    private let deadline: Int64
    private let context: String

    init(fd: Int32, url: HTTPSURL, caFile: String?, deadline: Int64, context: String) throws(OIDCError) {
        self.fd = fd
        self.deadline = deadline
        self.context = context
        ERR_clear_error()
        guard let c = SSL_CTX_new(TLS_client_method()) else { throw .tls(context: context, reason: "cannot create context: \(Self.drainErrors())") }
        guard COpenSSL_CTX_set_min_proto(c, COpenSSL_TLS1_2_VERSION()) == 1 else {
            SSL_CTX_free(c)
            throw .tls(context: context, reason: "cannot set the minimum protocol version")
        }
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nil)
        let loaded: Int32
        if let caFile, !caFile.isEmpty {
            loaded = SSL_CTX_load_verify_locations(c, caFile, nil)
        } else {
            loaded = SSL_CTX_set_default_verify_paths(c)
        }
        guard loaded == 1 else {
            SSL_CTX_free(c)
            throw .tls(context: context, reason: "cannot load CA certificates\(caFile.map { " from \($0)" } ?? ""): \(Self.drainErrors())")
        }
        guard let s = SSL_new(c) else {
            SSL_CTX_free(c)
            throw .tls(context: context, reason: "cannot create session: \(Self.drainErrors())")
        }
        ctx = c
        ssl = s
        var ok = SSL_set_fd(s, fd) == 1
        if url.isIPLiteral {
            // RFC 6066: no SNI for IP literals; the certificate must carry the address as an IP SAN.
            ok = ok && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), url.host) == 1
        } else {
            ok = ok && COpenSSL_set_tlsext_host_name(s, url.host) == 1
            SSL_set_hostflags(s, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            ok = ok && SSL_set1_host(s, url.host) == 1
        }
        guard ok else {
            let why = Self.drainErrors()
            free()
            throw .tls(context: context, reason: "cannot set up the session: \(why)")
        }
        while true {
            try applyTimeouts()
            let r = SSL_connect(s)
            if r == 1 { break }
            let err = SSL_get_error(s, r)
            let savedErrno = errno
            let verify = SSL_get_verify_result(s)
            let queued = Self.drainErrors()
            if err == COpenSSL_ERROR_SYSCALL() && savedErrno == EINTR { continue }
            free()
            if verify != Int(X509_V_OK) {
                throw .tls(context: context, reason: "certificate verify failed: \(String(cString: X509_verify_cert_error_string(verify)))")
            }
            if err == COpenSSL_ERROR_WANT_READ() || err == COpenSSL_ERROR_WANT_WRITE() || savedErrno == EAGAIN {
                throw .network(context: context, reason: "TLS handshake timed out")
            }
            throw .tls(context: context, reason: "handshake failed: \(queued.isEmpty ? String(cString: strerror(savedErrno)) : queued)")
        }
    }

    private var freed = false
    func free() {
        if freed { return }
        freed = true
        SSL_free(ssl)
        SSL_CTX_free(ctx)
        ERR_clear_error()
    }

    private func applyTimeouts() throws(OIDCError) {
        let remaining = deadline - Clock.now()
        guard remaining > 0 else { throw .network(context: context, reason: "timed out") }
        var tv = timeval(tv_sec: Int(remaining / 1000), tv_usec: Int(remaining % 1000) * 1000)
        let n = socklen_t(MemoryLayout<timeval>.size)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, n)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, n)
    }

    func writeAll(_ bytes: [UInt8]) throws(OIDCError) {
        var off = 0
        while off < bytes.count {
            try applyTimeouts()
            let r = bytes[off...].withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
            if r > 0 { off += Int(r); continue }
            let err = SSL_get_error(ssl, r)
            let savedErrno = errno
            let queued = Self.drainErrors()
            if err == COpenSSL_ERROR_SYSCALL() && savedErrno == EINTR { continue }
            if err == COpenSSL_ERROR_WANT_READ() || err == COpenSSL_ERROR_WANT_WRITE() || savedErrno == EAGAIN {
                throw .network(context: context, reason: "write timed out")
            }
            throw .network(context: context, reason: "write failed: \(queued.isEmpty ? String(cString: strerror(savedErrno)) : queued)")
        }
    }

    /// Some bytes, or nil at the end of the stream. A close without close_notify also counts as
    /// the end: the HTTP framing (Content-Length, chunked) detects truncation, and a body that
    /// runs until close must still parse as JSON.
    func read() throws(OIDCError) -> [UInt8]? {
        var tmp = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            try applyTimeouts()
            let r = tmp.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if r > 0 { return Array(tmp[0..<Int(r)]) }
            let err = SSL_get_error(ssl, r)
            let savedErrno = errno
            let code = ERR_peek_error()
            let queued = Self.drainErrors()
            if err == COpenSSL_ERROR_ZERO_RETURN() { return nil }
            if err == COpenSSL_ERROR_SYSCALL() {
                if savedErrno == EINTR { continue }
                if code == 0 && (r == 0 || savedErrno == 0) { return nil }
            }
            if err == SSL_ERROR_SSL && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING { return nil }
            if err == COpenSSL_ERROR_WANT_READ() || err == COpenSSL_ERROR_WANT_WRITE() || savedErrno == EAGAIN {
                throw .network(context: context, reason: "read timed out")
            }
            throw .network(context: context, reason: "read failed: \(queued.isEmpty ? String(cString: strerror(savedErrno)) : queued)")
        }
    }

    private static func drainErrors() -> String {
        var first = ""
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if first.isEmpty {
                var buf = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buf, buf.count)
                first = String(cString: buf)
            }
        }
        return first
    }
}
