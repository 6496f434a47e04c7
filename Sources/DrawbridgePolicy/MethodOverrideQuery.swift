/// Finds a `_method` parameter in a query string: Symfony and Laravel (and Express's
/// `method-override` when told to) take the method to run from it, so `POST /x?_method=DELETE` is
/// decided as POST here and runs as DELETE behind the gateway. A route declaring
/// `methodOverride: "refuse"` refuses such requests (docs/POLICY.md).
///
/// Matched the way the frameworks read names, and a little wider (refusing more is safe):
/// parameters split at `&` and `;`; the name percent-decoded once and `+` read as a space;
/// leading spaces skipped and a first `.`, space or `[` taken as `_` (PHP turns them into `_`);
/// letters compared case-insensitively; `_method[…]` (array syntax) counts too. The body is not
/// looked at: a `_method` form field in the body is not seen (the gateway does not buffer bodies).
enum MethodOverrideQuery {
    /// Whether `query` (the bytes after the path: empty, or `?` and the query as sent) carries a
    /// `_method` parameter. Allocation-free; one pass. Out of line: only routes that refuse call it.
    @inline(never)
    static func contains(_ query: UnsafeRawBufferPointer) -> Bool {
        let n = query.count
        var i = n > 0 && query[0] == UInt8(ascii: "?") ? 1 : 0
        while i < n {
            // One parameter: its name runs to "=", "&", ";" or the end.
            var nameEnd = i
            while nameEnd < n {
                let b = query[nameEnd]
                if b == UInt8(ascii: "=") || b == UInt8(ascii: "&") || b == UInt8(ascii: ";") { break }
                nameEnd += 1
            }
            if isMethodName(query, i, nameEnd) { return true }
            // Skip the value.
            i = nameEnd
            while i < n && query[i] != UInt8(ascii: "&") && query[i] != UInt8(ascii: ";") { i += 1 }
            i += 1
        }
        return false
    }

    /// Whether the name in `q[start..<end]`, decoded, reads `_method` or `_method[…`.
    @inline(__always)
    private static func isMethodName(_ q: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Bool {
        var i = start
        var matched = 0   // characters of "_method" seen so far
        while i < end {
            var c = q[i]
            i += 1
            if c == UInt8(ascii: "+") {
                c = 0x20
            } else if c == UInt8(ascii: "%"), i + 1 < end, let hi = hex(q[i]), let lo = hex(q[i + 1]) {
                c = hi << 4 | lo
                i += 2
            }
            switch matched {
            case 0:
                if c == 0x20 { continue }   // PHP drops leading spaces
                guard c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c == UInt8(ascii: "[") else { return false }
            case 1...6:
                let tail: StaticString = "method"
                guard c | 0x20 == tail.utf8Start[matched - 1] else { return false }
            default:
                // "_method" followed by more: only array syntax (or a NUL some parsers stop at) is the same name.
                return c == UInt8(ascii: "[") || c == 0
            }
            matched += 1
        }
        return matched == 7
    }

    @inline(__always)
    private static func hex(_ b: UInt8) -> UInt8? {
        if (b &- 0x30) < 10 { return b &- 0x30 }
        let l = b | 0x20
        if (l &- 0x61) < 6 { return l &- 0x61 &+ 10 }
        return nil
    }
}
