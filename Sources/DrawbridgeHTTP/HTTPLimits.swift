/// Size limits applied while parsing; exceeding one is an error, never a truncation.
public struct HTTPLimits: Sendable, Equatable {
    /// Longest request line (without its CRLF); longer → `.uriTooLong` (414).
    /// The response parser applies it to the status line, answering `.headersTooLarge`.
    public var maxRequestLineBytes: Int
    /// Longest head (request line + fields + all CRLFs, leading empty lines excluded) → `.headersTooLarge` (431).
    public var maxHeaderBytes: Int
    /// Most field lines in a head (and in a chunked trailer section) → `.headersTooLarge` (431).
    public var maxHeaderCount: Int
    /// Longest chunk-size line including chunk extensions, without its CRLF → `.badRequest`.
    public var maxChunkLineBytes: Int
    /// Largest trailer section of a chunked body, final CRLF included → `.badRequest`.
    public var maxTrailerBytes: Int

    public init(maxRequestLineBytes: Int = 8192, maxHeaderBytes: Int = 32768, maxHeaderCount: Int = 100,
                maxChunkLineBytes: Int = 1024, maxTrailerBytes: Int = 8192) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxChunkLineBytes = maxChunkLineBytes
        self.maxTrailerBytes = maxTrailerBytes
    }
}
