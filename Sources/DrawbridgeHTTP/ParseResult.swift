/// Outcome of one call to a head parser.
public enum ParseResult: Sendable, Equatable {
    /// The head is incomplete and no limit is exceeded yet; call again with more bytes.
    case needMore
    /// The head is parsed; its `headLength` says how many input bytes it used.
    case complete
    /// The message is malformed or too large; the connection must not be used for further messages.
    case error(HTTPError)
}
