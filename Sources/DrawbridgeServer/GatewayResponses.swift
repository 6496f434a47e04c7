/// Status lines and bodies of the responses the gateway writes itself.
enum GatewayResponses {
    static func reason(_ code: Int) -> StaticString {
        switch code {
        case 301: return "Moved Permanently"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 421: return "Misdirected Request"
        case 431: return "Request Header Fields Too Large"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 501: return "Not Implemented"
        case 505: return "HTTP Version Not Supported"
        default: return "Error"
        }
    }

    private static let bodies: [Int: [UInt8]] = {
        var d: [Int: [UInt8]] = [:]
        for c in [308, 400, 404, 408, 413, 414, 421, 431, 501, 502, 503, 504, 505] {
            d[c] = Array("\(c) \(reason(c))\n".utf8)
        }
        return d
    }()

    static func body(_ code: Int) -> [UInt8] { bodies[code] ?? Array("\(code)\n".utf8) }
}
