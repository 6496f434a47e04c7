/// Base64url without padding (RFC 4648 §5, as JOSE uses it), with a strict decoder.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let reverse: [Int8] = {
        var t = [Int8](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = Int8(i) }
        return t
    }()

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], alphabet[Int(v & 63)]]
            i += 3
        }
        switch bytes.count - i {
        case 1:
            let v = UInt32(bytes[i]) << 16
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)]]
        case 2:
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)]]
        default: break
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Strict: only `A–Z a–z 0–9 - _`; no `=` padding, whitespace or line breaks; a length of
    /// 4k+1 is impossible; the unused low bits of the last character must be zero, so every
    /// byte string has exactly one accepted encoding. Returns nil otherwise.
    public static func decode(_ string: String) -> [UInt8]? {
        decode(utf8: Array(string.utf8))
    }

    static func decode(utf8 s: [UInt8]) -> [UInt8]? {
        if s.count % 4 == 1 { return nil }
        var out = [UInt8]()
        out.reserveCapacity(s.count * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        for c in s {
            let v = reverse[Int(c)]
            if v < 0 { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                acc &= (1 << UInt32(bits)) - 1
            }
        }
        if acc != 0 { return nil }   // non-canonical: leftover bits set
        return out
    }

    /// The same strict decoding, from bytes into a caller's reusable buffer: `out` is grown when
    /// too small and otherwise overwritten; returns the decoded length (`out[0..<length]`), or nil
    /// when `src` is not canonical unpadded Base64URL. No allocation once `out` is big enough.
    public static func decode(_ src: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Int? {
        let n = src.count
        if n % 4 == 1 { return nil }
        let length = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1)
        if out.count < length { out = [UInt8](repeating: 0, count: max(length, 256)) }
        if n == 0 { return 0 }
        return reverse.withUnsafeBufferPointer { table -> Int? in
            out.withUnsafeMutableBufferPointer { dst -> Int? in
                let s = src.baseAddress!.assumingMemoryBound(to: UInt8.self)
                let d = dst.baseAddress!
                var i = 0, o = 0
                // Four characters -> three bytes; any invalid character makes the OR negative.
                while i + 4 <= n {
                    let a = table[Int(s[i])], b = table[Int(s[i + 1])], c = table[Int(s[i + 2])], e = table[Int(s[i + 3])]
                    if (a | b | c | e) < 0 { return nil }
                    let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(e)
                    d[o] = UInt8(truncatingIfNeeded: v >> 16)
                    d[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
                    d[o + 2] = UInt8(truncatingIfNeeded: v)
                    i += 4
                    o += 3
                }
                switch n - i {
                case 2:
                    let a = table[Int(s[i])], b = table[Int(s[i + 1])]
                    if (a | b) < 0 || b & 0x0F != 0 { return nil }   // non-canonical: leftover bits set
                    d[o] = UInt8(truncatingIfNeeded: UInt32(a) << 2 | UInt32(b) >> 4)
                    o += 1
                case 3:
                    let a = table[Int(s[i])], b = table[Int(s[i + 1])], c = table[Int(s[i + 2])]
                    if (a | b | c) < 0 || c & 0x03 != 0 { return nil }
                    let v = UInt32(a) << 12 | UInt32(b) << 6 | UInt32(c)
                    d[o] = UInt8(truncatingIfNeeded: v >> 10)
                    d[o + 1] = UInt8(truncatingIfNeeded: v >> 2)
                    o += 2
                default: break
                }
                return o
            }
        }
    }
}

/// Base32 (RFC 4648 §6), as used for TOTP secrets in otpauth:// URIs.
public enum Base32 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// Upper-case; `padding: true` appends `=` to a multiple of 8 characters.
    public static func encode(_ bytes: [UInt8], padding: Bool = false) -> String {
        var out = [UInt8]()
        var acc: UInt32 = 0
        var bits = 0
        for b in bytes {
            acc = acc << 8 | UInt32(b)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[Int(acc >> UInt32(bits) & 31)])
            }
            acc &= (1 << UInt32(bits)) - 1
        }
        if bits > 0 { out.append(alphabet[Int(acc << UInt32(5 - bits) & 31)]) }
        if padding { while out.count % 8 != 0 { out.append(UInt8(ascii: "=")) } }
        return String(decoding: out, as: UTF8.self)
    }

    /// Accepts upper or lower case, with or without correct `=` padding. Rejects other
    /// characters (including spaces: strip those first), impossible lengths and non-zero
    /// trailing bits.
    public static func decode(_ string: String) -> [UInt8]? {
        var s = Array(string.utf8)
        if let firstPad = s.firstIndex(of: UInt8(ascii: "=")) {
            guard s.count % 8 == 0, s[firstPad...].allSatisfy({ $0 == UInt8(ascii: "=") }), s.count - firstPad < 8 else { return nil }
            s.removeSubrange(firstPad...)
        }
        guard [0, 2, 4, 5, 7].contains(s.count % 8) else { return nil }
        var out = [UInt8]()
        var acc: UInt32 = 0
        var bits = 0
        for c in s {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a"))
            case UInt8(ascii: "2")...UInt8(ascii: "7"): v = UInt32(c - UInt8(ascii: "2")) + 26
            default: return nil
            }
            acc = acc << 5 | v
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                acc &= (1 << UInt32(bits)) - 1
            }
        }
        if acc != 0 { return nil }
        return out
    }
}
