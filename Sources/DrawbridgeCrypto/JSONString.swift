/// The one rule for writing a JSON string (RFC 8259 §7), wherever Drawbridge writes JSON: the
/// access and audit logs, the state files, signed tokens, its own API answers.
///
/// - `"` and `\` get a backslash;
/// - control characters (U+0000–U+001F, U+007F–U+009F) become `\n`, `\r`, `\t` or `\u00xx`, so a
///   value can never end a log line early or carry a terminal escape sequence;
/// - U+2028 and U+2029 become `\u2028` and `\u2029` (JavaScript reads them as line ends);
/// - everything else that is valid UTF-8 is copied as it is (UTF-8, not `\u` escapes);
/// - a byte that is not part of valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
///   above U+10FFFF) becomes `\u00xx` with its value, so the output is valid JSON whatever the input.
public enum JSONString {
    /// `s` as a JSON string literal, quotes included.
    public static func quote(_ s: String) -> String {
        var out: [UInt8] = [0x22]
        out.reserveCapacity(s.utf8.count + 2)
        var copy = s
        copy.withUTF8 { _ = appendEscaped(UnsafeRawBufferPointer($0), to: &out) }
        out.append(0x22)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the escaped form of `bytes` (without quotes). With `limit`, stops before the
    /// appended text would exceed `limit` bytes, never inside an escape or a UTF-8 sequence, and
    /// returns false; true when everything was written.
    @inlinable @discardableResult
    public static func appendEscaped(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8], limit: Int = Int.max) -> Bool {
        var written = 0
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b >= 0x20 && b < 0x7F && b != 0x22 && b != 0x5C {
                guard written < limit else { return false }
                out.append(b)
                written += 1
                i += 1
                continue
            }
            if b < 0x80 {
                let short: UInt8
                switch b {
                case 0x22: short = 0x22
                case 0x5C: short = 0x5C
                case 0x0A: short = UInt8(ascii: "n")
                case 0x0D: short = UInt8(ascii: "r")
                case 0x09: short = UInt8(ascii: "t")
                default: short = 0
                }
                if short != 0 {
                    guard written + 2 <= limit else { return false }
                    out.append(0x5C); out.append(short)
                    written += 2
                } else {
                    guard written + 6 <= limit else { return false }
                    appendUnicodeEscape(UInt32(b), to: &out)
                    written += 6
                }
                i += 1
                continue
            }
            let length = validSequenceLength(bytes, at: i)
            if length == 0 {
                // Not UTF-8: the byte's value, so the line stays valid JSON and the byte is still visible.
                guard written + 6 <= limit else { return false }
                appendUnicodeEscape(UInt32(b), to: &out)
                written += 6
                i += 1
                continue
            }
            let second = bytes[i + 1]
            let isC1 = b == 0xC2 && second < 0xA0
            let isLineSeparator = b == 0xE2 && second == 0x80 && (bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9)
            if isC1 || isLineSeparator {
                guard written + 6 <= limit else { return false }
                appendUnicodeEscape(isC1 ? UInt32(second) : 0x2000 | UInt32(bytes[i + 2] & 0x3F), to: &out)
                written += 6
            } else {
                guard written + length <= limit else { return false }
                for k in 0..<length { out.append(bytes[i + k]) }
                written += length
            }
            i += length
        }
        return true
    }

    /// `\uXXXX` in lowercase hex.
    @inlinable
    static func appendUnicodeEscape(_ value: UInt32, to out: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        out.append(0x5C); out.append(UInt8(ascii: "u"))
        for shift in stride(from: 12, through: 0, by: -4) {
            out.append(hex.utf8Start[Int((value >> UInt32(shift)) & 0xF)])
        }
    }

    /// The length (2...4) of the well-formed UTF-8 sequence starting at `i`, or 0 (RFC 3629 §4).
    @inlinable
    static func validSequenceLength(_ bytes: UnsafeRawBufferPointer, at i: Int) -> Int {
        let b = bytes[i]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch b {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F   // no surrogates
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F   // nothing above U+10FFFF
        default: return 0
        }
        guard i + length <= bytes.count else { return 0 }
        let second = bytes[i + 1]
        guard second >= low && second <= high else { return 0 }
        for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 { return 0 }
        return length
    }
}
