import Glibc

/// A blocking socket with one fixed read buffer. The buffer also bounds the request head:
/// a head that does not fit in it is answered with 431.
final class Connection {
    static let bufferSize = 64 * 1024
    /// Longest chunk-size or trailer line accepted in a chunked body.
    static let maxLineLength = 8 * 1024

    let fd: Int32
    private let buf: UnsafeMutablePointer<UInt8>
    private var start = 0  // first unread byte
    private var end = 0    // one past the last buffered byte

    init(fd: Int32) {
        self.fd = fd
        buf = .allocate(capacity: Connection.bufferSize)
    }

    deinit { buf.deallocate() }

    // MARK: Reading

    /// Reads more bytes, compacting the buffer first when that makes room.
    /// False on EOF, on a read error, or when the buffer is full of unread bytes.
    private func fill() -> Bool {
        if start == end {
            start = 0; end = 0
        } else if end == Connection.bufferSize && start > 0 {
            memmove(buf, buf + start, end - start)
            end -= start; start = 0
        }
        if end == Connection.bufferSize { return false }
        while true {
            let n = recv(fd, buf + end, Connection.bufferSize - end, 0)
            if n > 0 { end += n; return true }
            if n < 0 && errno == EINTR { continue }
            return false
        }
    }

    enum HeadResult {
        case head([UInt8])  // request line and header lines, without the terminating blank line
        case closed         // EOF, error, or EOF in the middle of a head
        case tooLarge
    }

    /// Reads up to and including the blank line that ends a request head (CRLF CRLF, bare LF
    /// tolerated). Empty lines before the request line are skipped (RFC 9112 section 2.2).
    func readHead() -> HeadResult {
        var scanned = 0  // bytes after `start` known not to contain the end of the head
        while true {
            while start < end && (buf[start] == 13 || buf[start] == 10) { start += 1; scanned = 0 }
            var i = start + scanned
            while i < end {
                if buf[i] == 10 {
                    if i + 1 == end { break }
                    if buf[i + 1] == 10 { return .head(take(upTo: i + 1, consume: i + 2)) }
                    if buf[i + 1] == 13 {
                        if i + 2 == end { break }
                        if buf[i + 2] == 10 { return .head(take(upTo: i + 1, consume: i + 3)) }
                    }
                }
                i += 1
            }
            scanned = i - start
            if start == 0 && end == Connection.bufferSize { return .tooLarge }
            if !fill() { return .closed }
        }
    }

    private func take(upTo limit: Int, consume next: Int) -> [UInt8] {
        let bytes = Array(UnsafeBufferPointer(start: buf + start, count: limit - start))
        start = next
        return bytes
    }

    /// One line (without CR LF), for chunk sizes and trailers. Nil on EOF or an over-long line.
    func readLine() -> [UInt8]? {
        var scanned = 0
        while true {
            var i = start + scanned
            while i < end {
                if buf[i] == 10 {
                    var stop = i
                    if stop > start && buf[stop - 1] == 13 { stop -= 1 }
                    return take(upTo: stop, consume: i + 1)
                }
                i += 1
            }
            scanned = i - start
            if scanned > Connection.maxLineLength { return nil }
            if !fill() { return nil }
        }
    }

    /// Passes exactly `count` bytes to `sink`, in pieces as they arrive. False on early EOF.
    func read(count: UInt64, _ sink: (UnsafeBufferPointer<UInt8>) -> Void) -> Bool {
        var remaining = count
        while remaining > 0 {
            if start == end && !fill() { return false }
            let n = Int(min(remaining, UInt64(end - start)))
            sink(UnsafeBufferPointer(start: buf + start, count: n))
            start += n
            remaining -= UInt64(n)
        }
        return true
    }

    /// Reads exactly `count` bytes (small counts only: frame headers, masks).
    func readBytes(_ count: Int) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        guard read(count: UInt64(count), { out.append(contentsOf: $0) }) else { return nil }
        return out
    }

    // MARK: Writing

    func write(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { write($0) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard var p = bytes.baseAddress else { return true }
        var left = bytes.count
        while left > 0 {
            let n = send(fd, p, left, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            p += n
            left -= n
        }
        return true
    }

    // MARK: Closing

    /// Graceful close: stop sending, then drain what the peer still sends (for at most a couple of
    /// seconds) so that closing with unread input does not turn into an RST that destroys the
    /// response in flight.
    func closeGracefully() {
        shutdown(fd, Int32(SHUT_WR))
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var drained = 0
        while drained < 4 * 1024 * 1024 {
            let n = recv(fd, buf, Connection.bufferSize, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            drained += n
        }
        Glibc.close(fd)
    }

    /// Abortive close: SO_LINGER 0 makes the kernel send RST instead of FIN.
    func reset() {
        var lin = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, socklen_t(MemoryLayout<linger>.size))
        Glibc.close(fd)
    }
}
