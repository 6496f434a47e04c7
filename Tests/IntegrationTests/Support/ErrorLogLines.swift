import Foundation

/// The error log's JSON lines in `text` (a gateway's stderr or its errorLog file), decoded;
/// lines that are not JSON objects (text written before the error log opened) are skipped.
func errorLogLines(_ text: String, event: String? = nil) -> [[String: Any]] {
    text.split(separator: "\n").compactMap { line -> [String: Any]? in
        guard line.hasPrefix("{"), let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        return event == nil || o["event"] as? String == event ? o : nil
    }
}

/// What the gateway said, as text: the messages of its JSON error log lines and its other lines
/// as they are, one per line (for tests that look for a sentence with quotes in it).
func errorLogText(_ text: String) -> String {
    text.split(separator: "\n").map { line in
        if line.hasPrefix("{"), let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
           let m = o["message"] as? String { return m }
        return String(line)
    }.joined(separator: "\n")
}

/// Waits until the error log in `source` has at least `count` lines of `event`; returns them.
@discardableResult
func waitForErrorLog(_ event: String, count: Int = 1, in source: () -> String) throws -> [[String: Any]] {
    var lines: [[String: Any]] = []
    try poll("\(count) error log line(s) of event \(event): \(source().suffix(2000))") {
        lines = errorLogLines(source(), event: event)
        return lines.count >= count
    }
    return lines
}
