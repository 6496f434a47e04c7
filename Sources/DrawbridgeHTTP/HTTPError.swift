/// Why a message was rejected; `status` is what the gateway answers.
///
/// For a rejected upstream *response* the gateway answers 502 whatever the case.
public enum HTTPError: Error, Equatable, Sendable {
    /// 400; the String is a short reason for logs, e.g. "Content-Length with Transfer-Encoding".
    case badRequest(String)
    /// 414
    case uriTooLong
    /// 431
    case headersTooLarge
    /// 505
    case versionNotSupported
    /// 501: a method the gateway supports for no resource (TRACE, TRACK); the String is for logs.
    case notImplemented(String)

    /// The status code to answer with.
    public var status: Int {
        switch self {
        case .badRequest: return 400
        case .uriTooLong: return 414
        case .headersTooLarge: return 431
        case .versionNotSupported: return 505
        case .notImplemented: return 501
        }
    }

    /// Short human text: the standard reason phrase of `status`.
    public var reason: String {
        switch self {
        case .badRequest: return "Bad Request"
        case .uriTooLong: return "URI Too Long"
        case .headersTooLarge: return "Request Header Fields Too Large"
        case .versionNotSupported: return "HTTP Version Not Supported"
        case .notImplemented: return "Not Implemented"
        }
    }

    /// Detail for logs: the `.badRequest` or `.notImplemented` reason, else `reason`.
    public var detail: String {
        switch self {
        case .badRequest(let why), .notImplemented(let why): return why
        default: return reason
        }
    }
}
