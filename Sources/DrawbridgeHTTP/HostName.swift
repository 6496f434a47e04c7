/// The one normalisation of host names: the Host field, the authority of an absolute-form
/// target, the TLS server name (SNI), route hosts in the configuration, the sign-in pages'
/// same-origin check and return addresses all go through `normalize`, so that two spellings of
/// one host can never be routed, compared or redirected differently.
///
/// Normal form: ASCII lowercase, without a port and without one trailing dot; an IPv6 literal in
/// brackets in its canonical text (RFC 5952: lowercase hex, no leading zeros, the longest run of
/// zero groups as `::`), so `[0:0::1]`, `[::0001]` and `[::1]` are one host.
///
/// Refused (nil): anything `Authority.isValid` refuses (userinfo, `%`, sub-delims, zone ids,
/// bad ports), empty labels (`a..b`, `.a`), and a name that a URL parser reads as an IPv4
/// address (WHATWG: its last label is a number) unless it is written as four decimal parts
/// 0...255 without leading zeros: `127.1`, `0x7f.0.0.1`, `2130706433` or `010.0.0.1` name the
/// same address as `127.0.0.1` or `8.0.0.1` in one parser and another host in the next.
public enum HostName {
    /// The port value `normalize` returns for a host without one.
    public static let noPort = -1

    /// Normalises `raw` (`host`, `host:port`, `[v6]` or `[v6]:port`) into `name` (emptied
    /// first, capacity kept). Returns the port (`noPort` when absent), or nil when `raw` is not a
    /// valid host (then `name` is empty).
    public static func normalize(_ raw: UnsafeRawBufferPointer, into name: inout [UInt8]) -> Int? {
        name.removeAll(keepingCapacity: true)
        let port = run(raw, &name)
        if port == nil { name.removeAll(keepingCapacity: true) } // nothing half-normalised is ever compared
        return port
    }

    private static func run(_ raw: UnsafeRawBufferPointer, _ name: inout [UInt8]) -> Int? {
        guard Authority.isValid(raw, 0..<raw.count) else { return nil }
        var hostEnd = 0
        if raw[0] == 0x5B { // "[" IPv6 "]"
            while raw[hostEnd] != 0x5D { hostEnd += 1 }
            hostEnd += 1
            guard appendCanonicalIPv6(raw, 1..<hostEnd - 1, to: &name) else { return nil }
        } else {
            while hostEnd < raw.count && raw[hostEnd] != ASCII.colon { hostEnd += 1 }
            var end = hostEnd
            if raw[end - 1] == 0x2E { end -= 1 } // one trailing dot: "example.com." is "example.com"
            guard end > 0 else { return nil }
            var labelStart = 0
            for i in 0..<end {
                let b = raw[i]
                if b == 0x2E {
                    // "a..b", ".a": an empty label is no DNS name; parsers disagree on what it means
                    guard i > labelStart else { return nil }
                    labelStart = i + 1
                }
                name.append(ASCII.lower(b))
            }
            guard labelStart < end else { return nil } // "a..": an empty last label
            guard isAcceptableNumericForm(name, lastLabel: labelStart) else { return nil }
        }
        guard hostEnd < raw.count else { return noPort }
        var port = 0
        for i in (hostEnd + 1)..<raw.count { port = port * 10 + Int(raw[i] &- 0x30) } // digits, ≤ 65535: checked by Authority
        return port
    }

    /// `normalize` for Strings (configuration, sign-in pages; allocates). nil when invalid.
    public static func normalize(_ text: String) -> (name: String, port: Int)? {
        var bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var name: [UInt8] = []
        let port = bytes.withUnsafeMutableBytes { normalize(UnsafeRawBufferPointer($0), into: &name) }
        bytes.removeAll()
        guard let port else { return nil }
        return (String(decoding: name, as: UTF8.self), port)
    }

    /// The authority a browser would show for an https origin: the normal name, with `:port`
    /// unless the port is absent or 443. Two spellings of one origin give the same text.
    public static func httpsAuthority(_ text: String) -> String? {
        guard let (name, port) = normalize(text) else { return nil }
        return port == noPort || port == 443 ? name : "\(name):\(port)"
    }

    // MARK: - IPv4-looking names

    /// A name whose last label is a number (decimal, or `0x` hex) is an IPv4 address to URL
    /// parsers; only the canonical dotted-quad spelling is accepted for it.
    private static func isAcceptableNumericForm(_ name: [UInt8], lastLabel: Int) -> Bool {
        let last = name[lastLabel...]
        let looksNumeric = last.allSatisfy(ASCII.isDigit)
            || (last.count >= 2 && last.first == 0x30 && last.dropFirst().first == 0x78
                && last.dropFirst(2).allSatisfy { ASCII.hexValue($0) != nil })
        guard looksNumeric else { return true }
        var parts = 0
        for part in name.split(separator: 0x2E, omittingEmptySubsequences: false) {
            parts += 1
            // "010", "0x7f", "256": octal, hex and out-of-range parts are read differently by different parsers
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(ASCII.isDigit),
                  part.count == 1 || part.first != 0x30 else { return false }
            var v = 0
            for d in part { v = v * 10 + Int(d &- 0x30) }
            guard v <= 255 else { return false }
        }
        return parts == 4
    }

    // MARK: - IPv6

    /// Parses the address between the brackets (characters already limited to hex digits, `:`
    /// and `.`) and appends `[canonical]`. False if it is not an IPv6 address.
    private static func appendCanonicalIPv6(_ raw: UnsafeRawBufferPointer, _ r: Range<Int>, to out: inout [UInt8]) -> Bool {
        var groups: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var compressAt = -1
        var i = r.lowerBound
        let end = r.upperBound
        func set(_ k: Int, _ v: UInt16) { withUnsafeMutableBytes(of: &groups) { $0.storeBytes(of: v, toByteOffset: k * 2, as: UInt16.self) } }
        func get(_ k: Int) -> UInt16 { withUnsafeBytes(of: groups) { $0.load(fromByteOffset: k * 2, as: UInt16.self) } }
        if end - i >= 2 && raw[i] == ASCII.colon && raw[i + 1] == ASCII.colon {
            compressAt = 0
            i += 2
        } else if i < end && raw[i] == ASCII.colon {
            return false // ":1::": a single leading colon
        }
        while i < end {
            guard count < 8 else { return false }
            let start = i
            var v: UInt32 = 0
            while i < end, let h = ASCII.hexValue(raw[i]) {
                v = v << 4 | UInt32(h)
                i += 1
                guard i - start <= 4 else { return false }
            }
            if i < end && raw[i] == 0x2E {
                // an embedded IPv4 address: the last 32 bits
                guard count <= 6, let v4 = parseIPv4(raw, start..<end) else { return false }
                set(count, UInt16(v4 >> 16)); set(count + 1, UInt16(v4 & 0xFFFF))
                count += 2
                i = end
                break
            }
            guard i > start else { return false }
            set(count, UInt16(v))
            count += 1
            if i == end { break }
            guard raw[i] == ASCII.colon else { return false }
            i += 1
            if i < end && raw[i] == ASCII.colon {
                guard compressAt < 0 else { return false } // "::" twice
                compressAt = count
                i += 1
            } else if i == end {
                return false // a trailing single colon
            }
        }
        if compressAt >= 0 {
            guard count < 8 else { return false }
            // Move the groups after "::" to the end, zeros in between.
            let tail = count - compressAt
            var k = tail - 1
            while k >= 0 { set(8 - tail + k, get(compressAt + k)); k -= 1 }
            var z = compressAt
            while z < 8 - tail { set(z, 0); z += 1 }
        } else {
            guard count == 8 else { return false }
        }
        // RFC 5952 §4.2: the longest run of two or more zero groups (the first of equal runs) becomes "::".
        var bestStart = -1, bestLength = 1
        var k = 0
        while k < 8 {
            if get(k) == 0 {
                var e = k
                while e < 8 && get(e) == 0 { e += 1 }
                if e - k > bestLength { bestStart = k; bestLength = e - k }
                k = e
            } else {
                k += 1
            }
        }
        out.append(0x5B)
        k = 0
        while k < 8 {
            if k == bestStart {
                out.append(ASCII.colon); out.append(ASCII.colon)
                k += bestLength
                continue
            }
            if k > 0 && k != bestStart + bestLength { out.append(ASCII.colon) }
            appendHex(get(k), to: &out)
            k += 1
        }
        out.append(0x5D)
        return true
    }

    /// Dotted-quad inside an IPv6 literal: four decimal parts 0...255, no leading zeros.
    private static func parseIPv4(_ raw: UnsafeRawBufferPointer, _ r: Range<Int>) -> UInt32? {
        var value: UInt32 = 0
        var parts = 0
        var i = r.lowerBound
        while i <= r.upperBound {
            let start = i
            var v: UInt32 = 0
            while i < r.upperBound && ASCII.isDigit(raw[i]) { v = v * 10 + UInt32(raw[i] &- 0x30); i += 1 }
            let length = i - start
            guard length >= 1, length <= 3, v <= 255, length == 1 || raw[start] != 0x30 else { return nil }
            value = value << 8 | v
            parts += 1
            if i == r.upperBound { break }
            guard raw[i] == 0x2E, parts < 4 else { return nil }
            i += 1
        }
        return parts == 4 ? value : nil
    }

    private static func appendHex(_ v: UInt16, to out: inout [UInt8]) {
        var started = false
        var shift = 12
        while shift >= 0 {
            let d = UInt8((v >> UInt16(shift)) & 0xF)
            if d != 0 || started || shift == 0 {
                out.append(d < 10 ? 0x30 &+ d : 0x61 &+ d &- 10)
                started = true
            }
            shift -= 4
        }
    }
}
