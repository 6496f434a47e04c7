/// Incremental search for the end of a message head (the empty line), enforcing byte-level
/// rules and size limits as bytes arrive, so a slow or endless head fails early.
///
/// Keeps its position between calls: calling again on the same, grown input only looks at new bytes.
struct HeadScanner: Sendable {
    enum Outcome {
        case needMore
        /// The head occupies `start..<end` of the input (`end` is just after the final CRLF);
        /// `start` is after any skipped leading empty lines.
        case found(start: Int, end: Int)
        case error(HTTPError)
    }

    private enum State: UInt8 {
        case leadingLineStart, leadingLF, firstLine, firstLineLF, lineStart, line, lineLF, finalLF
    }

    /// How many empty lines may precede a request line (RFC 9112 §2.2 asks for at least one).
    static let maxLeadingEmptyLines = 4

    private var state: State
    private var position = 0
    private var headStart = 0
    private var emptyLines = 0
    private var fieldLines = 0
    private let skipsLeadingEmptyLines: Bool

    init(skipsLeadingEmptyLines: Bool) {
        self.skipsLeadingEmptyLines = skipsLeadingEmptyLines
        state = skipsLeadingEmptyLines ? .leadingLineStart : .firstLine
    }

    mutating func reset() { self = HeadScanner(skipsLeadingEmptyLines: skipsLeadingEmptyLines) }

    /// - Parameters:
    ///   - firstLineLimit: longest first line without its CRLF.
    ///   - firstLineTooLong: the error when that is exceeded.
    mutating func scan(_ input: UnsafeRawBufferPointer, limits: HTTPLimits,
                       firstLineLimit: Int, firstLineTooLong: HTTPError) -> Outcome {
        // The caller handed us a different (shorter) buffer: start over rather than read out of bounds.
        if position > input.count { reset() }
        let base = input.baseAddress
        while position < input.count {
            // Fast path inside a line: skip bytes that cannot end it or be NUL (all such are > CR).
            // Same checks as the byte-at-a-time path below, done once for the run.
            if state == .line || state == .firstLine, let base {
                var p = position
                let n = input.count
                // Eight bytes at a time while none of them is ≤ CR (SWAR "has byte less than 14").
                while p + 8 <= n && !ASCII.hasByteBelow(base.loadUnaligned(fromByteOffset: p, as: UInt64.self), 0x0E) { p += 8 }
                while p < n && base.load(fromByteOffset: p, as: UInt8.self) > ASCII.cr { p += 1 }
                if p > position {
                    if state == .firstLine && p - 1 - headStart >= firstLineLimit { return .error(firstLineTooLong) }
                    if p - headStart > limits.maxHeaderBytes { return .error(.headersTooLarge) }
                    position = p
                    continue
                }
            }
            let b = input[position]
            // reject NUL anywhere: C-string truncation in downstream parsers
            if b == 0 { return .error(.badRequest("NUL byte in head")) }
            switch state {
            case .leadingLineStart:
                if b == ASCII.cr {
                    state = .leadingLF
                } else if b == ASCII.lf {
                    return .error(.badRequest("bare LF")) // reject bare LF: line-ending confusion between parsers
                } else {
                    headStart = position
                    state = .firstLine
                    continue // examine this byte again as part of the first line
                }
            case .leadingLF:
                guard b == ASCII.lf else { return .error(.badRequest("bare CR")) }
                emptyLines += 1
                // bound skipped empty lines: endless CRLF keeps a connection busy for free
                if emptyLines > Self.maxLeadingEmptyLines {
                    return .error(.badRequest("too many empty lines before request line"))
                }
                state = .leadingLineStart
            case .firstLine:
                if b == ASCII.cr {
                    state = .firstLineLF
                } else if b == ASCII.lf {
                    return .error(.badRequest("bare LF"))
                } else if position - headStart >= firstLineLimit {
                    return .error(firstLineTooLong) // long request line: memory exhaustion
                }
            case .firstLineLF:
                guard b == ASCII.lf else { return .error(.badRequest("bare CR")) } // bare CR: smuggling
                state = .lineStart
            case .lineStart:
                if b == ASCII.cr {
                    state = .finalLF
                } else if b == ASCII.lf {
                    return .error(.badRequest("bare LF"))
                } else {
                    fieldLines += 1
                    // too many fields: CPU/memory exhaustion
                    if fieldLines > limits.maxHeaderCount { return .error(.headersTooLarge) }
                    state = .line
                }
            case .line:
                if b == ASCII.cr {
                    state = .lineLF
                } else if b == ASCII.lf {
                    return .error(.badRequest("bare LF"))
                }
            case .lineLF:
                guard b == ASCII.lf else { return .error(.badRequest("bare CR")) }
                state = .lineStart
            case .finalLF:
                guard b == ASCII.lf else { return .error(.badRequest("bare CR")) }
                if position + 1 - headStart > limits.maxHeaderBytes { return .error(.headersTooLarge) }
                return .found(start: headStart, end: position + 1)
            }
            position += 1
            // oversized head: memory exhaustion; checked per byte so it fails before the terminator arrives
            if state.rawValue >= State.firstLine.rawValue && position - headStart > limits.maxHeaderBytes {
                return .error(.headersTooLarge)
            }
        }
        return .needMore
    }
}
