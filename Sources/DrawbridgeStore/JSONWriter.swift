import DrawbridgeConfig
import DrawbridgeCrypto

/// Deterministic JSON for the machine-written files: object keys sorted, 2-space indent, one
/// trailing newline. The same data always gives the same bytes, so diffs and backups stay small.
package enum JSONWriter {
    package static func write(_ value: JSONValue) -> String {
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

    /// The project's one JSON string rule (`JSONString`).
    private static func quote(_ s: String, into out: inout String) {
        out += JSONString.quote(s)
    }
}
