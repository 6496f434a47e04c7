/// Validation of an authority `host[:port]` as found in Host and in absolute-form targets (RFC 9110 §7.2, RFC 3986 §3.2).
///
/// Stricter than RFC 3986: no userinfo, reg-name limited to ALPHA / DIGIT / "-" / "." / "_" / "~"
/// (no sub-delims, no percent-encoding), IP-literal limited to IPv6 (no IPvFuture, no zone), and
/// a port, when its colon is present, must be 1 to 5 digits not above 65535.
enum Authority {
    static func isValid(_ b: UnsafeRawBufferPointer, _ r: Range<Int>) -> Bool {
        guard !r.isEmpty else { return false }
        var i = r.lowerBound
        let end = r.upperBound
        if b[i] == 0x5B { // "[" IPv6address "]"
            i += 1
            var colons = 0
            while i < end && b[i] != 0x5D {
                let c = b[i]
                // only hex digits, ':' and '.' inside brackets: no zone ids, no IPvFuture (host confusion)
                guard ASCII.hexValue(c) != nil || c == ASCII.colon || c == 0x2E else { return false }
                if c == ASCII.colon { colons += 1 }
                i += 1
            }
            guard i < end, colons >= 2, i - r.lowerBound >= 3 else { return false }
            i += 1
        } else {
            let hostStart = i
            while i < end && b[i] != ASCII.colon {
                let c = b[i]
                // reject userinfo '@', sub-delims, '%': host-header confusion between gateway and backend
                guard ASCII.isAlpha(c) || ASCII.isDigit(c) || c == 0x2D || c == 0x2E || c == 0x5F || c == 0x7E else {
                    return false
                }
                i += 1
            }
            guard i > hostStart else { return false }
        }
        if i == end { return true }
        guard b[i] == ASCII.colon else { return false }
        i += 1
        let digits = end - i
        guard digits >= 1 && digits <= 5 else { return false }
        var port = 0
        while i < end {
            guard ASCII.isDigit(b[i]) else { return false }
            port = port * 10 + Int(b[i] &- 0x30)
            i += 1
        }
        return port <= 65535
    }
}
