/// What `drawbridge --version`, `help` and the "did you mean" hints say.
enum CLIHelp {
    /// The release; bumped with each tagged release (docs/OPERATIONS.md).
    static let version = "0.11.0"

    /// Exit statuses, the same for every command (also in README.md).
    static let exitCodes = """
        Exit status: 0 done; 1 could not be done (invalid configuration, a refused change, a file or
        lock that could not be taken, the gateway could not start); 2 the command line is wrong
        (unknown command or option, missing or invalid argument: nothing was changed).
        """

    /// The closest of `candidates` to a mistyped `word`: within an edit distance of 2 (1 for words
    /// of up to 4 characters), or a unique candidate that starts with it. Nil: nothing close.
    static func suggestion(for word: String, among candidates: [String]) -> String? {
        let w = Array(word.lowercased())
        var best: (String, Int)?
        for c in candidates {
            let d = distance(w, Array(c.lowercased()))
            if best == nil || d < best!.1 { best = (c, d) }
        }
        let bare = word.drop { $0 == "-" }
        if let (c, d) = best, d <= (bare.count <= 4 ? 1 : 2) { return c }
        let prefixed = candidates.filter { $0.hasPrefix(word) && !bare.isEmpty }
        return prefixed.count == 1 ? prefixed[0] : nil
    }

    /// " (did you mean 'x'?)" or "".
    static func hint(_ word: String, _ candidates: [String]) -> String {
        suggestion(for: word, among: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    /// Damerau-free Levenshtein distance (insert, delete, substitute), small words only.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var prev = row[0]
            row[0] = i
            for j in 1...b.count {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return row[b.count]
    }
}
