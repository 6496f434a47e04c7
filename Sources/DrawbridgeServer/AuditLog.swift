import Glibc

/// The audit log: sign-ins, sign-outs, lockouts and refused credentials as JSON lines, apart from
/// the access log. Each event is one write(2) on an O_APPEND descriptor, so lines from several
/// threads never interleave and no lock is taken. Never given a password, token or secret.
final class AuditLog: @unchecked Sendable {
    private let fd: Int32

    init(fd: Int32) { self.fd = fd }

    var enabled: Bool { fd >= 0 }

    /// `fields` in order after "time" and "event"; nil values are left out.
    func record(_ event: String, _ fields: [(String, String?)]) {
        guard fd >= 0 else { return }
        var line = "{\"time\":\"\(Self.timestamp())\",\"event\":\(Self.quote(event))"
        for (k, v) in fields {
            guard let v else { continue }
            line += ",\(Self.quote(k)):\(Self.quote(v))"
        }
        line += "}\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
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
