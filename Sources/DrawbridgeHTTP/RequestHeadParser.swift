/// Strict parser for request heads (RFC 9112 §2-§6, RFC 9110).
///
/// Keeps scanning state between calls, so calling `parse` again after each read only examines
/// new bytes. Between two `.needMore` results the input must start at the same byte; after
/// `.complete` or `.error` the parser starts afresh (call `reset()` to force that at any time).
public struct RequestHeadParser: Sendable {
    public var limits: HTTPLimits
    /// Longest accepted method.
    public static let maxMethodBytes = RequestMethod.maxBytes
    private var scanner = HeadScanner(skipsLeadingEmptyLines: true)

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Forgets any partially scanned head.
    public mutating func reset() { scanner.reset() }

    /// Parses the head at the start of `input`. `.needMore` while the head is incomplete and no limit
    /// is exceeded; `.complete` fills `head` (head.headLength = bytes consumed); `.error` on any violation.
    /// Must be cheap to call again on the same, grown input (the caller calls it after every read).
    public mutating func parse(_ input: UnsafeRawBufferPointer, into head: inout RequestHead) -> ParseResult {
        let outcome = scanner.scan(input, limits: limits, firstLineLimit: limits.maxRequestLineBytes,
                                   firstLineTooLong: .uriTooLong)
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
            if let e = Self.interpret(b, into: &head, limits: limits) { return .error(e) }
            return .complete
        }
    }

    /// Fills `head` from the delimited head `b` (offsets in `b` equal offsets in `head.bytes`).
    private static func interpret(_ b: UnsafeRawBufferPointer, into head: inout RequestHead, limits: HTTPLimits) -> HTTPError? {
        var lineEnd = 0
        while b[lineEnd] != ASCII.cr { lineEnd += 1 }
        if let e = requestLine(b, 0..<lineEnd, into: &head) { return e }
        if let e = FieldLines.parse(b, from: lineEnd + 2, into: &head.fields, limits: limits) { return e }
        return semantics(b, into: &head)
    }

    /// `method SP request-target SP HTTP-version`, exactly one SP each (RFC 9112 §3).
    private static func requestLine(_ b: UnsafeRawBufferPointer, _ line: Range<Int>, into head: inout RequestHead) -> HTTPError? {
        let end = line.upperBound
        var sp1 = 0
        while sp1 < end && b[sp1] != ASCII.sp { sp1 += 1 }
        var sp2 = sp1 + 1
        while sp2 < end && b[sp2] != ASCII.sp { sp2 += 1 }
        guard sp2 < end else { return .badRequest("malformed request line") }
        let method = 0..<sp1
        // a token (anything else confuses the request-line split), upper case, not TRACE/TRACK/CONNECT
        if let e = RequestMethod.refusal(UnsafeRawBufferPointer(rebasing: b[method])) { return e }
        var target = sp1 + 1..<sp2
        // empty target means two SPs in a row: ambiguous request-line splitting
        guard !target.isEmpty else { return .badRequest("empty request-target") }
        switch HTTPVersion.parse(b, sp2 + 1..<end) {
        case .failure(let e): return e
        case .success(let v): head.version = v
        }
        for i in target {
            let c = b[i]
            // visible ASCII only; '#' never comes from clients: path confusion between gateway and backend
            guard c >= 0x21 && c <= 0x7E && c != 0x23 else { return .badRequest("invalid character in request-target") }
        }
        head.method = method
        head.isHEAD = ASCII.equals(b, method, "HEAD")
        head.isIdempotent = RequestMethod.isIdempotent(UnsafeRawBufferPointer(rebasing: b[method]))
        let t = target.lowerBound
        if b[t] == ASCII.slash {
            head.target = target
            return nil
        }
        if target.count == 1 && b[t] == 0x2A {
            guard ASCII.equals(b, method, "OPTIONS") else { return .badRequest("asterisk-form without OPTIONS") }
            head.target = target
            return nil
        }
        var authorityStart: Int
        if target.count >= 7 && ASCII.equalsCaseInsensitive(b, t..<t + 7, "http://") {
            authorityStart = t + 7
        } else if target.count >= 8 && ASCII.equalsCaseInsensitive(b, t..<t + 8, "https://") {
            authorityStart = t + 8
        } else {
            // authority-form and other schemes: no tunnels, no foreign schemes
            return .badRequest("unsupported request-target form")
        }
        var authorityEnd = authorityStart
        while authorityEnd < sp2 && b[authorityEnd] != ASCII.slash && b[authorityEnd] != 0x3F { authorityEnd += 1 }
        let authority = authorityStart..<authorityEnd
        // userinfo or odd hosts in absolute-form: routing confusion
        guard Authority.isValid(b, authority) else { return .badRequest("invalid authority in request-target") }
        head.absoluteAuthority = authority
        if authorityEnd == sp2 {
            head.target = sp2 + 5..<sp2 + 6 // the "/" of "HTTP/1.x": an empty path means "/"
        } else if b[authorityEnd] == 0x3F {
            // stricter than RFC: "http://h?q" cannot be rewritten to origin-form without inventing bytes
            return .badRequest("absolute-form with query but no path")
        } else {
            target = authorityEnd..<sp2
            head.target = target
        }
        return nil
    }

    /// Host, framing, connection options and expectations (RFC 9112 §3.2, §6; RFC 9110 §7.6.1, §10.1.1).
    private static func semantics(_ b: UnsafeRawBufferPointer, into head: inout RequestHead) -> HTTPError? {
        var hostCount = 0
        var expectContinue = false
        for f in head.fields {
            switch f.kind {
            case .host:
                hostCount += 1
                head.host = f.value
            case .expect:
                if ASCII.equalsCaseInsensitive(b, f.value, "100-continue") {
                    expectContinue = true
                } else {
                    // only 100-continue is supported (RFC 9110 would answer 417); unknown expectations are refused
                    return .badRequest("unsupported Expect")
                }
            default:
                break
            }
        }
        // reject duplicate Host: gateway and backend may pick different ones (host confusion)
        if hostCount > 1 { return .badRequest("multiple Host fields") }
        if hostCount == 0 {
            if head.version == .http11 { return .badRequest("missing Host") }
        } else if let host = head.host {
            // malformed Host, or one other parsers read as another host ("127.1", "a..b"):
            // virtual-host confusion / cache poisoning. The one host rule, parsed once.
            guard let parsed = HostName.parse(UnsafeRawBufferPointer(rebasing: b[host])) else { return .badRequest("invalid Host") }
            head.hostParsed = parsed
        }

        switch BodyFraming.declared(b, head.fields, version: head.version) {
        case .failure(let e): return e
        case .success(let framing): head.framing = framing ?? .none
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
        head.expectContinue = expectContinue && head.version == .http11

        if options.upgrade && head.version == .http11 && ASCII.equals(b, head.method, "GET") {
            for f in head.fields where ASCII.equalsCaseInsensitive(b, f.name, "upgrade") {
                for proto in ListElements(b, f.value) {
                    var nameEnd = proto.lowerBound
                    while nameEnd < proto.upperBound && b[nameEnd] != ASCII.slash { nameEnd += 1 }
                    if ASCII.equalsCaseInsensitive(b, proto.lowerBound..<nameEnd, "websocket") {
                        head.isWebSocketUpgrade = true
                    }
                }
            }
        }
        return nil
    }
}
