import DrawbridgeCrypto
import DrawbridgeDecision
import DrawbridgeIdentity
import DrawbridgeHTTP

/// A request to one of the gateway's own endpoints under `/.drawbridge/`, decoded once (these
/// are rare: sign-in pages, not the proxied hot path, so Strings are fine here).
struct LocalRequest: Sendable {
    var method: String
    /// The normalised path.
    var path: String
    var query: [String: String]
    /// The routing host as an https authority (`HostName` normal form, `:port` unless absent or
    /// 443), for same-origin checks and redirect targets.
    var host: String
    /// The gateway's cookies by exact name (a request carrying one twice never gets here: 400).
    var cookies: [String: String]
    /// JSON accepted, an Authorization field, or a method other than GET and HEAD (`RequestView.isAPIClient`).
    var isAPIClient: Bool
    var origin: String?
    var contentType: String
    var form: [String: String]
    var clientAddress: String
    var requestId: String
}

/// A response the gateway writes itself. The connection adds HSTS, X-Request-Id and framing.
struct LocalResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    /// Where the writer puts the request id (32 hex digits) into `body`; nil: nowhere. A page
    /// built once (the error pages) carries each request's id without being copied.
    var requestIdAt: Int?

    init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], requestIdAt: Int? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.requestIdAt = requestIdAt
    }

    /// Pages: no caching, no framing, no scripts, no referrer to other sites (a callback URL carries a code).
    /// A page with `LoginPages.requestIdSlot` gets the request id there.
    static func html(_ status: Int, _ page: String, headers: [(String, String)] = []) -> LocalResponse {
        var body = Array(page.utf8)
        let at = LoginPages.takeRequestIdSlot(&body)
        return LocalResponse(status: status, headers: [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "no-store"),
            ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self' https:; frame-ancestors 'none'; base-uri 'none'"),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            // Not no-referrer: under it Chromium sends `Origin: null` on the form POST and the CSRF Origin check refuses it.
            ("Referrer-Policy", "same-origin"),
        ] + headers, body: body, requestIdAt: at)
    }

    static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> LocalResponse {
        LocalResponse(status: status, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                                ("X-Content-Type-Options", "nosniff")] + headers,
                      body: Array((text + "\n").utf8))
    }

    /// An error for an API client: `{"error":…,"message":…,"status":…,"request_id":…}`, the id put in by the writer.
    static func jsonError(_ status: Int, _ error: String, message: String? = nil, headers: [(String, String)] = []) -> LocalResponse {
        var r = json(status, "{\"error\":\(JSONString.quote(error)),\(message.map { "\"message\":\(JSONString.quote($0))," } ?? "")"
                        + "\"status\":\(status),\"request_id\":\"\"}", headers: headers)
        r.requestIdAt = r.body.count - 3 // before `"}\n`
        return r
    }

    /// 303 after a POST (the browser follows with GET), 302 otherwise.
    static func redirect(_ location: String, status: Int = 303, headers: [(String, String)] = []) -> LocalResponse {
        LocalResponse(status: status, headers: [("Location", location), ("Cache-Control", "no-store"),
                                                ("Referrer-Policy", "no-referrer")] + headers)
    }
}

/// What handling a local request gives: a response now, or work for a job pool (password
/// hashing, calls to an OIDC issuer) whose response the worker writes when it is done.
enum LocalReply {
    case now(LocalResponse)
    case later(JobKind, @Sendable () -> LocalResponse)

    /// The answer when a job pool's queue is full: at once, never queued.
    static let busy: LocalResponse = {
        var r = LocalResponse.html(503, LoginPages.message("Sign in", "The sign-in service is busy. Try again in a few seconds."))
        r.headers.append(("Retry-After", "5"))
        return r
    }()
}

extension LocalRequest {
    /// The request to a gateway endpoint as its handlers see it, decoded from the view once.
    init(_ view: RequestView, body: [UInt8], clientAddress: String, requestId: String) {
        let head = view.head
        func field(_ name: StaticString) -> String? { head.fieldValue(named: name).map { String(decoding: head.bytes[$0], as: UTF8.self) } }
        // The gateway's own cookies, read with the one cookie parser (duplicates were refused at admission).
        var cookies: [String: String] = [:]
        head.bytes.withUnsafeBytes { raw in
            for f in head.fields where f.kind == .other && ASCII.equalsCaseInsensitive(UnsafeRawBufferPointer(rebasing: raw[f.name]), "cookie") {
                var pairs = CookiePairs(raw, f.value)
                while let p = pairs.next() {
                    guard GatewayCookies.exactIndex(raw, p.name) >= 0 else { continue }
                    cookies[String(decoding: raw[p.name], as: UTF8.self)] = String(decoding: raw[p.value], as: UTF8.self)
                }
            }
        }
        let rawTarget = head.bytes[head.target]
        let query = rawTarget.firstIndex(of: UInt8(ascii: "?")).map { Forms.parse(rawTarget[($0 + 1)...]) } ?? [:]
        let contentType = field("content-type") ?? ""
        let isForm = contentType.lowercased().hasPrefix("application/x-www-form-urlencoded")
        self.init(method: view.methodText, path: view.pathText, query: query, host: view.routingAuthority,
                  cookies: cookies, isAPIClient: view.isAPIClient, origin: field("origin"), contentType: contentType,
                  form: isForm ? Forms.parse(body) : [:], clientAddress: clientAddress, requestId: requestId)
    }
}
