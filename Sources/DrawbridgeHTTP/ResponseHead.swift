/// A parsed response head from an upstream. Reuse one per upstream connection: `reset()` keeps capacity.
///
/// All ranges are offsets into `bytes`.
public struct ResponseHead: Sendable {
    /// Interim (1xx) responses accepted before a final one; one more is a malformed answer. Real
    /// servers send one or two (100, 103); a stream of them would hold the exchange (and the
    /// connection) open. One bound for the proxy (`ClientExchange`) and the gateway's own client.
    public static let maxInterimResponses = 16

    /// Copy of the head's bytes, status line through the final CRLFCRLF.
    public var bytes: [UInt8]
    /// Bytes of the input consumed (equals `bytes.count`).
    public var headLength: Int
    public var version: HTTPVersion
    public var status: Int
    /// The reason phrase (possibly empty).
    public var reasonPhrase: Range<Int>
    public var fields: [HeaderField]
    public var framing: ResponseFraming
    /// The upstream connection can be reused after this response's body.
    /// False for `.untilClose` framing and for 101 (the connection leaves HTTP).
    public var keepAlive: Bool
    /// The head announces a body (Transfer-Encoding, or Content-Length above 0) that `framing`
    /// says does not follow (HEAD, 1xx, 204, 304): an upstream that sends it anyway would have it
    /// read as the next response on the connection.
    public var bodyAnnounced: Bool

    public init() {
        bytes = []
        headLength = 0
        version = .http11
        status = 0
        reasonPhrase = 0..<0
        fields = []
        framing = .none
        keepAlive = false
        bodyAnnounced = false
    }

    /// Empties the head, keeping the capacity of `bytes` and `fields`. Every other property goes
    /// back to `init()`'s value, so a property added later cannot survive into the next message.
    public mutating func reset() {
        var keptBytes = bytes, keptFields = fields
        self = ResponseHead()  // drops the other reference first, so emptying below copies nothing
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
