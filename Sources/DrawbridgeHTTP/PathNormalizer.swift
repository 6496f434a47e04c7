/// What the path normaliser tolerates. The defaults are the strict gateway setting.
///
/// Every `allow…` switch widens what reaches the upstream in a form the gateway cannot judge the way the
/// upstream will (an upstream may decode `%2F` into a separator, or treat `\` as one), so turn them on only
/// for upstreams known to treat those bytes as plain data.
public struct PathPolicy: Sendable, Equatable {
    /// `%2F` in the path is accepted (kept encoded, uppercased, never decoded); else `.encodedSlash`.
    public var allowEncodedSlash: Bool
    /// A raw `\` or `%5C` is accepted (kept as sent, `%5C` uppercased); else `.backslash`.
    public var allowBackslash: Bool
    /// A `;` (raw or `%3B`) in a segment is accepted; else `.pathParameter`. Even when allowed, a segment whose part
    /// before the first `;` is empty, `.` or `..` is rejected.
    public var allowPathParameters: Bool
    /// Percent-encoded white space and control characters (`%20`, `%09`, `%0A`, `%7F`, C1 controls, and Unicode
    /// White_Space such as `%C2%A0` or `%E3%80%80`) are accepted (kept encoded); else `.encodedWhitespace`. `%00` is
    /// refused either way.
    public var allowEncodedWhitespace: Bool
    /// Runs of `/` collapse to one `/` (before dot-segment removal); `false` rejects any empty segment
    /// other than the final one (`/a/` stays valid) with `.emptySegment`.
    public var mergeSlashes: Bool

    /// The strict policy unless told otherwise.
    public init(allowEncodedSlash: Bool = false, allowBackslash: Bool = false,
                allowPathParameters: Bool = false, mergeSlashes: Bool = true, allowEncodedWhitespace: Bool = false) {
        self.allowEncodedSlash = allowEncodedSlash
        self.allowBackslash = allowBackslash
        self.allowPathParameters = allowPathParameters
        self.mergeSlashes = mergeSlashes
        self.allowEncodedWhitespace = allowEncodedWhitespace
    }
}

/// Why a request path was refused. Every case is answered with 400.
public enum PathError: Error, Equatable, Sendable {
    /// Neither origin-form (starts with `/`) nor exactly `*`.
    case notOriginForm
    /// A raw byte outside visible ASCII (control, space, DEL, ≥ 0x80) or a `#`.
    case invalidCharacter
    /// `%` not followed by two hex digits.
    case invalidPercentEncoding
    /// `%00` (or a raw NUL).
    case nul
    /// `%2F` with `allowEncodedSlash` off.
    case encodedSlash
    /// `\` or `%5C` with `allowBackslash` off (or a path starting with `\`).
    case backslash
    /// The percent-decoded path is not valid UTF-8.
    case invalidUTF8
    /// `;` or `%3B` with `allowPathParameters` off, or a parameter on an empty or dot segment.
    case pathParameter
    /// Percent-encoded white space or a control character with `allowEncodedWhitespace` off.
    case encodedWhitespace
    /// `//` with `mergeSlashes` off.
    case emptySegment
    /// A `..` would climb above the root.
    case escapesRoot

    /// Always 400.
    public var status: Int { 400 }

    /// Short text for logs.
    public var reason: String {
        switch self {
        case .notOriginForm: return "path is not origin-form"
        case .invalidCharacter: return "invalid character in path"
        case .invalidPercentEncoding: return "invalid percent-encoding in path"
        case .nul: return "NUL in path"
        case .encodedSlash: return "encoded slash in path"
        case .backslash: return "backslash in path"
        case .invalidUTF8: return "path is not valid UTF-8"
        case .pathParameter: return "path parameter in path"
        case .encodedWhitespace: return "encoded white space or control character in path"
        case .emptySegment: return "empty path segment"
        case .escapesRoot: return "path escapes the root"
        }
    }

    /// The same refusal as the parser's error type: `.badRequest(reason)`.
    public var httpError: HTTPError { .badRequest(reason) }
}

/// Normalises a request path once, so that routing and authorization judge exactly the bytes the upstream gets.
///
/// Steps, in one left-to-right pass (RFC 3986 §2.3, §2.4, §5.2.4; RFC 9110 §4.2.3):
/// 1. The path ends at the first `?`; the query (with its `?`) is copied unchanged, never decoded or matched.
/// 2. Slashes: with `mergeSlashes`, a run of `/` counts as one `/`; without, an empty segment that is not the last
///    is an error. Merging happens *before* dot-segment removal, so `/a//../b` is `/b`: the gateway's idea of
///    "parent" then matches upstreams that treat `//` as `/` (nginx, file systems), and the output, which has no
///    `//`, is a fixed point for every normaliser downstream.
/// 3. `%XX` of an unreserved byte (ALPHA DIGIT `-` `.` `_` `~`) is decoded; every other `%XX` stays encoded with
///    uppercase hex. `%00` is refused; `%2F` and `%5C` are refused unless the policy allows them.
/// 4. The fully decoded path (every `%XX` decoded, for this check only) must be valid UTF-8.
/// 5. Dot segments are removed after decoding, so `%2e%2E` is `..`. Removal follows §5.2.4
///    (`/a/./b` → `/a/b`, `/a/b/..` → `/a/`, `/a/.` → `/a/`, `/a/..` → `/`) except that climbing above the root
///    is an error instead of being clamped.
/// 6. Case is preserved. `;` and `%3B` are refused unless allowed; raw `\` likewise; percent-encoded white space
///    and control characters (which Spring, Java and Python trim or drop from segments) likewise.
///
/// The output is never longer than the input, and normalising it again gives it back unchanged.
public enum PathNormalizer {
    /// `target` is the request target as parsed (origin-form path with optional `?query`; `*` is returned unchanged).
    ///
    /// Writes the normalised path followed by the untouched `?query` (if any) into `out` (emptied first, capacity
    /// kept), and returns the length of the path part, so the caller can match routes on `out[0..<pathLength]`.
    /// On failure `out` is left empty.
    public static func normalize(_ target: UnsafeRawBufferPointer, policy: PathPolicy,
                                 into out: inout [UInt8]) -> Result<Int, PathError> {
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(target.count) // the output is never longer than the input
        let result = run(target, policy, &out)
        if case .failure = result { out.removeAll(keepingCapacity: true) } // nothing half-normalised can be forwarded
        return result
    }

    // MARK: - implementation

    private static let slash: UInt8 = 0x2F
    private static let backslash: UInt8 = 0x5C
    private static let percent: UInt8 = 0x25
    private static let question: UInt8 = 0x3F
    private static let semicolon: UInt8 = 0x3B
    private static let dot: UInt8 = 0x2E
    private static let star: UInt8 = 0x2A
    private static let hash: UInt8 = 0x23

    /// Writes path and query into `out` (already empty) and returns the path's length.
    private static func run(_ t: UnsafeRawBufferPointer, _ policy: PathPolicy, _ out: inout [UInt8]) -> Result<Int, PathError> {
        let n = t.count
        if n == 1 && t[0] == star {
            out.append(star)
            return .success(1)
        }
        var pathEnd = 0
        while pathEnd < n && t[pathEnd] != question { pathEnd += 1 }
        guard pathEnd > 0 else { return .failure(.notOriginForm) }
        if t[0] != slash {
            // "\\admin": a Windows-style root that some upstreams read as "//admin"
            if t[0] == backslash && !policy.allowBackslash { return .failure(.backslash) }
            return .failure(.notOriginForm)
        }
        var utf8 = UTF8Validator()
        var scalar: UInt32 = 0 // the code point of the escaped multi-byte sequence being read
        var i = 0 // invariant at the loop head: t[i] == '/'
        while true {
            _ = utf8.feed(slash) // cannot fail here: a pending multi-byte sequence is caught at the segment's end
            i += 1
            if i < pathEnd && t[i] == slash {
                // "//admin": an empty segment some upstreams ignore and some treat as a root, so merge or refuse
                guard policy.mergeSlashes else { return .failure(.emptySegment) }
                while i < pathEnd && t[i] == slash { i += 1 }
            }
            let segmentStart = out.count
            out.append(slash)
            var parameterAt = -1 // index in `out` of the segment's first ';'
            while i < pathEnd && t[i] != slash {
                let b = t[i]
                if b == percent {
                    // "%zz", "%4": malformed escapes that upstreams decode in different ways
                    guard i + 2 < pathEnd, let hi = ASCII.hexValue(t[i + 1]), let lo = ASCII.hexValue(t[i + 2]) else {
                        return .failure(.invalidPercentEncoding)
                    }
                    let decoded = hi << 4 | lo
                    let continues = utf8.pending
                    // overlong "%C0%AE" (a hidden '.'), surrogates, truncated sequences: decoder-dependent meaning
                    guard utf8.feed(decoded) else { return .failure(.invalidUTF8) }
                    if decoded >= 0x80 {
                        scalar = continues ? scalar << 6 | UInt32(decoded & 0x3F) : UInt32(decoded & (decoded >= 0xF0 ? 0x07 : decoded >= 0xE0 ? 0x0F : 0x1F))
                        // "/admin%C2%A0", "/admin%E3%80%80": Java and Python trim Unicode white space from segments
                        if !utf8.pending && !policy.allowEncodedWhitespace && isInvisible(scalar) { return .failure(.encodedWhitespace) }
                    }
                    if isUnreserved(decoded) {
                        // "/%61dmin" is "/admin" and "%2e%2e" is "..": decode before matching or dot removal
                        out.append(decoded)
                    } else {
                        // "%00": NUL truncation in C-based upstreams and file systems
                        if decoded == 0 { return .failure(.nul) }
                        // "/public/..%2fadmin": an upstream that decodes %2F would see a separator we did not
                        if decoded == slash && !policy.allowEncodedSlash { return .failure(.encodedSlash) }
                        // "%5C": an upstream that decodes it may treat '\' as a separator
                        if decoded == backslash && !policy.allowBackslash { return .failure(.backslash) }
                        // "/admin%20", "/admin%09": Spring's AntPathMatcher trims segments, other upstreams strip controls
                        if (decoded <= 0x20 || decoded == 0x7F) && !policy.allowEncodedWhitespace { return .failure(.encodedWhitespace) }
                        if decoded == semicolon {
                            // "/admin%3Bx": Spring decodes before it strips ";x", so %3B is a path parameter too
                            guard policy.allowPathParameters else { return .failure(.pathParameter) }
                            if parameterAt < 0 { parameterAt = out.count }
                        }
                        out.append(percent)
                        out.append(upperHex(hi))
                        out.append(upperHex(lo))
                    }
                    i += 3
                    continue
                }
                // "\0": NUL truncation in C-based upstreams and file systems
                if b == 0 { return .failure(.nul) }
                // controls, space, DEL, raw non-ASCII and '#': the parser never lets these through; refuse if seen
                guard b > 0x20 && b < 0x7F && b != hash else { return .failure(.invalidCharacter) }
                // "/public\..\admin": Windows-style upstreams treat '\' as '/'
                if b == backslash && !policy.allowBackslash { return .failure(.backslash) }
                if b == semicolon {
                    // "/admin;x": upstreams that strip path parameters (Tomcat, Jetty) see a different path
                    guard policy.allowPathParameters else { return .failure(.pathParameter) }
                    if parameterAt < 0 { parameterAt = out.count }
                }
                guard utf8.feed(b) else { return .failure(.invalidUTF8) } // ASCII inside a multi-byte sequence
                out.append(b)
                i += 1
            }
            let isLast = i == pathEnd
            // "%C3/" or "%E2%82" at the end: truncated multi-byte sequence
            if utf8.pending { return .failure(.invalidUTF8) }
            if parameterAt >= 0 {
                let nameLength = parameterAt - segmentStart - 1
                // "/public/..;/admin", "/;x/admin": parameter-stripping upstreams see a dot or empty segment we did not
                if nameLength == 0 || isDotSegment(out, segmentStart + 1, nameLength) { return .failure(.pathParameter) }
            }
            let segmentLength = out.count - segmentStart - 1
            if segmentLength == 1 && out[segmentStart + 1] == dot {
                // "/a/./b" → "/a/b"; a final "." keeps its '/' ("/a/." → "/a/")
                out.removeLast(isLast ? 1 : 2)
            } else if segmentLength == 2 && out[segmentStart + 1] == dot && out[segmentStart + 2] == dot {
                out.removeLast(3)
                // "/..", "/a/../../b": climbing above the root is probing, so refuse rather than clamp
                guard segmentStart > 0 else { return .failure(.escapesRoot) }
                var k = segmentStart - 1
                while out[k] != slash { k -= 1 } // out[0] is always '/'
                out.removeLast(out.count - k)
                if isLast { out.append(slash) } // "/a/b/.." → "/a/"
            }
            if isLast { break }
        }
        // the query is forwarded byte for byte; only refuse bytes the parser would never have let through
        var q = pathEnd
        while q < n {
            let b = t[q]
            if b == 0 { return .failure(.nul) }
            // "#" or raw control / non-ASCII bytes: never sent by conforming clients, refused as in the path
            guard b > 0x20 && b < 0x7F && b != hash else { return .failure(.invalidCharacter) }
            q += 1
        }
        let pathLength = out.count
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: t[pathEnd..<n]))
        return .success(pathLength)
    }

    /// `out[start..<start + length]` is exactly "." or "..".
    @inline(__always)
    private static func isDotSegment(_ out: [UInt8], _ start: Int, _ length: Int) -> Bool {
        (length == 1 && out[start] == dot) || (length == 2 && out[start] == dot && out[start + 1] == dot)
    }

    /// C1 controls and the Unicode White_Space characters above ASCII, plus U+180E, U+200B and U+FEFF, which
    /// some trimming functions also drop: a segment ending in one of them names another resource to them.
    @inline(__always)
    private static func isInvisible(_ c: UInt32) -> Bool {
        switch c {
        case 0x80...0xA0, 0x1680, 0x180E, 0x2000...0x200B, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF: return true
        default: return false
        }
    }

    /// RFC 3986 §2.3 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~".
    @inline(__always)
    private static func isUnreserved(_ b: UInt8) -> Bool {
        ASCII.isAlpha(b) || ASCII.isDigit(b) || b == 0x2D || b == dot || b == 0x5F || b == 0x7E
    }

    /// Uppercase hex digit of a value 0...15.
    @inline(__always)
    private static func upperHex(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 &+ v : 0x41 &+ v &- 10 }
}

/// Incremental UTF-8 validator (RFC 3629 §4): rejects overlong forms, surrogates, code points above U+10FFFF,
/// stray continuation bytes and truncated sequences.
struct UTF8Validator {
    /// Continuation bytes still expected.
    private var needed = 0
    /// Allowed range of the next continuation byte.
    private var low: UInt8 = 0x80
    private var high: UInt8 = 0xBF

    /// A multi-byte sequence is open.
    var pending: Bool { needed > 0 }

    /// Takes the next byte; false if the sequence so far cannot be valid UTF-8.
    @inline(__always)
    mutating func feed(_ b: UInt8) -> Bool {
        if needed > 0 {
            guard b >= low && b <= high else { return false }
            needed -= 1
            low = 0x80
            high = 0xBF
            return true
        }
        switch b {
        case 0x00...0x7F: return true
        case 0xC2...0xDF: needed = 1
        case 0xE0: needed = 2; low = 0xA0                 // overlong 3-byte forms
        case 0xE1...0xEC, 0xEE, 0xEF: needed = 2
        case 0xED: needed = 2; high = 0x9F                // UTF-16 surrogates
        case 0xF0: needed = 3; low = 0x90                 // overlong 4-byte forms
        case 0xF1...0xF3: needed = 3
        case 0xF4: needed = 3; high = 0x8F                // above U+10FFFF
        default: return false                             // continuation byte, C0/C1 overlong, F5...FF
        }
        return true
    }
}
