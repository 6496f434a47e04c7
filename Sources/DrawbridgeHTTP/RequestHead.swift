/// A parsed request head. Reuse one per connection: `reset()` keeps capacity.
///
/// All ranges are offsets into `bytes`.
public struct RequestHead: Sendable {
    /// Copy of the head's bytes, request line through the final CRLFCRLF (skipped leading CRLFs excluded).
    public var bytes: [UInt8]
    /// Bytes of the input consumed: skipped leading CRLFs plus `bytes.count`.
    public var headLength: Int
    public var method: Range<Int>
    /// Origin-form path and query as sent (`/a/b?x`), `*` for OPTIONS *, or for absolute-form the
    /// path and query part only. For an absolute-form target without a path this is a one-byte
    /// range holding "/" (it points into the request line's "HTTP/" for want of another "/").
    public var target: Range<Int>
    /// Authority of an absolute-form target (`http://host:port/...`), else nil.
    public var absoluteAuthority: Range<Int>?
    public var version: HTTPVersion
    public var fields: [HeaderField]
    /// Value of the single Host field (nil only for HTTP/1.0 without Host).
    public var host: Range<Int>?
    /// The Host value as the one host rule parsed it (`HostName.parse`, which the parser applies:
    /// an invalid Host is a 400); nil without Host.
    public var hostParsed: HostName.Parsed?
    public var framing: BodyFraming
    /// HTTP/1.1: true unless Connection has "close"; HTTP/1.0: only with "keep-alive" (and no "close").
    public var keepAlive: Bool
    /// Expect: 100-continue on an HTTP/1.1 request (ignored on HTTP/1.0, RFC 9110 §10.1.1).
    public var expectContinue: Bool
    /// HTTP/1.1 GET with an Upgrade field listing "websocket" and a Connection field listing "upgrade".
    public var isWebSocketUpgrade: Bool
    public var isHEAD: Bool
    /// GET, HEAD, OPTIONS, PUT or DELETE (`RequestMethod.isIdempotent`): may be sent again.
    public var isIdempotent: Bool

    public init() {
        bytes = []
        headLength = 0
        method = 0..<0
        target = 0..<0
        absoluteAuthority = nil
        version = .http11
        fields = []
        host = nil
        hostParsed = nil
        framing = .none
        keepAlive = false
        expectContinue = false
        isWebSocketUpgrade = false
        isHEAD = false
        isIdempotent = false
    }

    /// Empties the head, keeping the capacity of `bytes` and `fields`. Every other property goes
    /// back to `init()`'s value, so a property added later cannot survive into the next message.
    public mutating func reset() {
        var keptBytes = bytes, keptFields = fields
        self = RequestHead()  // drops the other reference first, so emptying below copies nothing
        keptBytes.removeAll(keepingCapacity: true)
        keptFields.removeAll(keepingCapacity: true)
        bytes = keptBytes
        fields = keptFields
    }

    /// The bytes of `r`.
    public func slice(_ r: Range<Int>) -> ArraySlice<UInt8> { bytes[r] }

    /// Value of the first field with that name (ASCII case-insensitive); `lowercaseName` must be lowercase.
    public func fieldValue(named lowercaseName: StaticString) -> Range<Int>? {
        HeaderField.firstValue(named: lowercaseName, in: fields, of: bytes)
    }
}
