/// ASCII helpers used by the proxy, plus the RFC 9110 character classes the parsers share.
public enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let comma: UInt8 = 0x2C
    static let semicolon: UInt8 = 0x3B
    static let slash: UInt8 = 0x2F

    /// True if `a` equals `lowercase` ignoring ASCII case; `lowercase` must be lowercase ASCII.
    /// Eight bytes at a time: where the literal has a letter, `a`'s byte with 0x20 set must equal
    /// it (only that letter and its upper case do); elsewhere the bytes must be equal.
    public static func equalsCaseInsensitive(_ a: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let n = lowercase.utf8CodeUnitCount
        // The word compare below is exact only for a lower-case ASCII literal (checked in debug builds and tests).
        assert(isLowercaseASCII(lowercase), "equalsCaseInsensitive needs a lower-case ASCII literal")
        guard a.count == n else { return false }
        guard n > 0, let base = a.baseAddress else { return true }
        let p = UnsafeRawPointer(lowercase.utf8Start)
        @inline(__always) func same(_ a: UInt64, _ l: UInt64) -> Bool { a | letterBits(l) == l }
        if n >= 8 {
            var i = 0
            while i + 8 <= n {
                if !same(base.loadUnaligned(fromByteOffset: i, as: UInt64.self), p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) { return false }
                i += 8
            }
            // The last eight bytes (overlapping ones compared again).
            return i == n || same(base.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self), p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))
        }
        if n >= 4 {
            // Four bytes at each end (overlapping when n < 8); zero upper bytes have no letter bits.
            @inline(__always) func four(_ q: UnsafeRawPointer, _ at: Int) -> UInt64 { UInt64(q.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
            return same(four(base, 0), four(p, 0)) && same(four(base, n - 4), four(p, n - 4))
        }
        for i in 0..<n where lower(base.load(fromByteOffset: i, as: UInt8.self)) != p.load(fromByteOffset: i, as: UInt8.self) { return false }
        return true
    }

    static func isLowercaseASCII(_ s: StaticString) -> Bool {
        for i in 0..<s.utf8CodeUnitCount where s.utf8Start[i] >= 0x80 || (s.utf8Start[i] >= 0x41 && s.utf8Start[i] <= 0x5A) { return false }
        return true
    }

    /// 0x20 in every byte of `w` that is a lower-case ASCII letter, 0 elsewhere (`w`: ASCII bytes,
    /// so no byte's sum carries into the next).
    @inline(__always) static func letterBits(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let atLeastA = w &+ ones &* UInt64(0x80 - 0x61) // high bit set where byte ≥ 'a'
        let aboveZ = w &+ ones &* UInt64(0x80 - 0x7B)   // high bit set where byte > 'z'
        return (atLeastA & ~aboveZ & 0x8080_8080_8080_8080) >> 2
    }

    /// The offset of the first CR in `a` at or after `from`, or `a.count` (eight bytes at a time).
    @inline(__always) static func indexOfCR(_ a: UnsafeRawBufferPointer, from: Int) -> Int {
        var i = from
        let n = a.count
        if let base = a.baseAddress {
            while i + 8 <= n && !hasByteBelow(base.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ 0x0D0D_0D0D_0D0D_0D0D, 1) { i += 8 }
        }
        while i < n && a[i] != cr { i += 1 }
        return i
    }

    /// Appends `value` in decimal ASCII digits.
    public static func appendDecimal(_ value: UInt64, to buffer: inout [UInt8]) {
        var digits = 1
        var v = value
        while v >= 10 { v /= 10; digits += 1 }
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0x30, count: digits))
        v = value
        var i = start + digits - 1
        while i >= start {
            buffer[i] = 0x30 &+ UInt8(truncatingIfNeeded: v % 10)
            v /= 10
            i -= 1
        }
    }

    // MARK: - internal helpers

    /// `a[r]` equals `lowercase` ignoring ASCII case.
    @inline(__always)
    static func equalsCaseInsensitive(_ a: UnsafeRawBufferPointer, _ r: Range<Int>, _ lowercase: StaticString) -> Bool {
        equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: a[r]), lowercase)
    }

    /// `a[x]` equals `a[y]` ignoring ASCII case.
    static func equalsCaseInsensitive(_ a: UnsafeRawBufferPointer, _ x: Range<Int>, _ y: Range<Int>) -> Bool {
        guard x.count == y.count else { return false }
        var i = x.lowerBound, j = y.lowerBound
        while i < x.upperBound {
            if lower(a[i]) != lower(a[j]) { return false }
            i += 1; j += 1
        }
        return true
    }

    /// `a[r]` equals `literal` exactly (case-sensitive).
    static func equals(_ a: UnsafeRawBufferPointer, _ r: Range<Int>, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard r.count == n else { return false }
        let p = literal.utf8Start
        var i = 0
        while i < n {
            if a[r.lowerBound + i] != p[i] { return false }
            i += 1
        }
        return true
    }

    @inline(__always) public static func lower(_ b: UInt8) -> UInt8 { (b &- 0x41) < 26 ? b | 0x20 : b }
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { (b &- 0x30) < 10 }
    @inline(__always) static func isAlpha(_ b: UInt8) -> Bool { ((b | 0x20) &- 0x61) < 26 }
    @inline(__always) static func isWhitespace(_ b: UInt8) -> Bool { b == sp || b == htab }

    /// Value of a HEXDIG, or nil.
    @inline(__always) static func hexValue(_ b: UInt8) -> UInt8? {
        if isDigit(b) { return b &- 0x30 }
        let l = b | 0x20
        if (l &- 0x61) < 6 { return l &- 0x61 &+ 10 }
        return nil
    }

    /// RFC 9110 §5.6.2 tchar.
    @inline(__always) static func isTchar(_ b: UInt8) -> Bool {
        if isAlpha(b) || isDigit(b) { return true }
        switch b {
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
    }

    /// RFC 9110 §5.5 field-vchar / SP / HTAB: HTAB, SP, VCHAR, obs-text. Excludes NUL, CR, LF, DEL and other controls.
    /// Whether any of the eight bytes of `w` is below `n` (n ≤ 128; exact, no false positives:
    /// the classic SWAR test, valid for every byte value including ≥ 0x80).
    @inline(__always) public static func hasByteBelow(_ w: UInt64, _ n: UInt8) -> Bool {
        (w &- 0x0101_0101_0101_0101 &* UInt64(n)) & ~w & 0x8080_8080_8080_8080 != 0
    }

    @inline(__always) static func isFieldValueByte(_ b: UInt8) -> Bool {
        b == htab || (b >= 0x20 && b != 0x7F)
    }

    /// All bytes of `a[r]` are tchar, and there is at least one.
    static func isToken(_ a: UnsafeRawBufferPointer, _ r: Range<Int>) -> Bool {
        guard !r.isEmpty else { return false }
        for i in r where !isTchar(a[i]) { return false }
        return true
    }
}
