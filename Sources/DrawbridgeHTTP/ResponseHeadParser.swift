/// Strict parser for upstream response heads (RFC 9112 §4, §6.3).
///
/// Errors use the `HTTPError` cases (limits → `.headersTooLarge`); the gateway answers 502 for any of them.
/// Same calling convention as `RequestHeadParser`.
public struct ResponseHeadParser: Sendable {
    public var limits: HTTPLimits
    private var scanner = HeadScanner(skipsLeadingEmptyLines: false)

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Forgets any partially scanned head.
    public mutating func reset() { scanner.reset() }

    /// `requestWasHEAD`: a response to HEAD has no body whatever its headers say.
    public mutating func parse(_ input: UnsafeRawBufferPointer, requestWasHEAD: Bool, into head: inout ResponseHead) -> ParseResult {
        let outcome = scanner.scan(input, limits: limits, firstLineLimit: limits.maxRequestLineBytes,
                                   firstLineTooLong: .headersTooLarge)
        switch outcome {
        case .needMore:
            return .needMore
        case .error(let e):
            scanner.reset()
            return .error(e)
        case .found(let start, let end):
            scanner.reset()
            head.reset()
            let b = UnsafeRawBufferPointer(rebasing: input[start..<end])
            head.bytes.append(contentsOf: b)
            head.headLength = end
            if let e = Self.interpret(b, requestWasHEAD: requestWasHEAD, into: &head, limits: limits) { return .error(e) }
            return .complete
        }
    }

    private static func interpret(_ b: UnsafeRawBufferPointer, requestWasHEAD: Bool, into head: inout ResponseHead,
                                  limits: HTTPLimits) -> HTTPError? {
        var lineEnd = 0
        while b[lineEnd] != ASCII.cr { lineEnd += 1 }
        if let e = statusLine(b, 0..<lineEnd, into: &head) { return e }
        if let e = FieldLines.parse(b, from: lineEnd + 2, into: &head.fields, limits: limits) { return e }
        return semantics(b, requestWasHEAD: requestWasHEAD, into: &head)
    }

    /// `HTTP-version SP 3DIGIT SP [reason-phrase]`, also accepting a missing final SP (RFC 9112 §4).
    private static func statusLine(_ b: UnsafeRawBufferPointer, _ line: Range<Int>, into head: inout ResponseHead) -> HTTPError? {
        let end = line.upperBound
        var sp = 0
        while sp < end && b[sp] != ASCII.sp { sp += 1 }
        switch HTTPVersion.parse(b, 0..<sp) {
        case .failure(let e): return e
        case .success(let v): head.version = v
        }
        guard end >= sp + 4, ASCII.isDigit(b[sp + 1]), ASCII.isDigit(b[sp + 2]), ASCII.isDigit(b[sp + 3]) else {
            return .badRequest("malformed status line")
        }
        let status = Int(b[sp + 1] &- 0x30) * 100 + Int(b[sp + 2] &- 0x30) * 10 + Int(b[sp + 3] &- 0x30)
        guard status >= 100 && status <= 599 else { return .badRequest("status code out of range") }
        head.status = status
        if end == sp + 4 {
            head.reasonPhrase = end..<end
            return nil
        }
        guard b[sp + 4] == ASCII.sp else { return .badRequest("malformed status line") }
        for i in sp + 5..<end where !ASCII.isFieldValueByte(b[i]) {
            return .badRequest("invalid character in reason phrase")
        }
        head.reasonPhrase = sp + 5..<end
        return nil
    }

    private static func semantics(_ b: UnsafeRawBufferPointer, requestWasHEAD: Bool, into head: inout ResponseHead) -> HTTPError? {
        let declared: BodyFraming?
        switch BodyFraming.declared(b, head.fields, version: head.version) {
        case .failure(let e): return e
        case .success(let d): declared = d
        }
        let status = head.status
        if requestWasHEAD || status < 200 || status == 204 || status == 304 {
            head.framing = .none
            // a body announced that must not follow: if it comes anyway it is on the connection still
            switch declared {
            case .some(.chunked): head.bodyAnnounced = true
            case .some(.contentLength(let n)): head.bodyAnnounced = n > 0
            default: break
            }
        } else {
            switch declared {
            case .some(.chunked): head.framing = .chunked
            case .some(.contentLength(let n)): head.framing = .contentLength(n)
            default: head.framing = .untilClose // neither: the body runs until the upstream closes
            }
        }

        let options: ConnectionOptions
        switch ConnectionOptions.read(b, &head.fields) {
        case .failure(let e): return e
        case .success(let o): options = o
        }
        switch head.version {
        case .http11: head.keepAlive = !options.close
        case .http10: head.keepAlive = options.keepAlive && !options.close
        }
        if head.framing == .untilClose || status == 101 { head.keepAlive = false }
        return nil
    }
}
