/// How a response's body is delimited (RFC 9112 §6.3).
public enum ResponseFraming: Sendable, Equatable {
    /// No body (HEAD response, 1xx, 204, 304).
    case none
    /// Exactly this many bytes follow the head.
    case contentLength(UInt64)
    /// The final transfer coding is chunked; decode with `ChunkedDecoder`.
    case chunked
    /// The body runs until the upstream closes the connection.
    case untilClose
}
