import Foundation

/// A generic JSON value, decoded with Foundation's `JSONDecoder` (`allowsJSON5 = true`).
/// The config is decoded into this first and then validated field by field, so that
/// unknown keys, wrong types and bad values can all be reported in one pass with their paths.
package indirect enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    package init(from decoder: Decoder) throws {
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            var members: [String: JSONValue] = [:]
            for key in object.allKeys {
                members[key.stringValue] = try object.decode(JSONValue.self, forKey: key)
            }
            self = .object(members)
            return
        }
        if var array = try? decoder.unkeyedContainer() {
            var elements: [JSONValue] = []
            while !array.isAtEnd {
                elements.append(try array.decode(JSONValue.self))
            }
            self = .array(elements)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
        } else if let value = try? single.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? single.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? single.decode(Double.self) {
            self = .double(value)
        } else {
            self = .string(try single.decode(String.self))
        }
    }

    /// "an object", "a string", ... for error messages.
    package var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return "a boolean (\(b))"
        case .int(let i): return "an integer (\(i))"
        case .double(let d): return "a number (\(d))"
        case .string(let s): return "a string (\"\(s)\")"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

package enum JSON5 {
    /// Decodes `text` with `JSONDecoder` (JSON5 mode). On a syntax error the issue names the line and column
    /// (located by `JSON5Checker`, because Foundation's error carries no position). Duplicate keys are
    /// reported too (Foundation silently keeps one of them).
    package static func decode(_ text: String, issues: IssueCollector) -> JSONValue? {
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        let value: JSONValue
        do {
            value = try decoder.decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            var checker = JSON5Checker(text)
            checker.check()
            if let syntax = checker.syntaxError {
                issues.add("line \(syntax.line)", "JSON5 syntax error at column \(syntax.column): \(syntax.message)")
            } else {
                issues.add("", "JSON5 syntax error: \(describe(error))")
            }
            return nil
        }
        var checker = JSON5Checker(text)
        checker.check()
        for duplicate in checker.duplicateKeys {
            issues.add(duplicate.path, "duplicate key (line \(duplicate.line))")
        }
        return checker.duplicateKeys.isEmpty ? value : nil
    }

    private static func describe(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            if let underlying = context.underlyingError {
                let info = (underlying as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
                return info ?? "\(underlying)"
            }
            return context.debugDescription
        }
        return "\(error)"
    }
}

/// A small JSON5 syntax checker (https://spec.json5.org): finds the line and column of the first
/// syntax error, and duplicate object keys with their paths. It builds no values.
struct JSON5Checker {
    struct SyntaxError { var line: Int; var column: Int; var message: String }
    struct DuplicateKey { var path: String; var line: Int }

    private let bytes: [UInt8]
    private var pos = 0
    private var line = 1
    private var lineStart = 0
    private(set) var syntaxError: SyntaxError?
    private(set) var duplicateKeys: [DuplicateKey] = []

    init(_ text: String) {
        bytes = Array(text.utf8)
    }

    private struct Failure: Error {}

    mutating func check() {
        do {
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { pos = 3 }
            try skipTrivia()
            guard pos < bytes.count else { throw fail("the document is empty") }
            try value(path: "")
            try skipTrivia()
            if pos < bytes.count { throw fail("unexpected \(describeHere()) after the end of the document") }
        } catch {
            // syntaxError is set by fail()
        }
    }

    // MARK: - Errors

    private mutating func fail(_ message: String) -> Failure {
        if syntaxError == nil {
            // Column in characters: count UTF-8 lead bytes since the line start.
            var column = 1
            var i = lineStart
            while i < pos && i < bytes.count {
                if bytes[i] & 0xC0 != 0x80 { column += 1 }
                i += 1
            }
            syntaxError = SyntaxError(line: line, column: column, message: message)
        }
        return Failure()
    }

    private func describeHere() -> String {
        guard pos < bytes.count else { return "end of file" }
        let b = bytes[pos]
        if isIdentifierStart(b) && b < 0x80 {
            var end = pos
            while end < bytes.count && end - pos < 40 && isIdentifierPart(bytes[end]) { end += 1 }
            return "'\(String(decoding: bytes[pos..<end], as: UTF8.self))'"
        }
        if b >= 0x21 && b < 0x7F { return "'\(Character(UnicodeScalar(b)))'" }
        if b == 0x0A || b == 0x0D { return "end of line" }
        var end = pos + 1
        while end < bytes.count && bytes[end] & 0xC0 == 0x80 { end += 1 }
        let text = String(decoding: bytes[pos..<end], as: UTF8.self)
        return "character \(text.debugDescription)"
    }

    // MARK: - Trivia

    private mutating func newline(at index: Int) {
        line += 1
        lineStart = index + 1
    }

    /// Length of a line terminator at `i` (LF, CR, CRLF, U+2028, U+2029), or 0.
    private func lineTerminatorLength(at i: Int) -> Int {
        guard i < bytes.count else { return 0 }
        switch bytes[i] {
        case 0x0A: return 1
        case 0x0D: return (i + 1 < bytes.count && bytes[i + 1] == 0x0A) ? 2 : 1
        case 0xE2 where i + 2 < bytes.count && bytes[i + 1] == 0x80 && (bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9):
            return 3
        default: return 0
        }
    }

    /// Length of a non-newline white space character at `i`, or 0.
    private func whitespaceLength(at i: Int) -> Int {
        guard i < bytes.count else { return 0 }
        switch bytes[i] {
        case 0x20, 0x09, 0x0B, 0x0C: return 1
        case 0xC2 where i + 1 < bytes.count && bytes[i + 1] == 0xA0: return 2            // NBSP
        case 0xEF where i + 2 < bytes.count && bytes[i + 1] == 0xBB && bytes[i + 2] == 0xBF: return 3  // BOM
        default: return 0
        }
    }

    private mutating func skipTrivia() throws {
        while pos < bytes.count {
            let nl = lineTerminatorLength(at: pos)
            if nl > 0 {
                pos += nl
                newline(at: pos - 1)
                continue
            }
            let ws = whitespaceLength(at: pos)
            if ws > 0 {
                pos += ws
                continue
            }
            if bytes[pos] == UInt8(ascii: "/"), pos + 1 < bytes.count {
                if bytes[pos + 1] == UInt8(ascii: "/") {
                    pos += 2
                    while pos < bytes.count && lineTerminatorLength(at: pos) == 0 { pos += 1 }
                    continue
                }
                if bytes[pos + 1] == UInt8(ascii: "*") {
                    let (startPos, startLine, startLineStart) = (pos, line, lineStart)
                    pos += 2
                    var closed = false
                    while pos < bytes.count {
                        if bytes[pos] == UInt8(ascii: "*"), pos + 1 < bytes.count, bytes[pos + 1] == UInt8(ascii: "/") {
                            pos += 2
                            closed = true
                            break
                        }
                        let nl = lineTerminatorLength(at: pos)
                        if nl > 0 {
                            pos += nl
                            newline(at: pos - 1)
                        } else {
                            pos += 1
                        }
                    }
                    if !closed {
                        (pos, line, lineStart) = (startPos, startLine, startLineStart)
                        throw fail("unterminated /* comment")
                    }
                    continue
                }
            }
            return
        }
    }

    // MARK: - Values

    private mutating func value(path: String) throws {
        guard pos < bytes.count else { throw fail("unexpected end of file, expected a value") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): try object(path: path)
        case UInt8(ascii: "["): try array(path: path)
        case UInt8(ascii: "\""), UInt8(ascii: "'"): try string()
        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try number()
        default:
            if isIdentifierStart(bytes[pos]) {
                let start = pos
                while pos < bytes.count && isIdentifierPart(bytes[pos]) { pos += 1 }
                let word = String(decoding: bytes[start..<pos], as: UTF8.self)
                switch word {
                case "true", "false", "null", "Infinity", "NaN": return
                default:
                    pos = start
                    throw fail("unquoted string \(word.debugDescription) (string values must be in quotes)")
                }
            }
            throw fail("unexpected \(describeHere()), expected a value")
        }
    }

    private mutating func object(path: String) throws {
        pos += 1  // {
        var seen = Set<String>()
        while true {
            try skipTrivia()
            guard pos < bytes.count else { throw fail("unexpected end of file, expected '}'") }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return }
            let keyLine = line
            let key = try memberName()
            let memberPath = path.isEmpty ? key : "\(path).\(key)"
            if !seen.insert(key).inserted {
                duplicateKeys.append(DuplicateKey(path: memberPath, line: keyLine))
            }
            try skipTrivia()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else {
                throw fail("expected ':' after key \(key.debugDescription), found \(describeHere())")
            }
            pos += 1
            try skipTrivia()
            try value(path: memberPath)
            try skipTrivia()
            guard pos < bytes.count else { throw fail("unexpected end of file, expected ',' or '}'") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return }
            throw fail("expected ',' or '}' after the value of \(key.debugDescription), found \(describeHere())")
        }
    }

    private mutating func array(path: String) throws {
        pos += 1  // [
        var index = 0
        while true {
            try skipTrivia()
            guard pos < bytes.count else { throw fail("unexpected end of file, expected ']'") }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return }
            try value(path: "\(path)[\(index)]")
            index += 1
            try skipTrivia()
            guard pos < bytes.count else { throw fail("unexpected end of file, expected ',' or ']'") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return }
            throw fail("expected ',' or ']' after an array element, found \(describeHere())")
        }
    }

    private mutating func memberName() throws -> String {
        let b = bytes[pos]
        if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
            return try string()
        }
        guard isIdentifierStart(b) else {
            throw fail("unexpected \(describeHere()), expected a key or '}'")
        }
        let start = pos
        while pos < bytes.count && isIdentifierPart(bytes[pos]) { pos += 1 }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    private func isIdentifierStart(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || b == UInt8(ascii: "_") || b == UInt8(ascii: "$")
            || b >= 0x80
    }

    private func isIdentifierPart(_ b: UInt8) -> Bool {
        isIdentifierStart(b) || (b >= 0x30 && b <= 0x39)
    }

    private func isHex(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46)
    }

    /// Consumes a quoted string; returns its raw content (escapes not decoded beyond what keys need).
    @discardableResult
    private mutating func string() throws -> String {
        let quote = bytes[pos]
        let startLine = line
        pos += 1
        var content: [UInt8] = []
        while true {
            guard pos < bytes.count else { throw fail("unterminated string (opened on line \(startLine))") }
            let b = bytes[pos]
            if b == quote { pos += 1; break }
            if b == 0x0A || b == 0x0D {
                throw fail("line break inside a string (use \\n, or end the line with a backslash)")
            }
            if b == UInt8(ascii: "\\") {
                pos += 1
                guard pos < bytes.count else { throw fail("unterminated string (opened on line \(startLine))") }
                let nl = lineTerminatorLength(at: pos)
                if nl > 0 {
                    pos += nl
                    newline(at: pos - 1)
                    continue
                }
                let e = bytes[pos]
                switch e {
                case UInt8(ascii: "x"):
                    guard pos + 2 < bytes.count, isHex(bytes[pos + 1]), isHex(bytes[pos + 2]) else {
                        throw fail("invalid \\x escape (expected two hex digits)")
                    }
                    pos += 3
                case UInt8(ascii: "u"):
                    guard pos + 4 < bytes.count, (1...4).allSatisfy({ isHex(bytes[pos + $0]) }) else {
                        throw fail("invalid \\u escape (expected four hex digits)")
                    }
                    pos += 5
                case UInt8(ascii: "1")...UInt8(ascii: "9"):
                    throw fail("invalid escape \\\(Character(UnicodeScalar(e))) in a string")
                case UInt8(ascii: "0") where pos + 1 < bytes.count && bytes[pos + 1] >= 0x30 && bytes[pos + 1] <= 0x39:
                    throw fail("invalid escape \\0 followed by a digit in a string")
                default:
                    content.append(b)
                    content.append(e)
                    pos += 1
                }
                continue
            }
            content.append(b)
            pos += 1
        }
        return String(decoding: content, as: UTF8.self)
    }

    private mutating func number() throws {
        if bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < bytes.count else { throw fail("unexpected end of file in a number") }
        if isIdentifierStart(bytes[pos]) {
            let start = pos
            while pos < bytes.count && isIdentifierPart(bytes[pos]) { pos += 1 }
            let word = String(decoding: bytes[start..<pos], as: UTF8.self)
            if word == "Infinity" || word == "NaN" { return }
            pos = start
            throw fail("invalid number")
        }
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        if bytes[pos] == UInt8(ascii: "0"), pos + 1 < bytes.count,
           bytes[pos + 1] == UInt8(ascii: "x") || bytes[pos + 1] == UInt8(ascii: "X") {
            pos += 2
            let start = pos
            while pos < bytes.count && isHex(bytes[pos]) { pos += 1 }
            if pos == start { throw fail("invalid hexadecimal number (no digits after 0x)") }
        } else {
            var intDigits = 0
            let intStart = pos
            while pos < bytes.count && isDigit(bytes[pos]) { pos += 1; intDigits += 1 }
            if intDigits > 1 && bytes[intStart] == UInt8(ascii: "0") {
                pos = intStart
                throw fail("numbers must not have leading zeros")
            }
            var fracDigits = 0
            if pos < bytes.count && bytes[pos] == UInt8(ascii: ".") {
                pos += 1
                while pos < bytes.count && isDigit(bytes[pos]) { pos += 1; fracDigits += 1 }
            }
            if intDigits == 0 && fracDigits == 0 { throw fail("invalid number") }
            if pos < bytes.count && (bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E")) {
                pos += 1
                if pos < bytes.count && (bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-")) { pos += 1 }
                let start = pos
                while pos < bytes.count && isDigit(bytes[pos]) { pos += 1 }
                if pos == start { throw fail("invalid number (no digits in the exponent)") }
            }
        }
        if pos < bytes.count && (isIdentifierPart(bytes[pos]) || bytes[pos] == UInt8(ascii: ".")) {
            throw fail("unexpected \(describeHere()) in a number")
        }
    }
}
