/// The one parser of Cookie field values (RFC 6265 §4.2.1, read as leniently as §5.4 allows):
/// `name=value` pairs separated by `;`, optional whitespace around each pair and around the
/// `=` ignored, empty pairs skipped. A pair without `=` has an empty name and is all value
/// (RFC 6265bis §5.6). Names are not decoded and are case-sensitive; values are taken as they are
/// (quotes included).
///
/// An iterator over offsets into the head's bytes: allocation-free, and a session cookie of a
/// few hundred bytes is skipped sixteen bytes at a time.
public struct CookiePairs: IteratorProtocol {
    public struct Pair {
        /// The whole pair as sent, from the name's first byte to the value's last.
        public var whole: Range<Int>
        public var name: Range<Int>
        public var value: Range<Int>
    }

    private let bytes: UnsafeRawBufferPointer
    private var position: Int
    private let end: Int

    /// The pairs of the field value `bytes[value]`.
    public init(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>) {
        self.bytes = bytes
        position = value.lowerBound
        end = value.upperBound
    }

    public mutating func next() -> Pair? {
        while position < end {
            var start = position
            let stop = Self.semicolon(in: bytes, from: position, to: end)
            position = stop + 1
            var last = stop
            while start < last && ASCII.isWhitespace(bytes[start]) { start += 1 }
            while last > start && ASCII.isWhitespace(bytes[last - 1]) { last -= 1 }
            guard start < last else { continue } // ";;" or trailing ';'
            var equals = start
            while equals < last && bytes[equals] != 0x3D { equals += 1 }
            guard equals < last else { return Pair(whole: start..<last, name: start..<start, value: start..<last) }
            var nameEnd = equals
            while nameEnd > start && ASCII.isWhitespace(bytes[nameEnd - 1]) { nameEnd -= 1 }
            var valueStart = equals + 1
            while valueStart < last && ASCII.isWhitespace(bytes[valueStart]) { valueStart += 1 }
            return Pair(whole: start..<last, name: start..<nameEnd, value: valueStart..<last)
        }
        return nil
    }

    /// Index of the next `;` in `b[from..<to]`, or `to`.
    @inline(__always)
    private static func semicolon(in b: UnsafeRawBufferPointer, from: Int, to: Int) -> Int {
        var i = from
        if let base = b.baseAddress {
            // Sixteen bytes per step (one vector compare): a session cookie is a few hundred bytes.
            let semicolons = SIMD16<UInt8>(repeating: 0x3B)
            while i + 16 <= to {
                let v = base.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
                if any(v .== semicolons) { break }
                i += 16
            }
        }
        while i < to && b[i] != 0x3B { i += 1 }
        return i
    }
}
