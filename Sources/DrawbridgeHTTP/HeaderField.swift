/// One field line of a head, as offsets into that head's `bytes`.
public struct HeaderField: Sendable, Equatable {
    /// The field name as sent (case preserved).
    public var name: Range<Int>
    /// The field value with optional whitespace trimmed on both sides.
    public var value: Range<Int>
    /// What the field is, so the proxy can filter without string compares.
    public var kind: FieldKind
    /// The name contains `_` (CGI-style upstreams read it as `-`: see `FieldNameSet`).
    public var nameHasUnderscore: Bool

    public init(name: Range<Int>, value: Range<Int>, kind: FieldKind, nameHasUnderscore: Bool = false) {
        self.name = name
        self.value = value
        self.kind = kind
        self.nameHasUnderscore = nameHasUnderscore
    }
}

extension HeaderField {
    /// Value range of the first of `fields` named `lowercaseName` (ASCII case-insensitive).
    static func firstValue(named lowercaseName: StaticString, in fields: [HeaderField], of bytes: [UInt8]) -> Range<Int>? {
        bytes.withUnsafeBytes { b in
            for f in fields where ASCII.equalsCaseInsensitive(b, f.name, lowercaseName) { return f.value }
            return nil
        }
    }
}
