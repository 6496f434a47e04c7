/// The two HTTP versions spoken on the wire by this gateway.
public enum HTTPVersion: Sendable, Equatable {
    case http10, http11

    /// Parses an HTTP-version (RFC 9112 §2.3, case-sensitive `HTTP/DIGIT.DIGIT`).
    /// Other well-formed versions (`HTTP/2.0`, `HTTP/1.2`) are `.versionNotSupported`; anything else `.badRequest`.
    static func parse(_ b: UnsafeRawBufferPointer, _ r: Range<Int>) -> Result<HTTPVersion, HTTPError> {
        let s = r.lowerBound
        if r.count == 8, b[s] == 0x48, b[s + 1] == 0x54, b[s + 2] == 0x54, b[s + 3] == 0x50, b[s + 4] == 0x2F,
           ASCII.isDigit(b[s + 5]), b[s + 6] == 0x2E, ASCII.isDigit(b[s + 7]) {
            if b[s + 5] == 0x31 && b[s + 7] == 0x31 { return .success(.http11) }
            if b[s + 5] == 0x31 && b[s + 7] == 0x30 { return .success(.http10) }
            return .failure(.versionNotSupported)
        }
        return .failure(.badRequest("malformed HTTP version"))
    }
}
