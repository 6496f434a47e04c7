import DrawbridgeHTTP

/// Parses `raw` (UTF-8 bytes) in one call with a fresh parser.
func parseRequest(_ raw: String, limits: HTTPLimits = HTTPLimits()) -> (ParseResult, RequestHead) {
    parseRequest(Array(raw.utf8), limits: limits)
}

func parseRequest(_ input: [UInt8], limits: HTTPLimits = HTTPLimits()) -> (ParseResult, RequestHead) {
    var parser = RequestHeadParser(limits: limits)
    var head = RequestHead()
    let result = input.withUnsafeBytes { parser.parse($0, into: &head) }
    return (result, head)
}

/// Parses `raw` as an upstream response in one call with a fresh parser.
func parseResponse(_ raw: String, requestWasHEAD: Bool = false, limits: HTTPLimits = HTTPLimits()) -> (ParseResult, ResponseHead) {
    var parser = ResponseHeadParser(limits: limits)
    var head = ResponseHead()
    let input = Array(raw.utf8)
    let result = input.withUnsafeBytes { parser.parse($0, requestWasHEAD: requestWasHEAD, into: &head) }
    return (result, head)
}

extension RequestHead {
    func text(_ r: Range<Int>?) -> String? {
        guard let r else { return nil }
        return String(decoding: bytes[r], as: UTF8.self)
    }
}

extension ResponseHead {
    func text(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
}

/// Deterministic pseudo-random numbers (SplitMix64) so split tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let bad = HTTPError.badRequest
