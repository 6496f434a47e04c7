/// The connection options of a head's Connection fields (RFC 9110 §7.6.1).
struct ConnectionOptions {
    var close = false
    var keepAlive = false
    var upgrade = false

    /// Reads every Connection field and marks the fields it names as `.namedInConnection`.
    static func read(_ b: UnsafeRawBufferPointer, _ fields: inout [HeaderField]) -> Result<ConnectionOptions, HTTPError> {
        var options = ConnectionOptions()
        for c in fields.indices where fields[c].kind == .connection {
            for option in ListElements(b, fields[c].value) where !option.isEmpty {
                guard ASCII.isToken(b, option) else { return .failure(.badRequest("invalid Connection option")) }
                if ASCII.equalsCaseInsensitive(b, option, "close") { options.close = true }
                else if ASCII.equalsCaseInsensitive(b, option, "keep-alive") { options.keepAlive = true }
                else if ASCII.equalsCaseInsensitive(b, option, "upgrade") { options.upgrade = true }
                for i in fields.indices {
                    switch fields[i].kind {
                    // keep framing fields' kind: "Connection: content-length" must not make the proxy drop framing (smuggling)
                    case .host, .contentLength, .transferEncoding, .connection, .namedInConnection: continue
                    default:
                        if ASCII.equalsCaseInsensitive(b, fields[i].name, option) { fields[i].kind = .namedInConnection }
                    }
                }
            }
        }
        return .success(options)
    }
}
