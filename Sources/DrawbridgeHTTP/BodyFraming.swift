/// How a request's body is delimited (RFC 9112 §6.3).
public enum BodyFraming: Sendable, Equatable {
    /// No body.
    case none
    /// Exactly this many bytes follow the head.
    case contentLength(UInt64)
    /// The chunked transfer coding follows the head; decode with `ChunkedDecoder`.
    case chunked
}
