/// Reads typed fields out of one JSON object, reporting wrong types, bad ranges and unknown keys
/// (with a "did you mean" suggestion) to an `IssueCollector`. On a problem the getters return
/// the default so that validation can carry on and report everything in one pass.
package struct ObjectReader {
    package let members: [String: JSONValue]
    package let path: String
    package let issues: IssueCollector

    /// Returns nil (after reporting) when `value` is not an object. `known` lists the allowed keys.
    package init?(_ value: JSONValue, path: String, known: [String], issues: IssueCollector) {
        guard case .object(let members) = value else {
            issues.add(path, "expected an object, got \(value.kindDescription)")
            return nil
        }
        self.members = members
        self.path = path
        self.issues = issues
        for key in members.keys.sorted() where !known.contains(key) {
            var message = "unknown key"
            if let suggestion = ObjectReader.suggestion(for: key, among: known) {
                message += " (did you mean \(suggestion)?)"
            } else {
                message += " (known keys: \(known.joined(separator: ", ")))"
            }
            issues.add(join(path, key), message)
        }
    }

    package func fieldPath(_ key: String) -> String { join(path, key) }

    /// The value of `key`, or nil when absent or `null`.
    package func value(_ key: String) -> JSONValue? {
        guard let value = members[key], value != .null else { return nil }
        return value
    }

    package func required(_ key: String) -> JSONValue? {
        guard let value = value(key) else {
            issues.add(fieldPath(key), "missing required key")
            return nil
        }
        return value
    }

    package func bool(_ key: String, default defaultValue: Bool) -> Bool {
        guard let value = value(key) else { return defaultValue }
        guard case .bool(let b) = value else {
            issues.add(fieldPath(key), "expected a boolean (true or false), got \(value.kindDescription)")
            return defaultValue
        }
        return b
    }

    package func int(_ key: String, default defaultValue: Int, range: ClosedRange<Int>) -> Int {
        Int(int64(key, default: Int64(defaultValue), range: Int64(range.lowerBound)...Int64(range.upperBound)))
    }

    package func int64(_ key: String, default defaultValue: Int64, range: ClosedRange<Int64>) -> Int64 {
        guard let value = value(key) else { return defaultValue }
        guard case .int(let i) = value else {
            issues.add(fieldPath(key), "expected an integer, got \(value.kindDescription)")
            return defaultValue
        }
        guard range.contains(i) else {
            issues.add(fieldPath(key), "out of range: \(i) (allowed: \(ObjectReader.describe(range)))")
            return defaultValue
        }
        return i
    }

    /// A string that must name one of `choices` (`name` gives each one's spelling): the choice, or
    /// `defaultValue` when absent or unknown (reported as "unknown WHAT "x" (allowed: "a", "b")").
    package func choice<T>(_ key: String, _ choices: [T], name: (T) -> String, what: String, default defaultValue: T) -> T {
        guard let text = string(key) else { return defaultValue }
        if let found = choices.first(where: { name($0) == text }) { return found }
        issues.add(fieldPath(key), "unknown \(what) \"\(text)\" (allowed: \(choices.map { "\"\(name($0))\"" }.joined(separator: ", ")))")
        return defaultValue
    }

    /// A number of seconds: > 0 and <= `maximum`.
    package func seconds(_ key: String, default defaultValue: Double, maximum: Double = 86400) -> Double {
        guard let value = value(key) else { return defaultValue }
        let d: Double
        switch value {
        case .int(let i): d = Double(i)
        case .double(let x): d = x
        default:
            issues.add(fieldPath(key), "expected a number of seconds, got \(value.kindDescription)")
            return defaultValue
        }
        guard d.isFinite, d > 0, d <= maximum else {
            issues.add(fieldPath(key), "out of range: \(d) (must be > 0 and <= \(Int(maximum)) seconds)")
            return defaultValue
        }
        return d
    }

    /// A string value; nil when absent (or wrong type, reported).
    package func string(_ key: String) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let s) = value else {
            issues.add(fieldPath(key), "expected a string, got \(value.kindDescription)")
            return nil
        }
        return s
    }

    package func requiredString(_ key: String) -> String? {
        guard let value = required(key) else { return nil }
        guard case .string(let s) = value else {
            issues.add(fieldPath(key), "expected a string, got \(value.kindDescription)")
            return nil
        }
        return s
    }

    /// A string or an array of strings, as (path of each element, element). nil when absent.
    package func stringList(_ key: String) -> [(path: String, value: String)]? {
        guard let value = value(key) else { return nil }
        switch value {
        case .string(let s):
            return [(fieldPath(key), s)]
        case .array(let elements):
            var result: [(path: String, value: String)] = []
            for (index, element) in elements.enumerated() {
                let elementPath = "\(fieldPath(key))[\(index)]"
                if case .string(let s) = element {
                    result.append((elementPath, s))
                } else {
                    issues.add(elementPath, "expected a string, got \(element.kindDescription)")
                }
            }
            return result
        default:
            issues.add(fieldPath(key), "expected a string or an array of strings, got \(value.kindDescription)")
            return nil
        }
    }

    // MARK: - Helpers

    static func describe(_ range: ClosedRange<Int64>) -> String {
        range.upperBound == Int64.max ? ">= \(range.lowerBound)" : "\(range.lowerBound)...\(range.upperBound)"
    }

    /// The closest known key within edit distance 2 (or equal ignoring case).
    static func suggestion(for key: String, among known: [String]) -> String? {
        var best: (key: String, distance: Int)?
        for candidate in known {
            let distance = candidate.lowercased() == key.lowercased() ? 0 : editDistance(key, candidate)
            if distance <= 2 && distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.key
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased().unicodeScalars), b = Array(b.lowercased().unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// `a.b`, or `b` when `a` is empty.
package func join(_ path: String, _ key: String) -> String {
    path.isEmpty ? key : "\(path).\(key)"
}
