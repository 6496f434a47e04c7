import Glibc

/// The time of a log line: RFC 3339 UTC with milliseconds; the date part is formatted once per
/// second. One per writer (a worker's access log, a worker's error log buffer).
struct LogClock {
    private var lastSecond: Int = -1
    private var secondText: [UInt8] = []

    mutating func append(to buf: inout [UInt8]) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let sec = Int(ts.tv_sec)
        if sec != lastSecond {
            lastSecond = sec
            secondText = Array(LogClock.civil(sec).utf8)
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
