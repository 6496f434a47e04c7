import DrawbridgeConfig
import DrawbridgeCrypto
import DrawbridgeHTTP
import Synchronization

/// A field of an error log line.
enum LogValue {
    case text(String)
    case bytes([UInt8])
    case number(Int)
}

/// The fields of an error log line, in order (a dictionary literal at the call site).
struct LogFields: ExpressibleByDictionaryLiteral {
    var items: [(key: StaticString, value: LogValue)]
    init(dictionaryLiteral elements: (StaticString, LogValue)...) { items = elements.map { (key: $0.0, value: $0.1) } }
    mutating func add(_ key: StaticString, _ value: LogValue) { items.append((key: key, value: value)) }
}

/// One error log line, JSON as the access log's: `{"time":…,"level":…,"event":…,"message":…,
/// fields…}`. The message and each field are cut to budgets (a cut line says `"truncated":true`),
/// so a line stays under `LogSink.maxWrite` and goes out in one atomic write.
enum ErrorLine {
    static let messageBudget = 2048, fieldBudget = 256, maxFields = 6

    static func append(to buf: inout [UInt8], clock: inout LogClock, level: LogLevel, event: StaticString, message: String,
                       fields: LogFields) {
        var whole = true
        buf.append(contentsOf: #"{"time":""#.utf8)
        clock.append(to: &buf)
        buf.append(contentsOf: #"","level":""#.utf8)
        buf.append(contentsOf: level.name.utf8)
        buf.append(contentsOf: #"","event":""#.utf8)
        event.withUTF8Buffer { buf.append(contentsOf: $0) }
        buf.append(contentsOf: #"","message":""#.utf8)
        whole = escaped(message, into: &buf, limit: messageBudget) && whole
        buf.append(UInt8(ascii: "\""))
        for (key, value) in fields.items.prefix(maxFields) {
            buf.append(contentsOf: #",""#.utf8)
            key.withUTF8Buffer { buf.append(contentsOf: $0) }
            buf.append(contentsOf: #"":"#.utf8)
            switch value {
            case .number(let n):
                if n < 0 { buf.append(UInt8(ascii: "-")) }
                ASCII.appendDecimal(UInt64(n.magnitude), to: &buf)
            case .text(let s):
                buf.append(UInt8(ascii: "\""))
                whole = escaped(s, into: &buf, limit: fieldBudget) && whole
                buf.append(UInt8(ascii: "\""))
            case .bytes(let b):
                buf.append(UInt8(ascii: "\""))
                whole = b.withUnsafeBytes { JSONString.appendEscaped($0, to: &buf, limit: fieldBudget) } && whole
                buf.append(UInt8(ascii: "\""))
            }
        }
        if !whole { buf.append(contentsOf: #","truncated":true"#.utf8) }
        buf.append(contentsOf: "}\n".utf8)
    }

    private static func escaped(_ s: String, into buf: inout [UInt8], limit: Int) -> Bool {
        var s = s
        return s.withUTF8 { JSONString.appendEscaped(UnsafeRawBufferPointer($0), to: &buf, limit: limit) }
    }
}

/// The error and event log (`errorLog`, `errorLogLevel`): failures (upstreams refusing, timing
/// out, failing TLS), degradations (servers marked down, descriptors or connection limits
/// reached) and the lifecycle (start, signals, reloads, stop), as nginx's error_log. Shared by
/// every thread; the main thread and job threads write a line at a time here, the workers buffer
/// theirs (`ErrorLogBuffer`) and write them with their access log lines, once per loop iteration.
final class ErrorLog: Sendable {
    let sink: LogSink
    private let level: Atomic<Int>

    init(sink: LogSink, level: LogLevel) {
        self.sink = sink
        self.level = Atomic(level.rawValue)
    }

    /// The level applies at a reload (the target takes a restart).
    func setLevel(_ l: LogLevel) { level.store(l.rawValue, ordering: .relaxed) }

    /// One relaxed load: whether a line of this level is written.
    @inline(__always) func wants(_ l: LogLevel) -> Bool { l.rawValue <= level.load(ordering: .relaxed) }

    /// Writes one line now (off the workers: builds it in a buffer of its own).
    func write(_ l: LogLevel, _ event: StaticString, _ message: String, _ fields: LogFields = [:]) {
        guard wants(l) else { return }
        var buf: [UInt8] = []
        var clock = LogClock()
        ErrorLine.append(to: &buf, clock: &clock, level: l, event: event, message: message, fields: fields)
        sink.writeLines(buf)
    }

    /// A line in the gateway's text form, "drawbridge: [error: |warning: ]what happened": the
    /// prefix gives the level and is left out of the message.
    func text(_ event: StaticString, _ line: String) {
        var m = Substring(line)
        var l = LogLevel.info
        if m.hasPrefix("drawbridge: ") { m = m.dropFirst(12) }
        if m.hasPrefix("error: ") { l = .error; m = m.dropFirst(7) } else if m.hasPrefix("warning: ") { l = .warn; m = m.dropFirst(9) }
        write(l, event, String(m))
    }

    /// A `log` closure for a component whose lines are all of one kind of event.
    func logger(_ event: StaticString) -> @Sendable (String) -> Void {
        { [self] in text(event, $0) }
    }
}

/// A worker's error log lines, buffered and written with its access log lines once per loop
/// iteration. Nothing is built for a level that is not logged; lines clients can cause at will
/// (failed TLS handshakes, connections over the limit) are rate-limited per worker.
final class ErrorLogBuffer {
    let log: ErrorLog
    private var buf: [UInt8] = []
    private var clock = LogClock()
    /// TLS handshake failures: at most one line per second per worker (nginx logs them at info).
    var handshakeFailures = RateLimit()
    /// Connections closed at once over `limits.maxConnectionsPerWorker`.
    var connectionLimit = RateLimit()

    init(log: ErrorLog) { self.log = log }

    @inline(__always) func wants(_ l: LogLevel) -> Bool { log.wants(l) }

    func event(_ l: LogLevel, _ event: StaticString, _ message: @autoclosure () -> String,
               _ fields: @autoclosure () -> LogFields = [:]) {
        guard log.wants(l) else { return }
        ErrorLine.append(to: &buf, clock: &clock, level: l, event: event, message: message(), fields: fields())
        if buf.count > 12288 { flush(now: 0) }
    }

    /// Writes the buffered lines, after the summaries of rate-limited lines that are due.
    func flush(now: UInt64) {
        if now > 0 {
            if let n = handshakeFailures.summaryDue(now: now) {
                event(.info, "tls_handshake_failed", "\(n) more TLS handshake failure\(n == 1 ? "" : "s") not logged "
                      + "(at most one line per second per worker)", ["suppressed": .number(n)])
            }
            if let n = connectionLimit.summaryDue(now: now) {
                event(.warn, "connection_limit", "\(n) more connection\(n == 1 ? "" : "s") closed at once over "
                      + "limits.maxConnectionsPerWorker (at most one line per second per worker)", ["suppressed": .number(n)])
            }
        }
        guard !buf.isEmpty else { return }
        log.sink.writeLines(buf)
        buf.removeAll(keepingCapacity: true)
    }
}

/// At most one line per second for one kind of event; the ones in between are counted and said
/// in a summary line once the second is over. nginx logs every failed handshake (at info); a
/// limit per worker keeps a scanner or a flood from filling the disk with them.
struct RateLimit {
    static let intervalNs: UInt64 = 1_000_000_000
    private var lastLineAt: UInt64 = 0
    private var suppressed = 0

    /// Whether this occurrence gets its line (false: counted, for the summary line).
    mutating func admit(now: UInt64) -> Bool {
        // A count still unsaid waits for its summary (at the next flush): this one joins it.
        guard suppressed == 0, lastLineAt == 0 || now &- lastLineAt >= Self.intervalNs else {
            suppressed += 1
            return false
        }
        lastLineAt = now
        return true
    }

    /// The count to say in a summary line, once the second after the last line is over.
    mutating func summaryDue(now: UInt64) -> Int? {
        guard suppressed > 0, now &- lastLineAt >= Self.intervalNs else { return nil }
        defer { suppressed = 0; lastLineAt = now }
        return suppressed
    }
}
