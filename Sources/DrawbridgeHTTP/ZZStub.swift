public struct HTTPLimits: Sendable, Equatable {
    public var maxRequestLineBytes: Int, maxHeaderBytes: Int, maxHeaderCount: Int, maxChunkLineBytes: Int, maxTrailerBytes: Int
    public init(maxRequestLineBytes: Int = 8192, maxHeaderBytes: Int = 32768, maxHeaderCount: Int = 100,
                maxChunkLineBytes: Int = 1024, maxTrailerBytes: Int = 8192) { self.maxRequestLineBytes = maxRequestLineBytes; self.maxHeaderBytes = maxHeaderBytes; self.maxHeaderCount = maxHeaderCount; self.maxChunkLineBytes = maxChunkLineBytes; self.maxTrailerBytes = maxTrailerBytes }
}
public enum HTTPVersion: Sendable, Equatable { case http10, http11 }
public enum HTTPError: Error, Equatable, Sendable {
    case badRequest(String), uriTooLong, headersTooLarge, versionNotSupported
    public var status: Int { 400 }
    public var reason: String { "" }
}
public enum FieldKind: UInt8, Sendable { case other, host, contentLength, transferEncoding, connection, hopByHop, expect, forwarded, requestId, namedInConnection }
public struct HeaderField: Sendable, Equatable { public var name: Range<Int>; public var value: Range<Int>; public var kind: FieldKind }
public enum BodyFraming: Sendable, Equatable { case none, contentLength(UInt64), chunked }
public enum ResponseFraming: Sendable, Equatable { case none, contentLength(UInt64), chunked, untilClose }
public enum ParseResult: Sendable, Equatable { case needMore, complete, error(HTTPError) }
public struct RequestHead {
    public var bytes: [UInt8] = []; public var headLength = 0; public var method = 0..<0; public var target = 0..<0
    public var absoluteAuthority: Range<Int>?; public var version = HTTPVersion.http11; public var fields: [HeaderField] = []
    public var host: Range<Int>?; public var framing = BodyFraming.none; public var keepAlive = true; public var expectContinue = false
    public var isWebSocketUpgrade = false; public var isHEAD = false
    public init() {}
    public mutating func reset() {}
    public func slice(_ r: Range<Int>) -> ArraySlice<UInt8> { bytes[r] }
    public func fieldValue(named lowercaseName: StaticString) -> Range<Int>? { nil }
}
public struct RequestHeadParser { public var limits: HTTPLimits; public init(limits: HTTPLimits = HTTPLimits()) { self.limits = limits }
    public mutating func parse(_ input: UnsafeRawBufferPointer, into head: inout RequestHead) -> ParseResult { .needMore } }
public struct ResponseHead {
    public var bytes: [UInt8] = []; public var headLength = 0; public var version = HTTPVersion.http11; public var status = 0
    public var reasonPhrase = 0..<0; public var fields: [HeaderField] = []; public var framing = ResponseFraming.none; public var keepAlive = true
    public init() {}; public mutating func reset() {}
}
public struct ResponseHeadParser { public var limits: HTTPLimits; public init(limits: HTTPLimits = HTTPLimits()) { self.limits = limits }
    public mutating func parse(_ input: UnsafeRawBufferPointer, requestWasHEAD: Bool, into head: inout ResponseHead) -> ParseResult { .needMore } }
public struct ChunkedDecoder {
    public enum Event: Sendable, Equatable { case data(Range<Int>), needMore, end, error(HTTPError) }
    public init(limits: HTTPLimits = HTTPLimits()) {}
    public mutating func reset() {}
    public mutating func next(_ input: UnsafeRawBufferPointer, offset: inout Int) -> Event { .needMore }
}
public enum ChunkedEncoding {
    public static func appendChunkHeader(size: Int, to buffer: inout [UInt8]) {}
    public static let chunkTrailer: [UInt8] = [13, 10]
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
}
public enum ASCII {
    public static func equalsCaseInsensitive(_ a: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool { false }
    public static func appendDecimal(_ value: UInt64, to buffer: inout [UInt8]) {}
}
