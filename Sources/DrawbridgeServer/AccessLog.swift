import CLinux
import DrawbridgeCrypto
import DrawbridgeDecision
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
    private var clock = LogClock()

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
        clock.append(to: &buf)
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

    /// Writes the buffered lines (see `LogSink.writeLines`).
    func flush() {
        guard !buf.isEmpty, sink.enabled else { return }
        sink.writeLines(buf)
        buf.removeAll(keepingCapacity: true)
    }

    private func appendMillis(_ ns: UInt64) {
        let us = ns / 1000
        ASCII.appendDecimal(us / 1000, to: &buf)
        buf.append(UInt8(ascii: "."))
        let frac = us % 1000
        buf.append(UInt8(48 + frac / 100)); buf.append(UInt8(48 + frac / 10 % 10)); buf.append(UInt8(48 + frac % 10))
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
