/// Parses the field lines of a head already delimited by `HeadScanner` (RFC 9112 §5).
enum FieldLines {
    /// Parses lines from `start` up to the empty line that ends `b` into `fields`.
    static func parse(_ b: UnsafeRawBufferPointer, from start: Int, into fields: inout [HeaderField],
                      limits: HTTPLimits) -> HTTPError? {
        var ls = start
        while b[ls] != ASCII.cr {
            let le = ASCII.indexOfCR(b, from: ls) // the scanner guarantees a CR before the final one
            if let e = parseLine(b, ls..<le, into: &fields) { return e }
            if fields.count > limits.maxHeaderCount { return .headersTooLarge }
            ls = le + 2
        }
        return nil
    }

    private static func parseLine(_ b: UnsafeRawBufferPointer, _ line: Range<Int>,
                                  into fields: inout [HeaderField]) -> HTTPError? {
        let ls = line.lowerBound, le = line.upperBound
        // reject obs-fold: continuation lines are joined differently by different parsers (smuggling)
        if ASCII.isWhitespace(b[ls]) { return .badRequest("obs-fold line folding") }
        var i = ls
        var underscore = false
        while i < le {
            let c = b[i]
            if ASCII.isAlpha(c) || ASCII.isDigit(c) { i += 1; continue } // most name bytes: one test
            guard ASCII.isTchar(c) else { break }
            if c == 0x5F { underscore = true }
            i += 1
        }
        guard i < le else { return .badRequest("field line without colon") }
        if b[i] != ASCII.colon {
            // reject "Name :": some servers strip the space, others keep it (request smuggling)
            if ASCII.isWhitespace(b[i]) { return .badRequest("whitespace before colon") }
            return .badRequest("invalid character in field name")
        }
        guard i > ls else { return .badRequest("empty field name") }
        let name = ls..<i
        var vs = i + 1
        while vs < le && ASCII.isWhitespace(b[vs]) { vs += 1 }
        var ve = le
        while ve > vs && ASCII.isWhitespace(b[ve - 1]) { ve -= 1 }
        var j = vs
        // Eight bytes at a time while none is a control byte or DEL (a tab drops to the exact loop).
        if let base = b.baseAddress {
            while j + 8 <= ve {
                let w = base.loadUnaligned(fromByteOffset: j, as: UInt64.self)
                if ASCII.hasByteBelow(w, 0x20) || ASCII.hasByteBelow(w ^ 0x7F7F_7F7F_7F7F_7F7F, 1) { break }
                j += 8
            }
        }
        while j < ve {
            // reject control bytes in values: header injection / parser disagreement
            guard ASCII.isFieldValueByte(b[j]) else { return .badRequest("invalid character in field value") }
            j += 1
        }
        let kind = FieldKind.classify(UnsafeRawBufferPointer(rebasing: b[name]))
        fields.append(HeaderField(name: name, value: vs..<ve, kind: kind, nameHasUnderscore: underscore))
        return nil
    }
}
