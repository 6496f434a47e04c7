import DrawbridgeConfig

/// Deterministic JSON for the machine-written files: object keys sorted, 2-space indent, one
/// trailing newline. The same data always gives the same bytes, so diffs and backups stay small.
enum JSONWriter {
    static func write(_ value: JSONValue) -> String {
        var out = ""
        emit(value, indent: "", into: &out)
        out += "\n"
        return out
    }

    private static func emit(_ value: JSONValue, indent: String, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += d.isFinite ? "\(d)" : "null"
        case .string(let s): quote(s, into: &out)
        case .array(let elements):
            guard !elements.isEmpty else { out += "[]"; return }
            let inner = indent + "  "
            out += "[\n"
            for (i, element) in elements.enumerated() {
                out += inner
                emit(element, indent: inner, into: &out)
                out += i == elements.count - 1 ? "\n" : ",\n"
            }
            out += indent + "]"
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            let inner = indent + "  "
            let keys = members.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            out += "{\n"
            for (i, key) in keys.enumerated() {
                out += inner
                quote(key, into: &out)
                out += ": "
                emit(members[key]!, indent: inner, into: &out)
                out += i == keys.count - 1 ? "\n" : ",\n"
            }
            out += indent + "}"
        }
    }

    private static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
