import Foundation
import Glibc

/// A plain-HTTP upstream on a free loopback port whose behaviour per request is chosen by the
/// test: answer (keep-alive, body = its name), close the connection without answering (what a
/// stale keep-alive connection looks like to the gateway), hold the request until released, or
/// send exactly the bytes given (with pauses between them).
/// It records every request line it reads, so a test can tell which upstream got what.
/// Bodiless requests only (it reads heads).
final class ScriptedUpstream: @unchecked Sendable {
    enum Action {
        case answer, close, hold, send([Part])
        /// These exact bytes instead of the usual answer (then the next head is read, so what a
        /// client sends after a fake `101` shows up as a request).
        static func raw(_ bytes: String) -> Action { .send([.bytes(bytes)]) }
    }
    /// A step of `.send`: bytes (each character one byte, U+0000–U+00FF), a pause, or closing the
    /// connection. Without `.close` the connection reads the next request afterwards.
    enum Part { case bytes(String), pause(milliseconds: Int), close }
    let name: String
    let port: UInt16
    private let listenFd: Int32
    private let lock = NSLock()
    private var requests: [String] = []
    private var connections = 0
    private var heads: [String] = []
    /// Chooses what to do with the n-th request (0-based) of a connection.
    private var script: @Sendable (_ n: Int, _ requestLine: String) -> Action = { _, _ in .answer }
    private let held = DispatchSemaphore(value: 0)
    private let heldArrived = DispatchSemaphore(value: 0)
    private var stopped = false

    init(name: String) throws {
        self.name = name
        let listenFd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listenFd = listenFd
        var one: Int32 = 1
        setsockopt(listenFd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFd, $0, len) } }
        guard bound == 0, listen(listenFd, 128) == 0 else { throw TestFailure("scripted upstream: bind/listen failed: errno \(errno)") }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFd, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        let t = Thread { self.acceptLoop() } // holds self until stop()
        t.stackSize = 1 << 20
        t.start()
    }

    /// Stops accepting (call when the test is done; connections end when the gateway closes them).
    func stop() {
        lock.lock(); let was = stopped; stopped = true; lock.unlock()
        // Only shut down here (accept fails at once); the accept loop closes the descriptor when it
        // leaves, so it never calls accept on a number another test has reopened since.
        if !was { shutdown(listenFd, Int32(SHUT_RDWR)) }
    }

    /// Replaces the script for requests read from now on.
    func setScript(_ s: @escaping @Sendable (_ n: Int, _ requestLine: String) -> Action) {
        lock.lock(); script = s; lock.unlock()
    }

    /// Request lines read so far ("GET /a/1 HTTP/1.1").
    var received: [String] {
        lock.lock(); defer { lock.unlock() }
        return requests
    }

    /// Connections accepted so far.
    var accepted: Int {
        lock.lock(); defer { lock.unlock() }
        return connections
    }

    /// The answer of `.answer` (keep-alive, Content-Length, body = the upstream's name).
    var answer: String { "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(name.utf8.count)\r\n\r\n\(name)" }


    /// Whole request heads read so far, as sent by the gateway.
    var receivedHeads: [String] {
        lock.lock(); defer { lock.unlock() }
        return heads
    }

    /// Waits until a request with action `.hold` has been read (an event, not a delay).
    func waitForHeldRequest(timeout: Double = 20) throws {
        guard heldArrived.wait(timeout: .now() + timeout) == .success else { throw TestFailure("\(name): no held request arrived") }
    }

    /// Lets one held request go on: its connection is closed without an answer (`answer: false`)
    /// or answered.
    private var releaseAnswers: [Bool] = []
    func release(answer: Bool) {
        lock.lock(); releaseAnswers.append(answer); lock.unlock()
        held.signal()
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFd, nil, nil)
            if fd < 0 {
                lock.lock(); let s = stopped; lock.unlock()
                if s { close(listenFd); return }
                continue
            }
            lock.lock(); connections += 1; lock.unlock()
            let t = Thread { self.serve(fd) }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    private static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) == $0.count }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        var n = 0
        while true {
            while pending.firstRange(of: [13, 10, 13, 10]) == nil {
                let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if got <= 0 { return }
                pending += buffer[0..<got]
            }
            let end = pending.firstRange(of: [13, 10, 13, 10])!.upperBound
            let head = String(decoding: pending[0..<end], as: UTF8.self)
            pending.removeFirst(end)
            let line = String(head.prefix { $0 != "\r" })
            lock.lock()
            requests.append(line)
            heads.append(head)
            let action = script(n, line)
            lock.unlock()
            n += 1
            switch action {
            case .close:
                return
            case .hold:
                heldArrived.signal()
                held.wait()
                lock.lock(); let answer = releaseAnswers.isEmpty ? false : releaseAnswers.removeFirst(); lock.unlock()
                if !answer { return }
            case .answer:
                break
            case .send(let parts):
                for part in parts {
                    switch part {
                    case .bytes(let text): if !Self.write(fd, text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }) { return }
                    case .pause(let ms): usleep(useconds_t(ms * 1000))
                    case .close: return
                    }
                }
                continue
            }
            if !Self.write(fd, Array(answer.utf8)) { return }
        }
    }
}
