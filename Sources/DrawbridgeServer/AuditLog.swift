import DrawbridgeCrypto
import Glibc

/// The audit log: sign-ins, sign-outs, lockouts and refused credentials as JSON lines, apart from
/// the access log. Each event is one write(2) of one line of less than `LogSink.maxWrite`
/// (PIPE_BUF) bytes, so lines from several threads never interleave and no lock is taken: a
/// value is cut at `valueBudget` escaped bytes, and fields that would not fit are left out; a cut
/// line says `"truncated":true`. Never given a password, token or secret.
final class AuditLog: @unchecked Sendable {
    let sink: LogSink
    static let valueBudget = 512

    init(sink: LogSink) { self.sink = sink }

    var enabled: Bool { sink.enabled }

    /// `fields` in order after "time" and "event"; nil values are left out.
    func record(_ event: String, _ fields: [(String, String?)]) {
        MetricsRegistry.shared.audited(event, fields) // metrics: sign-ins and lockouts
        guard sink.enabled else { return }
        var line: [UInt8] = []
        line.reserveCapacity(512)
        line.append(contentsOf: "{\"time\":\"\(Self.timestamp())\",\"event\":".utf8)
        var whole = Self.appendValue(event, to: &line)
        for (k, v) in fields {
            guard let v else { continue }
            var field: [UInt8] = [UInt8(ascii: ",")]
            _ = Self.appendValue(k, to: &field)
            field.append(UInt8(ascii: ":"))
            whole = Self.appendValue(v, to: &field) && whole
            // Room for the marker and the end of the line.
            guard line.count + field.count + 20 < LogSink.maxWrite - 1 else { whole = false; continue }
            line += field
        }
        if !whole { line.append(contentsOf: #","truncated":true"#.utf8) }
        line.append(contentsOf: "}\n".utf8)
        line.withUnsafeBytes { if !sink.write($0) { sink.lost(lines: 1) } }
    }

    /// `"value"`, escaped and cut at `valueBudget`; false when cut.
    private static func appendValue(_ s: String, to out: inout [UInt8]) -> Bool {
        out.append(0x22)
        var copy = s
        let whole = copy.withUTF8 { JSONString.appendEscaped(UnsafeRawBufferPointer($0), to: &out, limit: valueBudget) }
        out.append(0x22)
        return whole
    }

    /// RFC 3339 UTC with milliseconds.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        func pad(_ v: Int32, _ n: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, n - s.count)) + s }
        return "\(pad(tmv.tm_year + 1900, 4))-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }
}

/// Wall-clock unix seconds (sessions and tokens carry wall-clock times).
@inline(__always) func unixNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(max(0, ts.tv_sec))
}
