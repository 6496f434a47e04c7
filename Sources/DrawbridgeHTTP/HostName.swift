/// The one normalisation of host names: the Host field, the authority of an absolute-form
/// target, the TLS server name (SNI), route hosts in the configuration, the sign-in pages'
/// same-origin check and return addresses all go through `normalize`, so that two spellings of
/// one host can never be routed, compared or redirected differently.
///
/// Normal form: ASCII lowercase, without a port and without one trailing dot; an IPv6 literal in
/// brackets in its canonical text (RFC 5952: lowercase hex, no leading zeros, the longest run of
/// zero groups as `::`), so `[0:0::1]`, `[::0001]` and `[::1]` are one host.
///
/// Refused (nil): anything the authority rule refuses (`Authority.isValid`: userinfo, `%`,
/// sub-delims, zone ids, bad ports), empty labels (`a..b`, `.a`), and a name that a URL parser reads as an IPv4
/// address (WHATWG: its last label is a number) unless it is written as four decimal parts
/// 0...255 without leading zeros: `127.1`, `0x7f.0.0.1`, `2130706433` or `010.0.0.1` name the
/// same address as `127.0.0.1` or `8.0.0.1` in one parser and another host in the next.
public enum HostName {
    /// The port value `normalize` returns for a host without one.
    public static let noPort = -1

    /// What `parse` found: the name is `raw[0..<nameEnd]` when `isNormal`, else it must be
    /// rewritten (`normalize`); the port, or `noPort`.
    public struct Parsed: Equatable, Sendable {
        public var nameEnd: Int
        public var port: Int
        public var isNormal: Bool
    }

    /// Validates `raw` (`host`, `host:port`, `[v6]` or `[v6]:port`) without copying it: nil when
    /// it is not a valid host. Most hosts already are in normal form, and then their bytes are
    /// used as they are (no allocation, no copy on the request path).
    public static func parse(_ raw: UnsafeRawBufferPointer) -> Parsed? {
        let n = raw.count
        guard n > 0 else { return nil }
        var hostEnd = 0
        var nameEnd: Int
        var isNormal = true
        if raw[0] == 0x5B { // "[" IPv6 "]": rare; validated by the authority rule, rewritten by `normalize`
            guard Authority.isValid(raw, 0..<n) else { return nil }
            while raw[hostEnd] != 0x5D { hostEnd += 1 }
            hostEnd += 1
            nameEnd = hostEnd
            isNormal = false
        } else {
            // One pass over the reg-name: the authority rule's bytes (no userinfo '@', no '%', no
            // sub-delims: host confusion between gateway and upstream), labels, case, up to ':'.
            var labelStart = 0
            while hostEnd < n {
                let c = raw[hostEnd]
                if (c &- 0x61) < 26 || (c &- 0x30) < 10 || c == 0x2D { hostEnd &+= 1; continue } // most bytes
                if c == ASCII.colon { break }
                if c == 0x2E {
                    // "a..b", ".a": an empty label is no DNS name; parsers disagree on what it means
                    guard hostEnd > labelStart else { return nil }
                    labelStart = hostEnd &+ 1
                } else if (c &- 0x41) < 26 {
                    isNormal = false // upper case
                } else {
                    guard c == 0x5F || c == 0x7E else { return nil }
                }
                hostEnd &+= 1
            }
            nameEnd = hostEnd
            if labelStart == hostEnd { // a trailing dot ("example.com.") is the same name, once
                guard hostEnd >= 2, raw[hostEnd - 2] != 0x2E else { return nil } // ".", "a..": an empty last label
                nameEnd -= 1
                isNormal = false
                labelStart = nameEnd - 1
                while labelStart > 0 && raw[labelStart - 1] != 0x2E { labelStart -= 1 }
            }
            // A number as the last label makes the name an IPv4 address to URL parsers.
            if ASCII.isDigit(raw[labelStart]) && !isCanonicalIPv4(raw, nameEnd: nameEnd, lastLabel: labelStart) { return nil }
        }
        guard hostEnd < n else { return Parsed(nameEnd: nameEnd, port: noPort, isNormal: isNormal) }
        // ":" then 1 to 5 digits, at most 65535
        let digits = n - hostEnd - 1
        guard raw[hostEnd] == ASCII.colon, digits >= 1, digits <= 5 else { return nil }
        var port = 0
        for i in (hostEnd + 1)..<n {
            guard ASCII.isDigit(raw[i]) else { return nil }
            port = port * 10 + Int(raw[i] &- 0x30)
        }
        return port <= 65535 ? Parsed(nameEnd: nameEnd, port: port, isNormal: isNormal) : nil
    }

    /// Normalises `raw` into `name` (emptied first, capacity kept). Returns the port (`noPort`
    /// when absent), or nil when `raw` is not a valid host (then `name` is empty).
    public static func normalize(_ raw: UnsafeRawBufferPointer, into name: inout [UInt8]) -> Int? {
        name.removeAll(keepingCapacity: true)
        guard let p = parse(raw) else { return nil }
        if raw[0] == 0x5B {
            guard appendCanonicalIPv6(raw, 1..<p.nameEnd - 1, to: &name) else { name.removeAll(keepingCapacity: true); return nil }
        } else {
            for i in 0..<p.nameEnd { name.append(ASCII.lower(raw[i])) }
        }
        return p.port
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

    /// A name whose last label starts with a digit (WHATWG: a last label that is a number, decimal
    /// or `0x` hex, makes the host an IPv4 address): only four decimal parts 0...255 without
    /// leading zeros are accepted; a last label that is not a number at all (`1a`) is a name.
    private static func isCanonicalIPv4(_ raw: UnsafeRawBufferPointer, nameEnd n: Int, lastLabel: Int) -> Bool {
        var i = lastLabel
        while i < n && ASCII.isDigit(raw[i]) { i &+= 1 }
        if i < n { // the last label is not all digits: a number only if it is "0x" and hex digits
            guard n &- lastLabel >= 2, raw[lastLabel] == 0x30, raw[lastLabel &+ 1] | 0x20 == 0x78 else { return true } // "1a"
            var k = lastLabel &+ 2
            while k < n { if ASCII.hexValue(raw[k]) == nil { return true }; k &+= 1 } // "0xyz": not a number either
        }
        // Four decimal parts 0...255 without leading zeros: "010", "256", "0x7f", "1.2.3" name
        // another address (or none) in other parsers.
        var parts = 0, start = 0, v: UInt32 = 0
        i = 0
        while true {
            let atEnd = i == n
            let c = atEnd ? 0x2E : raw[i]
            if c == 0x2E {
                let length = i &- start
                guard length >= 1, length <= 3, length == 1 || raw[start] != 0x30, v <= 255 else { return false }
                parts &+= 1
                if atEnd { return parts == 4 }
                start = i &+ 1
                v = 0
            } else {
                guard ASCII.isDigit(c), i &- start < 3 else { return false }
                v = v &* 10 &+ UInt32(c &- 0x30)
            }
            i &+= 1
        }
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
