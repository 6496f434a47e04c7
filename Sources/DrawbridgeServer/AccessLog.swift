import CLinux
import DrawbridgeCrypto
import DrawbridgeHTTP
import Glibc

/// Access log as JSON lines, one buffer per worker, written once per loop iteration.
/// Never logs cookies, Authorization, bodies or query strings (queries carry tokens).
///
/// A line never exceeds `LogSink.maxWrite` (PIPE_BUF, 4096 bytes): the fields a client chooses
/// (method, path) and the upstream label are cut to fixed budgets, and a cut line says
/// `"truncated":true`. So every line fits in one atomic write, and two workers' lines never
/// interleave, on a pipe as in a file.
final class AccessLog {
    let sink: LogSink
    private var buf: [UInt8] = []
    private var lastSecond: Int = -1
    private var secondText: [UInt8] = []

    /// Escaped bytes allowed per field; with the fixed fields (under 300 bytes) a line stays
    /// under 4096 whatever the request.
    static let pathBudget = 3072, methodBudget = 64, clientBudget = 64, upstreamBudget = 320

    init(sink: LogSink) {
        self.sink = sink
        buf.reserveCapacity(16384)
    }

    var enabled: Bool { sink.enabled }

    struct Entry {
        var requestId: UnsafeRawBufferPointer // 32 hex digits
        var client: UnsafeRawBufferPointer
        var method: UnsafeRawBufferPointer
        var path: UnsafeRawBufferPointer
        var status: Int
        var bytes: UInt64
        var durationNs: UInt64
        var upstream: [UInt8]?
        var upstreamNs: UInt64?
    }

    func log(_ e: Entry) {
        guard sink.enabled else { return }
        var whole = true
        buf.append(contentsOf: #"{"time":""#.utf8)
        appendTime()
        buf.append(contentsOf: #"","request_id":""#.utf8)
        buf.append(contentsOf: e.requestId)
        buf.append(contentsOf: #"","client":""#.utf8)
        whole = JSONString.appendEscaped(e.client, to: &buf, limit: Self.clientBudget) && whole
        buf.append(contentsOf: #"","method":""#.utf8)
        whole = JSONString.appendEscaped(e.method, to: &buf, limit: Self.methodBudget) && whole
        buf.append(contentsOf: #"","path":""#.utf8)
        whole = JSONString.appendEscaped(e.path, to: &buf, limit: Self.pathBudget) && whole
        buf.append(contentsOf: #"","status":"#.utf8)
        ASCII.appendDecimal(UInt64(e.status), to: &buf)
        buf.append(contentsOf: #","bytes":"#.utf8)
        ASCII.appendDecimal(e.bytes, to: &buf)
        buf.append(contentsOf: #","duration_ms":"#.utf8)
        appendMillis(e.durationNs)
        if let u = e.upstream {
            buf.append(contentsOf: #","upstream":""#.utf8)
            whole = u.withUnsafeBytes { JSONString.appendEscaped($0, to: &buf, limit: Self.upstreamBudget) } && whole
            buf.append(contentsOf: #"","upstream_ms":"#.utf8)
            appendMillis(e.upstreamNs ?? 0)
        }
        if !whole { buf.append(contentsOf: #","truncated":true"#.utf8) }
        buf.append(contentsOf: "}\n".utf8)
        if buf.count > 12288 { flush() }
    }

    /// Writes the buffered lines in writes of less than `LogSink.maxWrite` bytes (room for the
    /// newline that ends a torn line), each made of whole lines (every line is shorter than that),
    /// so lines of several workers never interleave.
    func flush() {
        guard !buf.isEmpty, sink.enabled else { return }
        buf.withUnsafeBytes { raw in
            var start = 0
            while start < raw.count {
                var end = min(raw.count, start + LogSink.maxWrite - 1)
                if end < raw.count {
                    var cut = end
                    while cut > start && raw[cut - 1] != 10 { cut -= 1 }
                    end = cut > start ? cut : end   // (a line longer than maxWrite cannot be built)
                }
                let chunk = UnsafeRawBufferPointer(rebasing: raw[start..<end])
                if !sink.write(chunk) { sink.lost(lines: chunk.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }) }
                start = end
            }
        }
        buf.removeAll(keepingCapacity: true)
    }

    private func appendMillis(_ ns: UInt64) {
        let us = ns / 1000
        ASCII.appendDecimal(us / 1000, to: &buf)
        buf.append(UInt8(ascii: "."))
        let frac = us % 1000
        buf.append(UInt8(48 + frac / 100)); buf.append(UInt8(48 + frac / 10 % 10)); buf.append(UInt8(48 + frac % 10))
    }

    /// RFC 3339 UTC with milliseconds; the date part is formatted once per second.
    private func appendTime() {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let sec = Int(ts.tv_sec)
        if sec != lastSecond {
            lastSecond = sec
            secondText = Array(AccessLog.civil(sec).utf8)
        }
        buf.append(contentsOf: secondText)
        let ms = Int(ts.tv_nsec) / 1_000_000
        buf.append(UInt8(ascii: "."))
        buf.append(UInt8(48 + ms / 100)); buf.append(UInt8(48 + ms / 10 % 10)); buf.append(UInt8(48 + ms % 10))
        buf.append(UInt8(ascii: "Z"))
    }

    /// "YYYY-MM-DDTHH:MM:SS" for a Unix time (days-from-civil inverse, proleptic Gregorian).
    static func civil(_ t: Int) -> String {
        let days = t >= 0 ? t / 86400 : (t - 86399) / 86400
        let rem = t - days * 86400
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d))T\(two(rem / 3600)):\(two(rem / 60 % 60)):\(two(rem % 60))"
    }
}

extension AccessLog {
    /// The line of one request: the judged path when there is one (never the query), else the
    /// raw target's path (a request refused before its path was judged).
    func log(_ request: RequestView, requestId: [UInt8], client: [UInt8], status: Int, bytes: UInt64, durationNs: UInt64,
             upstream: [UInt8]?, upstreamNs: UInt64?) {
        let head = request.head
        let useNormalized = !request.target.isEmpty
        let rawPathEnd = head.bytes[head.target].firstIndex(of: UInt8(ascii: "?")) ?? head.target.upperBound
        head.bytes.withUnsafeBytes { raw in
            request.target.withUnsafeBytes { norm in
                client.withUnsafeBytes { ip in
                    requestId.withUnsafeBytes { rid in
                        log(Entry(requestId: rid, client: ip, method: UnsafeRawBufferPointer(rebasing: raw[head.method]),
                                  path: useNormalized ? UnsafeRawBufferPointer(rebasing: norm[0..<request.pathLength])
                                                      : UnsafeRawBufferPointer(rebasing: raw[head.target.lowerBound..<rawPathEnd]),
                                  status: status, bytes: bytes, durationNs: durationNs, upstream: upstream, upstreamNs: upstreamNs))
                    }
                }
            }
        }
    }
}
