/// Content-Length parsing (RFC 9110 §8.6), strict.
enum ContentLength {
    /// Longest accepted value; 18 digits always fit in UInt64.
    static let maxDigits = 18

    /// Parses one Content-Length field value: `1*DIGIT`, or a comma list of identical `1*DIGIT`.
    static func parse(_ b: UnsafeRawBufferPointer, _ value: Range<Int>) -> Result<UInt64, HTTPError> {
        var result: UInt64? = nil
        for element in ListElements(b, value) {
            // reject signs, spaces, hex and empty values: parsers disagree on them (request smuggling)
            guard !element.isEmpty, element.count <= maxDigits else {
                return .failure(.badRequest("malformed Content-Length"))
            }
            var v: UInt64 = 0
            for i in element {
                guard ASCII.isDigit(b[i]) else { return .failure(.badRequest("malformed Content-Length")) }
                v = v * 10 + UInt64(b[i] &- 0x30)
            }
            // reject differing lengths in one list: request smuggling
            if let r = result, r != v { return .failure(.badRequest("conflicting Content-Length values")) }
            result = v
        }
        guard let r = result else { return .failure(.badRequest("malformed Content-Length")) }
        return .success(r)
    }

    /// Folds all Content-Length fields of a head: identical values collapse, different ones are an error.
    static func combine(_ b: UnsafeRawBufferPointer, _ fields: [HeaderField]) -> Result<UInt64?, HTTPError> {
        var length: UInt64? = nil
        for f in fields where f.kind == .contentLength {
            switch parse(b, f.value) {
            case .failure(let e): return .failure(e)
            case .success(let v):
                // reject differing Content-Length fields: request smuggling
                if let l = length, l != v { return .failure(.badRequest("conflicting Content-Length values")) }
                length = v
            }
        }
        return .success(length)
    }
}
