/// How a request's body is delimited (RFC 9112 §6.3).
public enum BodyFraming: Sendable, Equatable {
    /// No body.
    case none
    /// Exactly this many bytes follow the head.
    case contentLength(UInt64)
    /// The chunked transfer coding follows the head; decode with `ChunkedDecoder`.
    case chunked

    /// The one framing rule for request and response heads (RFC 9112 §6.1–6.3), stricter than the
    /// RFC: one Transfer-Encoding field whose value is exactly `chunked`, never with Content-Length
    /// nor on HTTP/1.0; Content-Length fields all of one valid value. nil: the head has neither.
    static func declared(_ b: UnsafeRawBufferPointer, _ fields: [HeaderField], version: HTTPVersion) -> Result<BodyFraming?, HTTPError> {
        var transferEncodings = 0
        var transferEncoding = 0..<0
        var hasContentLength = false
        for f in fields {
            switch f.kind {
            case .transferEncoding:
                transferEncodings += 1
                transferEncoding = f.value
            case .contentLength:
                hasContentLength = true
            default:
                break
            }
        }
        if transferEncodings > 0 {
            // reject CL+TE: request smuggling, response desync
            if hasContentLength { return .failure(.badRequest("Content-Length with Transfer-Encoding")) }
            // reject TE in HTTP/1.0: a 1.0 recipient would frame by Content-Length or close (smuggling)
            if version == .http10 { return .failure(.badRequest("Transfer-Encoding in HTTP/1.0")) }
            // one field, exactly "chunked" (as nginx): two fields or other codings are framing that
            // recipients read differently (TE obfuscation: "identity" + "chunked", "chunked, identity")
            if transferEncodings > 1 { return .failure(.badRequest("multiple Transfer-Encoding fields")) }
            guard ASCII.equalsCaseInsensitive(b, transferEncoding, "chunked") else {
                return .failure(.badRequest("unsupported Transfer-Encoding"))
            }
            return .success(.chunked)
        }
        guard hasContentLength else { return .success(nil) }
        switch ContentLength.combine(b, fields) {
        case .failure(let e): return .failure(e)
        case .success(let length): return .success(.contentLength(length ?? 0))
        }
    }
}
