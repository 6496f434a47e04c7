/// Iterates the elements of a comma-separated field value (RFC 9110 §5.6.1), each with
/// surrounding whitespace trimmed. Empty elements are produced as empty ranges.
struct ListElements: IteratorProtocol, Sequence {
    private let bytes: UnsafeRawBufferPointer
    private var position: Int
    private let end: Int
    private var finished = false

    init(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) {
        self.bytes = bytes
        position = range.lowerBound
        end = range.upperBound
    }

    mutating func next() -> Range<Int>? {
        if finished { return nil }
        var s = position
        var e = s
        while e < end && bytes[e] != ASCII.comma { e += 1 }
        if e == end { finished = true } else { position = e + 1 }
        let stop = e
        while s < stop && ASCII.isWhitespace(bytes[s]) { s += 1 }
        while e > s && ASCII.isWhitespace(bytes[e - 1]) { e -= 1 }
        return s..<e
    }
}
