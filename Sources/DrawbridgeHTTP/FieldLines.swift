/// Parses the field lines of a head already delimited by `HeadScanner` (RFC 9112 §5).
enum FieldLines {
    /// Parses lines from `start` up to the empty line that ends `b` into `fields`.
    static func parse(_ b: UnsafeRawBufferPointer, from start: Int, into fields: inout [HeaderField],
                      limits: HTTPLimits) -> HTTPError? {
        var ls = start
        while b[ls] != ASCII.cr {
            // parseLine finds the line's CR while it checks the value (the scanner put one before the final CRLF).
            switch parseLine(b, from: ls, into: &fields) {
            case .failure(let e): return e
            case .success(let le): ls = le + 2
            }
            if fields.count > limits.maxHeaderCount { return .headersTooLarge }
        }
        return nil
    }

    /// The field line starting at `ls`; the offset of its CR.
    private static func parseLine(_ b: UnsafeRawBufferPointer, from ls: Int,
                                  into fields: inout [HeaderField]) -> Result<Int, HTTPError> {
        // reject obs-fold: continuation lines are joined differently by different parsers (smuggling)
        if ASCII.isWhitespace(b[ls]) { return .failure(.badRequest("obs-fold line folding")) }
        var i = ls
        var underscore = false
        while i < b.count {
            let c = b[i]
            if ASCII.isAlpha(c) || ASCII.isDigit(c) { i += 1; continue } // most name bytes: one test
            guard ASCII.isTchar(c) else { break }
            if c == 0x5F { underscore = true }
            i += 1
        }
        guard i < b.count, b[i] != ASCII.cr else { return .failure(.badRequest("field line without colon")) }
        if b[i] != ASCII.colon {
            // reject "Name :": some servers strip the space, others keep it (request smuggling)
            if ASCII.isWhitespace(b[i]) { return .failure(.badRequest("whitespace before colon")) }
            return .failure(.badRequest("invalid character in field name"))
        }
        guard i > ls else { return .failure(.badRequest("empty field name")) }
        let name = ls..<i
        var vs = i + 1
        while vs < b.count && ASCII.isWhitespace(b[vs]) { vs += 1 }
        // The value runs to the line's CR; every byte before it must be a field-value byte.
        var le = vs
        while true {
            // Eight bytes at a time while none is a control byte or DEL (a tab or the CR drops to the exact test).
            if let base = b.baseAddress {
                while le + 8 <= b.count {
                    let w = base.loadUnaligned(fromByteOffset: le, as: UInt64.self)
                    if ASCII.hasByteBelow(w, 0x20) || ASCII.hasByteBelow(w ^ 0x7F7F_7F7F_7F7F_7F7F, 1) { break }
                    le += 8
                }
            }
            guard le < b.count else { return .failure(.badRequest("field line without end")) } // not reached: the head ends in CRLF
            let c = b[le]
            if c == ASCII.cr { break }
            // reject control bytes in values: header injection / parser disagreement
            guard ASCII.isFieldValueByte(c) else { return .failure(.badRequest("invalid character in field value")) }
            le += 1
        }
        var ve = le
        while ve > vs && ASCII.isWhitespace(b[ve - 1]) { ve -= 1 }
        let kind = FieldKind.classify(UnsafeRawBufferPointer(rebasing: b[name]))
        fields.append(HeaderField(name: name, value: vs..<ve, kind: kind, nameHasUnderscore: underscore))
        return .success(le)
    }
}
