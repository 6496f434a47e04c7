/// Incremental, strict decoder for the chunked transfer coding (RFC 9112 §7.1). Trailers are read and discarded.
///
/// Works on any split of the input, down to one byte per call. After `.end` it keeps answering `.end`
/// and after `.error` the same error, until `reset()`.
public struct ChunkedDecoder: Sendable {
    public enum Event: Sendable, Equatable {
        /// Chunk data, as offsets into `input` (may be part of a chunk).
        case data(Range<Int>)
        /// All of input from offset consumed; call again with more bytes.
        case needMore
        /// Last-chunk and trailer section consumed; `offset` is just after them.
        case end
        case error(HTTPError)
    }

    /// Most hex digits in a chunk-size (15 digits always fit in UInt64).
    public static let maxSizeDigits = 15

    private enum State: UInt8 {
        case size, sizeWhitespace, extStart, extName, extNameWhitespace, extValueStart, extToken,
             extQuoted, extQuotedEscape, extAfterValue, extWhitespace, sizeLF,
             data, dataCR, dataLF,
             trailerLineStart, trailerName, trailerValue, trailerLineLF, endLF,
             done, failed
    }

    private let limits: HTTPLimits
    private var state: State = .size
    private var digits = 0
    private var size: UInt64 = 0
    private var remaining: UInt64 = 0
    private var lineBytes = 0
    private var trailerBytes = 0
    private var trailerFields = 0
    private var failure: HTTPError = .badRequest("")

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Prepares for a new chunked body.
    public mutating func reset() { self = ChunkedDecoder(limits: limits) }

    private mutating func fail(_ why: String) -> Event {
        failure = .badRequest(why)
        state = .failed
        return .error(failure)
    }

    public mutating func next(_ input: UnsafeRawBufferPointer, offset: inout Int) -> Event {
        while offset < input.count {
            switch state {
            case .done: return .end
            case .failed: return .error(failure)
            case .data:
                let n = Int(min(remaining, UInt64(input.count - offset)))
                let range = offset..<offset + n
                offset += n
                remaining -= UInt64(n)
                if remaining == 0 { state = .dataCR }
                return .data(range)
            default: break
            }
            let b = input[offset]
            offset += 1
            switch state {
            case .size, .sizeWhitespace, .extStart, .extName, .extNameWhitespace, .extValueStart, .extToken,
                 .extQuoted, .extQuotedEscape, .extAfterValue, .extWhitespace:
                if b != ASCII.cr {
                    lineBytes += 1
                    // bounded chunk line: endless extensions cost memory/CPU for free
                    if lineBytes > limits.maxChunkLineBytes { return fail("chunk line too long") }
                }
            case .trailerLineStart, .trailerName, .trailerValue, .trailerLineLF, .endLF:
                trailerBytes += 1
                // bounded trailer section: memory exhaustion
                if trailerBytes > limits.maxTrailerBytes { return fail("trailer section too large") }
            default: break
            }
            switch state {
            case .size:
                if let h = ASCII.hexValue(b) {
                    digits += 1
                    // oversized chunk-size: integer overflow lets parsers disagree on the length (smuggling)
                    if digits > Self.maxSizeDigits { return fail("chunk size too large") }
                    size = size << 4 | UInt64(h)
                } else if digits == 0 {
                    // reject empty size, signs and "0x": parsers disagree on them (smuggling)
                    return fail("invalid chunk size")
                } else if b == ASCII.cr {
                    state = .sizeLF
                } else if b == ASCII.semicolon {
                    state = .extStart
                } else if ASCII.isWhitespace(b) {
                    state = .sizeWhitespace
                } else {
                    return fail("invalid chunk size")
                }
            case .sizeWhitespace, .extWhitespace:
                // whitespace after size/extension must lead to another ";" (BWS): "1 2" is not a size
                if b == ASCII.semicolon { state = .extStart }
                else if !ASCII.isWhitespace(b) { return fail("invalid chunk extension") }
            case .extStart:
                if ASCII.isTchar(b) { state = .extName }
                else if !ASCII.isWhitespace(b) { return fail("invalid chunk extension") }
            case .extName:
                if ASCII.isTchar(b) { break }
                if b == ASCII.cr { state = .sizeLF }
                else if b == ASCII.semicolon { state = .extStart }
                else if b == 0x3D { state = .extValueStart }
                else if ASCII.isWhitespace(b) { state = .extNameWhitespace }
                else { return fail("invalid chunk extension") }
            case .extNameWhitespace:
                if b == ASCII.semicolon { state = .extStart }
                else if b == 0x3D { state = .extValueStart }
                else if !ASCII.isWhitespace(b) { return fail("invalid chunk extension") }
            case .extValueStart:
                if b == 0x22 { state = .extQuoted }
                else if ASCII.isTchar(b) { state = .extToken }
                else if !ASCII.isWhitespace(b) { return fail("invalid chunk extension") }
            case .extToken:
                if ASCII.isTchar(b) { break }
                if b == ASCII.cr { state = .sizeLF }
                else if b == ASCII.semicolon { state = .extStart }
                else if ASCII.isWhitespace(b) { state = .extWhitespace }
                else { return fail("invalid chunk extension") }
            case .extQuoted:
                if b == 0x22 { state = .extAfterValue }
                else if b == 0x5C { state = .extQuotedEscape }
                // qdtext: no controls (CR/LF inside quotes would hide a line end: smuggling)
                else if !(ASCII.isFieldValueByte(b)) { return fail("invalid chunk extension") }
            case .extQuotedEscape:
                guard ASCII.isFieldValueByte(b) else { return fail("invalid chunk extension") }
                state = .extQuoted
            case .extAfterValue:
                if b == ASCII.cr { state = .sizeLF }
                else if b == ASCII.semicolon { state = .extStart }
                else if ASCII.isWhitespace(b) { state = .extWhitespace }
                else { return fail("invalid chunk extension") }
            case .sizeLF:
                // bare CR: smuggling
                guard b == ASCII.lf else { return fail("bare CR in chunk line") }
                if size == 0 {
                    state = .trailerLineStart
                } else {
                    remaining = size
                    state = .data
                }
            case .dataCR:
                // data must be followed by exactly CRLF: anything else means the size lied (smuggling)
                guard b == ASCII.cr else { return fail("missing CRLF after chunk data") }
                state = .dataLF
            case .dataLF:
                guard b == ASCII.lf else { return fail("missing CRLF after chunk data") }
                state = .size
                digits = 0
                size = 0
                lineBytes = 0
            case .trailerLineStart:
                if b == ASCII.cr {
                    state = .endLF
                } else if ASCII.isWhitespace(b) {
                    return fail("obs-fold in trailer") // obs-fold: smuggling
                } else if ASCII.isTchar(b) {
                    trailerFields += 1
                    if trailerFields > limits.maxHeaderCount { return fail("too many trailer fields") }
                    state = .trailerName
                } else {
                    return fail("invalid trailer field")
                }
            case .trailerName:
                if b == ASCII.colon { state = .trailerValue }
                else if ASCII.isWhitespace(b) { return fail("whitespace before colon in trailer") } // smuggling
                else if !ASCII.isTchar(b) { return fail("invalid trailer field") }
            case .trailerValue:
                if b == ASCII.cr { state = .trailerLineLF }
                // NUL, bare LF and other controls: injection / line confusion
                else if !ASCII.isFieldValueByte(b) { return fail("invalid character in trailer") }
            case .trailerLineLF:
                guard b == ASCII.lf else { return fail("bare CR in trailer") }
                state = .trailerLineStart
            case .endLF:
                guard b == ASCII.lf else { return fail("bare CR in trailer") }
                state = .done
                return .end
            case .data, .done, .failed:
                break // handled above
            }
        }
        switch state {
        case .done: return .end
        case .failed: return .error(failure)
        default: return .needMore
        }
    }
}
